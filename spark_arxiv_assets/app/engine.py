"""Answers with citations from the latest materialized index and adapter; reloads them when a
newer version is published (the IO managers' CURRENT pointers change). Evidence first: the student
picks the sentence of the passages that the question is about, answers from it, and the reader gets
the answer, that sentence quoted word for word, and its PDF page with the words highlighted.

One request at a time holds the model, from its reload check to the end of its generation
thread: a request whose client went away, or whose generation failed, stops that thread and
frees the model before the next one starts, so the next answer runs with the adapter state its
status line names."""
from __future__ import annotations

import base64
import queue
import re
import threading
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

from ..core.causal_lm import choose_placement, load_student
from ..core.citations import without_citations
from ..core.defaults import ANSWER_MAX_NEW_TOKENS
from ..core.embedding_model import embedding_function
from ..core.evidence import Quote, choose_quotes, evidence_messages
from ..core.followups import in_context
from ..core.generation import answer_loop_guard, lora_merged
from ..core.highlight import locate_quote, render_highlighted
from ..core.retrieval import Hit, Retriever
from ..settings import storage_uri
from ..storage.adapter_store import served_adapter, served_adapter_version, served_decision
from ..storage.atomic import VersionedDir
from ..storage.index_store import index_root, load_latest_index
from ..storage.page_store import page_files_root, read_figure, read_pdf


def arxiv_link(paper_id: str) -> str | None:
    from ..core.arxiv_ids import InvalidArxivId, parse_arxiv_id

    try:
        return f"https://arxiv.org/abs/{parse_arxiv_id(paper_id).base}"
    except InvalidArxivId:
        return None  # a local PDF, not an arXiv paper


def latest_retriever(device: str = "cpu", base_uri: str | None = None, **retriever_options) -> Retriever:
    """A Retriever over the latest materialized index under `base_uri` (default: the configured
    storage), with the model it was built with; `retriever_options` go to `Retriever`."""
    base_uri = base_uri or storage_uri()
    index = load_latest_index(base_uri)
    if index is None:
        raise FileNotFoundError(f"no chunk_index under {index_root(base_uri)}: run `make demo` "
                                "(or materialize chunk_index) first")
    return Retriever(index, embedding_function(index.manifest["embedding_model"], device), **retriever_options)


def _pages(hit: Hit) -> str:
    return f"p. {hit.page_start}" if hit.page_start == hit.page_end else f"pp. {hit.page_start}–{hit.page_end}"


@dataclass(frozen=True)
class Evidence:
    """A quote placed on its PDF page: the page and its rendering with the quoted words highlighted;
    or, where it could not be placed, why (`png` None)."""

    quote: Quote
    hit: Hit
    page: int | None = None
    png: bytes | None = None
    note: str = ""

    @property
    def where(self) -> str:
        return f"p. {self.page}" if self.page else _pages(self.hit)


def quoted_answer(answer: str, evidence: Evidence | None) -> str:
    """The answer a reader sees: the short answer citing its quote, then the quote word for word."""
    if evidence is None:
        return answer
    quote, number = evidence.quote, evidence.quote.passage
    said = answer.strip() if re.search(r"\w", without_citations(answer)) else "The passage says:"
    source = f"— [{number}] {evidence.hit.title}, {evidence.where}"
    if quote.header:  # a table row, under its header row, as a table
        rule = "|" + "---|" * max(1, quote.header.count("|") - 1)
        return f"{said} [{number}]\n\n{quote.header}\n{rule}\n{quote.text}\n\n{source}"
    return f"{said} [{number}]\n\n> “{quote.text}”\n>\n> {source}"


def format_evidence(evidence: Evidence | None) -> str:
    """The quote's page with the quoted words highlighted, or why it is not shown."""
    if evidence is None:
        return ""
    head = f"**Evidence: [{evidence.quote.passage}] {evidence.hit.paper_id}, {evidence.where}**"
    if evidence.png is None:
        return f"{head}\n\n_{evidence.note}_"
    image = base64.b64encode(evidence.png).decode()
    return f'{head}\n\n<img src="data:image/png;base64,{image}" alt="the quote highlighted on {evidence.where}" ' \
           f'class="evidence-page" width="520"/>'


def format_sources(hits: list[Hit], excerpt_chars: int = 400,
                   figure_png: Callable[[Hit], bytes | None] = lambda hit: None,
                   evidence: Evidence | None = None) -> str:
    """The evidence's highlighted page first; then one block per passage: citation number, paper,
    section and pages, the clean passage (a table stays a Markdown table), and for a figure's caption
    the figure's thumbnail."""
    if not hits:
        return "_No passages found._"
    blocks = [format_evidence(evidence)] if evidence is not None else []
    for number, hit in enumerate(hits, start=1):
        pages = _pages(hit)
        link = arxiv_link(hit.paper_id)
        ident = f"[arXiv:{hit.paper_id}]({link})" if link else hit.paper_id
        where = f"{ident}, {hit.section + ', ' if hit.section else ''}{pages}"
        excerpt = hit.text[:excerpt_chars] + ("…" if len(hit.text) > excerpt_chars else "")
        # a table whole (a chunk holds whole rows; cut, it would not render), other passages quoted
        body = hit.text if hit.chunk_type == "table" else "> " + excerpt.replace("\n", "\n> ")
        png = figure_png(hit) if hit.figure_ref else None
        if png:
            body = f'<img src="data:image/png;base64,{base64.b64encode(png).decode()}" alt="figure of [{number}]" ' \
                   f'class="figure-thumbnail" width="240"/>\n\n{body}'
        blocks.append(f"**[{number}] {hit.title}**  \n{where}\n\n{body}")
    return "\n\n".join(blocks)


def citation_line(hits: list[Hit]) -> str:
    return "Sources: " + "; ".join(f"[{i}] {h.citation()}" for i, h in enumerate(hits, start=1))


@dataclass
class Versions:
    index: str | None
    adapter: str | None


class AnswerFailed(RuntimeError):
    """Generation raised, stalled, or the model stayed busy too long; the request ends with this."""


@dataclass(frozen=True)
class AnswerStart:
    """What a request is answered from, fixed under the model lock before generation starts."""

    hits: list[Hit]
    quote: Quote | None  # the evidence the answer is written from (None: from the whole passages)
    answered_by: str  # the status line's claim, true for this generation
    status: str
    read_as: str  # the question as retrieval and the student read it (after the previous one, for a follow-up)


class ChatEngine:
    TOKEN_TIMEOUT_S = 120.0  # the longest wait for the next token before a generation counts as stalled
    BUSY_TIMEOUT_S = 300.0  # the longest wait for the model before a request is refused

    def __init__(self, base_model: str | None = None, device: str = "auto", max_new_tokens: int = ANSWER_MAX_NEW_TOKENS,
                 base_uri: str | None = None) -> None:
        self.base_model_override, self.device, self.max_new_tokens = base_model, device, max_new_tokens
        self.base_uri = base_uri or storage_uri()  # where the IO managers publish the index and adapter
        self._lock = threading.Lock()
        self.versions = Versions(None, None)
        self.retriever: Retriever | None = None
        self.model = self.tokenizer = None
        self.has_adapter = False
        self.promotion: dict | None = None  # the last promotion decision, shown in the status line
        self.reload_note = ""
        self.refresh()

    def _current_versions(self) -> Versions:
        return Versions(VersionedDir(index_root(self.base_uri)).current_version_id(),
                        served_adapter_version(self.base_uri))

    def refresh(self) -> bool:
        """Loads whatever changed since the last request; True when something was reloaded."""
        with self._lock:
            return self._refresh_locked()

    def _refresh_locked(self) -> bool:
        latest = self._current_versions()
        self.promotion = (served_decision(self.base_uri) or {}).get("decision")
        if latest == self.versions and self.model is not None:
            self.reload_note = ""  # shown only with the answer that followed a reload
            return False
        if latest.index != self.versions.index or self.retriever is None:
            self._load_index()
        if latest.adapter != self.versions.adapter or self.model is None:
            self._load_model()
        changed = self.versions.index is not None or self.versions.adapter is not None
        self.reload_note = "Loaded a newer index/adapter." if changed else ""
        self.versions = latest
        return True

    def _load_index(self) -> None:
        self.retriever = latest_retriever(choose_placement(self.device, "none").device, self.base_uri)

    def _load_model(self) -> None:
        adapter = served_adapter(self.base_uri)  # promoted by an evaluation, not merely the newest
        self.model, self.tokenizer = load_student(adapter, self.base_model_override, self.device)
        self.has_adapter = adapter is not None

    def status(self) -> str:
        index = self.retriever.index if self.retriever else None
        adapter = f"adapter {self.versions.adapter}" if self.has_adapter else "base model"
        if self.promotion:  # why this model: the last evaluation's decision
            adapter += f" ({'promoted' if self.promotion['promoted'] else 'last candidate not promoted'}: " \
                       f"{self.promotion['reason']})"
        elif not self.has_adapter:
            adapter += " (no adapter promoted yet)"
        size = f"{index.size} chunks from {index.chunks['paper_id'].nunique()} papers" if index is not None else "no index"
        return f"Index {self.versions.index} ({size}); {adapter}. {self.reload_note}".strip()

    def answered_by(self, use_adapter: bool) -> str:
        return (f"Answered by the fine-tuned adapter {self.versions.adapter}." if use_adapter and self.has_adapter
                else "Answered by the base model.")

    def figure_png(self, hit: Hit) -> bytes | None:
        """The stored crop of a figure whose caption was retrieved (through the page files' store)."""
        return read_figure(page_files_root(self.base_uri), hit.figure_ref)

    def retrieve(self, question: str, k: int, mode: str) -> list[Hit]:
        with self._lock:
            return self.retriever.search(question, k=k, mode=mode)

    def answer(self, question: str, k: int, mode: str, temperature: float, use_adapter: bool,
               earlier_questions: Sequence[str] = ()) -> Iterator[AnswerStart | str]:
        """First an `AnswerStart` (passages, which model answers), then the growing answer text. A
        question that refers back to the previous one of `earlier_questions` is read after it
        (`core/followups.py`). Holds the model from the reload check until its generation thread has
        ended, also when the caller stops early (a client that disconnected) or generation fails
        (`AnswerFailed`)."""
        if not self._lock.acquire(timeout=self.BUSY_TIMEOUT_S):
            raise AnswerFailed(f"the model stayed busy for {self.BUSY_TIMEOUT_S:.0f} s")
        try:
            self._refresh_locked()  # an index or adapter published since the last question is loaded now
            question = in_context(question, earlier_questions)
            hits = self.retriever.search(question, k=k, mode=mode)
            quote = self._quote_locked(question, hits)
            adapter_on = use_adapter and self.has_adapter
            yield AnswerStart(hits, quote, self.answered_by(adapter_on), self.status(), question)
            yield from self._generate_locked(question, hits, quote, temperature, adapter_on)
        finally:
            self._lock.release()

    def stream_answer(self, question: str, hits: list[Hit], temperature: float, use_adapter: bool) -> Iterator[str]:
        """Yields the growing answer text for given passages (no reload between), evidence-first."""
        if not self._lock.acquire(timeout=self.BUSY_TIMEOUT_S):
            raise AnswerFailed(f"the model stayed busy for {self.BUSY_TIMEOUT_S:.0f} s")
        try:
            quote = self._quote_locked(question, hits)
            yield from self._generate_locked(question, hits, quote, temperature, use_adapter and self.has_adapter)
        finally:
            self._lock.release()

    def _quote_locked(self, question: str, hits: list[Hit]) -> Quote | None:
        """The sentence of the passages the answer is written from (`core/evidence.py`)."""
        return choose_quotes(self.model, self.tokenizer, [question], [[h.text for h in hits]])[0] if hits else None

    def evidence(self, quote: Quote | None, hits: list[Hit]) -> Evidence | None:
        """The quote placed on its PDF page and rendered highlighted (`core/highlight.py`), or why not."""
        if quote is None:
            return None
        hit = hits[quote.passage - 1]
        pdf = read_pdf(self.base_uri, hit.paper_id)
        if pdf is None:
            return Evidence(quote, hit, note="The paper's PDF is not in the store: the quote is not shown on its page.")
        placement = locate_quote(pdf, quote.text, range(hit.page_start, hit.page_end + 1))
        if placement is None:
            return Evidence(quote, hit, note=f"The quote could not be placed on {_pages(hit)} of the PDF (no matching "
                                             "text layer there: an image-only page, or a table laid out differently).")
        return Evidence(quote, hit, placement.page, render_highlighted(pdf, placement))

    def _generate_locked(self, question: str, hits: list[Hit], quote: Quote | None, temperature: float,
                         adapter_on: bool) -> Iterator[str]:
        from contextlib import nullcontext

        from transformers import StoppingCriteriaList, TextIteratorStreamer

        model, tokenizer = self.model, self.tokenizer
        messages = evidence_messages(question, [h.text for h in hits], quote)
        inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                               return_dict=True).to(model.device)
        streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True,
                                        timeout=self.TOKEN_TIMEOUT_S)
        sampling = {"do_sample": True, "temperature": temperature, "top_p": 0.95} if temperature > 0 else {"do_sample": False}
        if not self.has_adapter:
            adapter_state = nullcontext()
        else:  # merged while it answers: the same tokens as the unmerged adapter, 0.83x the time on a CPU
            adapter_state = lora_merged(model) if adapter_on else model.disable_adapter()
        cancel, failures = threading.Event(), []

        def run() -> None:
            try:
                with adapter_state:
                    model.generate(**inputs, max_new_tokens=self.max_new_tokens, streamer=streamer,
                                   pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id,
                                   logits_processor=[answer_loop_guard(inputs["input_ids"].shape[1])],
                                   stopping_criteria=StoppingCriteriaList([cancelled_by(cancel)]), **sampling)
            except BaseException as exc:  # noqa: BLE001 - handed to the request, which reports it
                failures.append(exc)
                streamer.end()  # the request's loop over the streamer ends instead of waiting forever

        thread = threading.Thread(target=run, daemon=True, name="chat-generate")
        thread.start()
        text = ""
        try:
            for piece in streamer:
                text += piece
                yield text
        except queue.Empty:
            raise AnswerFailed(f"no new token for {self.TOKEN_TIMEOUT_S:.0f} s") from None
        finally:
            cancel.set()  # also when the caller stopped early: generation ends at its next token
            thread.join()
        if failures:
            raise AnswerFailed(f"{type(failures[0]).__name__}: {failures[0]}") from failures[0]


def cancelled_by(event: threading.Event):
    """A stopping criterion that ends generation once `event` is set."""
    import torch
    from transformers import StoppingCriteria

    class Cancelled(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            return torch.full((input_ids.shape[0],), event.is_set(), dtype=torch.bool, device=input_ids.device)

    return Cancelled()
