"""The evaluation's per-answer metrics, one entry each: a new metric is one `Metric` in `METRICS`,
and it appears in every result row, in the per-variant summary and in the asset's summary table.

Two scores are computed in batch by `core/rag_eval.py` instead (embedding similarity to the
reference, and the optional LLM judge), since they call a model over all answers at once."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .answer_metrics import contains_answer, faithfulness, token_f1
from .citations import cited_passages, is_refusal, with_citation
from .evidence import Quote, is_verbatim
from .retrieval import Hit

# The three prompts every question is asked with (core/rag_eval.py builds them).
ANSWERABLE, REMOVED, CLOSED_BOOK = "answerable", "answer removed", "closed book"


@dataclass(frozen=True)
class Answer:
    """One answer to one prompt, as the metrics see it. `said` and `reference` are without their [n]
    markers; `gold` numbers the passages that hold the answer; `labelled_hit` says whether retrieval
    found a labelled page (hand-written questions only, else None); `quote` is the evidence the answer
    was written from and is shown with (None: answered from the whole passages)."""
    prompt: str
    answer: str
    said: str
    reference: str
    passages: list[Hit]
    gold: set[int]
    labelled_hit: bool | None
    quote: Quote | None = None


@dataclass(frozen=True)
class Metric:
    column: str  # per answer, in the results
    summary: str  # its mean per variant, in the summary
    score: Callable[[Answer], object]  # NaN where the metric does not apply to this answer
    no_model: Callable[[Answer], object] | None = None  # the no-model row's value; None: not scored there


def _not_removed(score: Callable[[Answer], object]) -> Callable[[Answer], object]:
    """Scores against the reference mean nothing where the answer's passages were taken out."""
    return lambda a: score(a) if a.prompt != REMOVED else np.nan


def _shown(a: Answer) -> set[int]:
    """The citations a reader sees: the quoted passage; without a quote, the answer's own [n], or the
    passage that supports an answer citing nothing."""
    if a.quote is not None:
        return {a.quote.passage}
    return cited_passages(with_citation(a.answer, [h.text for h in a.passages])[0], len(a.passages))


def _quoted(score: Callable[[Answer], object]) -> Callable[[Answer], object]:
    return lambda a: score(a) if a.quote is not None else np.nan


def _verbatim(a: Answer) -> bool:
    return is_verbatim(a.quote, [h.text for h in a.passages])


def _quote_holds(a: Answer) -> bool:
    return contains_answer(a.quote.text, a.reference)


_f1 = _not_removed(lambda a: token_f1(a.said, a.reference))
_contains = _not_removed(lambda a: contains_answer(a.said, a.reference))

METRICS = [
    Metric("token_f1", "token_f1", _f1, no_model=_f1),
    Metric("contains_answer", "contains_answer", _contains, no_model=_contains),
    Metric("citation_correct", "citation_accuracy", lambda a: bool(_shown(a) & a.gold) if a.gold else np.nan),
    Metric("refused", "refused", lambda a: is_refusal(a.answer), no_model=lambda a: False),
    Metric("faithfulness", "faithfulness", lambda a: faithfulness(a.said, [h.text for h in a.passages])
           if a.passages else np.nan),
    Metric("quote_verbatim", "quote_verbatim", _quoted(_verbatim), no_model=_quoted(_verbatim)),
    Metric("quote_holds_answer", "quote_holds_answer", _not_removed(_quoted(_quote_holds)), no_model=_quoted(_quote_holds)),
    Metric("retrieval_hit", "retrieval_hit_at_k", lambda a: a.labelled_hit if a.labelled_hit is not None else np.nan),
]


def scores(answer: Answer, no_model: bool = False) -> dict[str, object]:
    """Every metric's value for one answer (for the no-model row, only the metrics that score it)."""
    if no_model:
        return {m.column: m.no_model(answer) for m in METRICS if m.no_model is not None}
    return {m.column: m.score(answer) for m in METRICS}
