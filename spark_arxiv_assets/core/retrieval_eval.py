"""Retrieval quality on questions whose answer is on a known page: hit@k and MRR.
Reused by the `rag_evaluation` asset and the retrieval benchmark."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .retrieval import Hit, Retriever


@dataclass(frozen=True)
class LabelledQuestion:
    question: str
    paper_id: str
    page: int | None = None  # None: any chunk of the paper counts


def is_relevant(hit: Hit, item: LabelledQuestion) -> bool:
    if hit.paper_id != item.paper_id:
        return False
    return item.page is None or hit.page_start <= item.page <= hit.page_end


def first_relevant_rank(hits: list[Hit], item: LabelledQuestion) -> int | None:
    return next((rank for rank, hit in enumerate(hits, start=1) if is_relevant(hit, item)), None)


def evaluate_retrieval(retriever: Retriever, questions: list[LabelledQuestion], modes=("dense", "bm25", "hybrid"),
                       ks=(1, 5, 10)) -> pd.DataFrame:
    """One row per mode: hit@k for each k and mean reciprocal rank (over the top max(ks))."""
    depth = max(ks)
    rows = []
    for mode in modes:
        ranks = [first_relevant_rank(retriever.search(q.question, k=depth, mode=mode), q) for q in questions]
        row = {"mode": mode, "questions": len(questions)}
        for k in ks:
            row[f"hit@{k}"] = sum(r is not None and r <= k for r in ranks) / max(1, len(ranks))
        row["mrr"] = sum(1.0 / r for r in ranks if r) / max(1, len(ranks))
        rows.append(row)
    return pd.DataFrame(rows)
