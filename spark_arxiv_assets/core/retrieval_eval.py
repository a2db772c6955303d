"""Retrieval quality on questions whose answer is on a known page: hit@k and MRR.
Reused by the `rag_evaluation` asset and the retrieval benchmark."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from .retrieval import Hit, Retriever


@dataclass(frozen=True)
class LabelledQuestion:
    question: str
    paper_id: str
    pages: tuple[int, ...] = ()  # every page that states the answer; empty: any chunk of the paper counts
    answer: str = ""  # if set, the passage itself must contain it (a table cell, a list item), not just its page

    def __post_init__(self) -> None:
        object.__setattr__(self, "pages", tuple(self.pages))  # JSON gives lists


def _normalized(text: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip().lower()


def is_relevant(hit: Hit, item: LabelledQuestion) -> bool:
    if hit.paper_id != item.paper_id:
        return False
    if item.pages and not any(hit.page_start <= page <= hit.page_end for page in item.pages):
        return False
    return not item.answer or _normalized(item.answer) in _normalized(hit.text)


def first_relevant_rank(hits: list[Hit], item: LabelledQuestion) -> int | None:
    return next((rank for rank, hit in enumerate(hits, start=1) if is_relevant(hit, item)), None)


def first_relevant_ranks(retriever: Retriever, questions: list[LabelledQuestion], mode: str, depth: int = 10
                         ) -> list[int | None]:
    """Per question, the rank of the first relevant hit within `depth` (None: not found)."""
    hits_per_question = retriever.search_many([q.question for q in questions], k=depth, mode=mode)
    return [first_relevant_rank(hits, q) for hits, q in zip(hits_per_question, questions)]


def summarize_ranks(ranks: list[int | None], ks=(1, 5, 10)) -> dict:
    """hit@k for each k and mean reciprocal rank (a miss counts 0)."""
    row: dict = {"questions": len(ranks)}
    for k in ks:
        row[f"hit@{k}"] = sum(r is not None and r <= k for r in ranks) / max(1, len(ranks))
    row["mrr"] = sum(1.0 / r for r in ranks if r) / max(1, len(ranks))
    return row
