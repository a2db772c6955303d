"""Base vs fine-tuned student, each with and without retrieval, on the same questions; plus the RAG
prompts with every passage that holds the answer taken out, where the right reply is a refusal."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from .answer_metrics import contains_answer, token_f1
from .citations import without_citations
from .defaults import PASSAGES_K, SEED
from .eval_metrics import ANSWERABLE, CLOSED_BOOK, METRICS, REMOVED, Answer, scores
from .evidence import Quote, evidence_messages
from .llm_judge import SCORES, judge_answers
from .qa_prompts import sentences
from .retrieval import Hit, Retriever
from .retrieval_eval import LabelledQuestion, first_relevant_rank


@dataclass(frozen=True)
class EvalItem:
    question: str
    reference: str
    paper_id: str
    page: int | None
    source: str  # "eval_split" | "fixed"
    chunk_id: str | None = None  # the chunk the question was written from (eval split)


# (model, prompt): closed book, with the retrieved passages, with the answer's passages taken out
VARIANTS = [("base", CLOSED_BOOK), ("base", ANSWERABLE), ("tuned", CLOSED_BOOK), ("tuned", ANSWERABLE),
            ("base", REMOVED), ("tuned", REMOVED)]
EXTRA_DEPTH = 10  # further hits that refill the prompt once the answer's passages are taken out


OVERLAP = "no model: the sentence most like the question"  # a reference row, not a model
QUOTE_ALONE = "quote alone: the sentence the student chose"  # the evidence shown with each answer, by itself

# (questions, each one's passages) -> each one's quote (None: no sentence to quote)
ChooseQuotes = Callable[[list[str], list[list[str]]], list["Quote | None"]]


def overlap_sentence(question: str, passages: list[str]) -> str:
    """The passage sentence with the highest token F1 against the question. Answer-aware questions are
    written from one sentence of a chunk, so this no-model answer is the floor a student should clear."""
    candidates = [sentence for passage in passages for sentence in sentences(passage)]
    return max(candidates, key=lambda sentence: token_f1(sentence, question), default="")


def variant_name(model: str, prompt: str) -> str:  # "base", "base + RAG", "base + RAG, answer removed"
    return {CLOSED_BOOK: model, ANSWERABLE: f"{model} + RAG", REMOVED: f"{model} + RAG, answer removed"}[prompt]


def _holds(hit: Hit, item: EvalItem) -> bool:
    """The question's own chunk, or any passage with every token of the reference answer (so an
    "answer removed" prompt errs towards taking out too much, never too little)."""
    return hit.chunk_id == item.chunk_id or contains_answer(hit.text, item.reference)


def _retrieval_hit(hits: list[Hit], item: EvalItem) -> bool:
    labelled = LabelledQuestion(item.question, item.paper_id, (item.page,) if item.page else ())
    return first_relevant_rank(hits, labelled) is not None


def _answer(item: EvalItem, prompt: str, answer: str, hits: list[Hit], quote: Quote | None = None) -> Answer:
    """What the metrics read. What is said is scored apart from what is cited; the reference loses its
    own "[35]"-style references too, so a sentence quoted from a paper scores the same with or without."""
    labelled = _retrieval_hit(hits, item) if prompt == ANSWERABLE and item.source == "fixed" else None
    return Answer(prompt, answer, without_citations(answer), without_citations(item.reference), hits,
                  {n for n, hit in enumerate(hits, start=1) if _holds(hit, item)}, labelled, quote)


def evaluate_rag(items: list[EvalItem], retriever: Retriever, generators: dict[str, Callable[[list[list[dict]]], list[str]]],
                 embed: Callable[[list[str]], np.ndarray], k: int = PASSAGES_K,
                 judge: Callable[[list[list[dict]]], list[str | None]] | None = None,
                 variants: list[tuple[str, str]] = VARIANTS, no_model_row: bool = True,
                 quotes: ChooseQuotes | None = None) -> pd.DataFrame:
    """One row per (item, variant): the answer; token F1 and embedding similarity to the reference; whether
    it contains the reference; whether the passage it cites holds the answer (citation accuracy); whether
    it declines (refusal); faithfulness to its passages; and, for the fixed questions, retrieval hit@k
    (eval-split questions were kept because retrieval found them: circular). With `quotes` (what the chat
    does) each RAG prompt is answered evidence-first: a quote is chosen from the passages and the model
    answers from it; rows then carry the quote and whether it is verbatim and holds the answer, and the
    `QUOTE_ALONE` rows score the quote by itself. With a `judge` (a chat backend), the answers to the RAG
    prompts also get LLM-judged faithfulness and relevance (`core/llm_judge.py`). F1, containment,
    similarity and faithfulness read answer and reference without their [n] markers. Rows of the
    `OVERLAP` variant answer each RAG prompt with no model at all (`no_model_row`); `variants` chooses the
    (model, prompt) pairs, a model being a key of `generators`."""
    deep = retriever.search_many([item.question for item in items], k=k + EXTRA_DEPTH)
    passages = {ANSWERABLE: [hits[:k] for hits in deep],
                REMOVED: [[h for h in hits if not _holds(h, item)][:k] for item, hits in zip(items, deep)],
                CLOSED_BOOK: [[] for _ in items]}
    prompts = {prompt for _, prompt in variants} | ({ANSWERABLE} if no_model_row else set())
    chosen = {prompt: quotes([item.question for item in items], [[h.text for h in hits] for hits in passages[prompt]])
              if quotes is not None and prompt != CLOSED_BOOK else [None] * len(items) for prompt in prompts}
    rows = []
    for model_name, prompt in variants:
        answers = generators[model_name]([evidence_messages(item.question, [h.text for h in hits], quote)
                                          for item, hits, quote
                                          in zip(items, passages[prompt], chosen[prompt])])
        judged = (judge_answers(judge, [(item.question, answer, [h.text for h in hits])
                                        for item, hits, answer in zip(items, passages[prompt], answers)])
                  if judge is not None and prompt == ANSWERABLE else [None] * len(items))
        for item, hits, answer, judgement, quote in zip(items, passages[prompt], answers, judged, chosen[prompt]):
            rows.append(_row(item, variant_name(model_name, prompt), model_name, prompt, answer, hits, quote)
                        | {"judged": judgement is not None,
                           **{f"judge_{key}": judgement[key] if judgement else np.nan for key in SCORES}})
    for item, hits, quote in zip(items, passages[ANSWERABLE], chosen[ANSWERABLE]) if no_model_row else ():
        rows.append(_row(item, OVERLAP, "none", ANSWERABLE, overlap_sentence(item.question, [h.text for h in hits]),
                         hits, None, no_model=True))
        if quotes is not None:
            rows.append(_row(item, QUOTE_ALONE, "none", ANSWERABLE, quote.text if quote else "", hits, quote,
                             no_model=True))
    frame = pd.DataFrame(rows)
    vectors = embed([without_citations(text) for text in frame["answer"].tolist() + frame["reference"].tolist()])
    frame["similarity"] = np.where(frame["prompt"] == REMOVED, np.nan,
                                   np.sum(vectors[: len(frame)] * vectors[len(frame):], axis=1))
    return frame


def _row(item: EvalItem, variant: str, model: str, prompt: str, answer: str, hits: list[Hit], quote: Quote | None,
         no_model: bool = False) -> dict:
    return {"variant": variant, "model": model, "prompt": prompt, "rag": prompt != CLOSED_BOOK, "source": item.source,
            "paper_id": item.paper_id, "question": item.question, "reference": item.reference, "answer": answer,
            "quote": quote.text if quote else None, "quote_passage": quote.passage if quote else None,
            **scores(_answer(item, prompt, answer, hits, quote), no_model=no_model), "judged": False}


def summarize(frame: pd.DataFrame) -> pd.DataFrame:
    """Per variant. `refused` is refusal accuracy on the answer-removed prompts and the false-refusal
    rate elsewhere. Citation accuracy counts answers whose cited passage (the one a reader is shown:
    the quoted one) holds the answer."""
    order = [variant_name(m, p) for m, p in VARIANTS] + [OVERLAP, QUOTE_ALONE]
    means = {m.summary: (m.column, "mean") for m in METRICS}
    means |= {"similarity": ("similarity", "mean"), **{f"judge_{key}": (f"judge_{key}", "mean") for key in SCORES}}
    numeric = frame.assign(**{column: frame[column].astype(float) for column, _ in means.values()})
    summary = numeric.groupby("variant").agg(questions=("question", "size"), **means)
    return summary.reindex([variant for variant in order if variant in summary.index]).reset_index().round(3)


def paired_bootstrap(first: np.ndarray, second: np.ndarray, resamples: int = 2000,
                     seed: int = SEED) -> tuple[float, float, float]:
    """Mean of `second - first` over the same questions and its 95% percentile interval, resampling
    questions with replacement: the interval says whether a difference is more than noise."""
    diffs = np.asarray(second, dtype=float) - np.asarray(first, dtype=float)
    if len(diffs) == 0:
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = diffs[rng.integers(0, len(diffs), size=(resamples, len(diffs)))].mean(axis=1)
    return float(diffs.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def clustered_bootstrap(first: np.ndarray, second: np.ndarray, clusters: list[str], resamples: int = 2000,
                        seed: int = SEED) -> tuple[float, float, float]:
    """As `paired_bootstrap`, resampling whole clusters (papers, paper families) instead of questions:
    questions about one paper are correlated, so their own interval is narrower than the evidence."""
    diffs = np.asarray(second, dtype=float) - np.asarray(first, dtype=float)
    if len(diffs) == 0:
        return float("nan"), float("nan"), float("nan")
    groups = [np.flatnonzero(np.asarray(clusters) == c) for c in sorted(set(clusters))]
    rng = np.random.default_rng(seed)
    means = [diffs[np.concatenate([groups[i] for i in rng.integers(0, len(groups), len(groups))])].mean()
             for _ in range(resamples)]
    return float(diffs.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def tuned_vs_base(frame: pd.DataFrame, metric: str = "token_f1", families: dict[str, str] | None = None
                  ) -> tuple[float, float, float]:
    """tuned + RAG minus base + RAG on `metric`, paired by question, with its 95% bootstrap interval:
    over questions, or with `families` (paper id → paper family; a paper not named is its own) over
    paper families."""
    answerable = frame[frame["prompt"] == ANSWERABLE]
    pivot = answerable.pivot_table(index=["source", "question"], columns="model", values=metric, aggfunc="first")
    if not {"base", "tuned"} <= set(pivot.columns):
        return float("nan"), float("nan"), float("nan")
    if families is None:
        return paired_bootstrap(pivot["base"].to_numpy(), pivot["tuned"].to_numpy())
    paper = answerable.drop_duplicates(["source", "question"]).set_index(["source", "question"])["paper_id"]
    clusters = [families.get(p, p) for p in paper.reindex(pivot.index)]
    return clustered_bootstrap(pivot["base"].to_numpy(), pivot["tuned"].to_numpy(), clusters)


def tuned_vs_base_by_paper(frame: pd.DataFrame, metric: str = "token_f1") -> pd.DataFrame:
    """tuned + RAG minus base + RAG per held-out paper. Questions of one paper are correlated, so the
    question-level interval is narrower than a paper-level one would be: a gain that holds on every
    paper means more than one that a single paper carries."""
    answerable = frame[(frame["prompt"] == ANSWERABLE) & (frame["source"] == "eval_split")]
    pivot = answerable.pivot_table(index="paper_id", columns="model", values=metric, aggfunc="mean")
    if pivot.empty:
        return pd.DataFrame(columns=["paper_id", "questions", "base", "tuned", "difference"])
    counts = answerable[answerable["model"] == "base"].groupby("paper_id").size()
    return (pivot.assign(questions=counts, difference=pivot["tuned"] - pivot["base"])
            .reset_index()[["paper_id", "questions", "base", "tuned", "difference"]].round(3))
