"""Evidence-first answers: the sentence (or table row) of the retrieved passages that a reader can
check, quoted word for word, and the context the student answers from.

The student chooses the quote by query likelihood: how likely it finds the question after reading a
sentence, log p(question | sentence), averaged over the question's tokens. On the 56 hand-written dev
questions (`benchmarks/answer_evidence.py`) its quotes scored token F1 0.222 and keyword recall 0.50
against the reference answers, where the sentence most like the question (the no-model rule) scored
0.177 / 0.38 and the one closest to the question by MiniLM 0.190 / 0.46; and the SmolLM2-135M answer
written from the chosen sentence alone scored 0.209, from the three whole passages 0.177.

A quote is a slice of its passage by character offsets (`Quote.text == passage[start:end]`), never
generated text: it cannot differ from the passage, whatever the model does.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, replace

from .qa_prompts import SENTENCE_END
from .rag_prompt import answer_messages
from .table_text import linearize_tables

MIN_QUOTE_WORDS = 3  # "Table 3." or a lone number is not evidence
QUERY_PROMPT = "Passage: {passage}\nWrite a question this passage answers."
_TABLE_RULE = re.compile(r"^\|[\s|:-]*\|\s*$")


@dataclass(frozen=True)
class Quote:
    """`text` is `passages[passage - 1][start:end]`; `context` is what the student answers from (a
    table row with its header, as "column: value" pairs); `header` is a table row's header row, as it
    stands in the passage (shown above the row); `score` the mean log-likelihood per question token
    (higher is better)."""

    passage: int  # 1-based, as cited: [n]
    start: int
    end: int
    text: str
    context: str
    header: str = ""
    score: float = float("-inf")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of prose and each row of a Markdown table, whitespace trimmed."""
    spans: list[tuple[int, int]] = []
    offset = 0
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        if stripped.startswith("|"):
            if not _TABLE_RULE.match(stripped):
                spans.append(_trimmed(text, offset, offset + len(line)))
        elif stripped:
            start = offset
            for boundary in SENTENCE_END.finditer(line):
                spans.append(_trimmed(text, start, offset + boundary.start()))
                start = offset + boundary.end()
            spans.append(_trimmed(text, start, offset + len(line)))
        offset += len(line)
    return [(s, e) for s, e in spans if e > s]


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _table_header(text: str, row_start: int) -> str | None:
    """The first row of the Markdown table that the row at `row_start` belongs to (None for the header
    itself)."""
    lines = text[:row_start].splitlines()
    header = None
    for line in reversed(lines):
        if not line.strip().startswith("|"):
            break
        header = line.strip()
    return header


def candidate_quotes(passages: Sequence[str]) -> list[Quote]:
    """Every sentence and table row of the passages with at least `MIN_QUOTE_WORDS` words, unscored."""
    candidates = []
    for number, passage in enumerate(passages, start=1):
        for start, end in sentence_spans(passage):
            text = passage[start:end]
            if len(re.findall(r"\w+", text)) < MIN_QUOTE_WORDS:
                continue
            header = _table_header(passage, start) if text.startswith("|") else None
            context = linearize_tables(f"{header}\n{text}") if header else linearize_tables(text)
            candidates.append(Quote(number, start, end, text, " ".join(context.split()), header or ""))
    return candidates


def question_log_likelihoods(model, tokenizer, question: str, contexts: Sequence[str],
                             batch_size: int = 32) -> list[float]:
    """Mean log p(question token | QUERY_PROMPT with the context) per context. Left padding puts the
    question, the same for every row, at the end of each row, so the LM head runs on its positions
    only (`logits_to_keep`), not on the contexts."""
    import torch

    question_ids = tokenizer(" ".join(question.split()), add_special_tokens=False)["input_ids"]
    prompts = [tokenizer.apply_chat_template([{"role": "user", "content": QUERY_PROMPT.format(passage=c)}],
                                             tokenize=False, add_generation_prompt=True) for c in contexts]
    rows = [tokenizer(p, add_special_tokens=False)["input_ids"] + question_ids for p in prompts]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    device = next(model.parameters()).device
    target = torch.tensor(question_ids, device=device)
    scores: list[float] = []
    for first in range(0, len(rows), batch_size):
        batch = rows[first:first + batch_size]
        width = max(map(len, batch))
        ids = torch.tensor([[pad] * (width - len(r)) + r for r in batch], device=device)
        mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in batch], device=device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)  # as if each row were alone
        with torch.inference_mode():
            logits = model(input_ids=ids, attention_mask=mask, position_ids=positions,
                           logits_to_keep=len(question_ids) + 1).logits[:, :-1].float()
        picked = logits.log_softmax(-1).gather(-1, target.expand(len(batch), -1).unsqueeze(-1)).squeeze(-1)
        scores += picked.mean(-1).tolist()
    return scores


def choose_quote(model, tokenizer, question: str, passages: Sequence[str]) -> Quote | None:
    """The candidate the model finds most likely to prompt the question; None when the passages hold
    no sentence of `MIN_QUOTE_WORDS` words. Ties go to the better-ranked passage, then the earlier
    sentence."""
    candidates = candidate_quotes(passages)
    if not candidates:
        return None
    scores = question_log_likelihoods(model, tokenizer, question, [c.context for c in candidates])
    best = max(range(len(candidates)), key=lambda i: (scores[i], -i))
    chosen = candidates[best]
    return replace(chosen, score=scores[best])


def choose_quotes(model, tokenizer, questions: Sequence[str], passages: Sequence[Sequence[str]],
                  on_each: Callable[[int], None] | None = None) -> list[Quote | None]:
    """`choose_quote` for each question, by the base model: a LoRA adapter, when loaded, is off while
    it scores, so the evidence does not depend on which adapter then answers. `on_each(1)` after each
    question (for progress)."""
    chosen = []
    with model.disable_adapter() if hasattr(model, "peft_config") else nullcontext():
        for question, texts in zip(questions, passages):
            chosen.append(choose_quote(model, tokenizer, question, list(texts)))
            if on_each is not None:
                on_each(1)
    return chosen


def evidence_messages(question: str, passages: Sequence[str], quote: Quote | None) -> list[dict]:
    """The answer prompt evidence first, as the chat and the evaluation both ask it: from the quote's
    context when there is one, else from the passages (none: closed book)."""
    return answer_messages(question, [quote.context] if quote is not None else list(passages) or None)


def is_verbatim(quote: Quote, passages: Sequence[str]) -> bool:
    """The quote is exactly the characters it claims to be in its passage."""
    return 1 <= quote.passage <= len(passages) and passages[quote.passage - 1][quote.start:quote.end] == quote.text
