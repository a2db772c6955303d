"""Base vs fine-tuned student, each with and without retrieval, on the same questions."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from .answer_metrics import faithfulness, token_f1
from .rag_prompt import answer_messages
from .retrieval import Retriever
from .retrieval_eval import LabelledQuestion, first_relevant_rank


@dataclass(frozen=True)
class EvalItem:
    question: str
    reference: str
    paper_id: str
    page: int | None
    source: str  # "eval_split" | "fixed"


VARIANTS = [("base", False), ("base", True), ("tuned", False), ("tuned", True)]


def evaluate_rag(items: list[EvalItem], retriever: Retriever, generators: dict[str, Callable[[list[list[dict]]], list[str]]],
                 embed: Callable[[list[str]], np.ndarray], k: int = 3) -> pd.DataFrame:
    """One row per (item, variant): the answer, token F1, embedding similarity to the
    reference, faithfulness to the retrieved passages (RAG variants) and retrieval hit@k."""
    retrieved = retriever.search_many([item.question for item in items], k=k)
    rows = []
    for model_name, with_rag in VARIANTS:
        conversations = [answer_messages(item.question, [h.text for h in hits] if with_rag else None)
                         for item, hits in zip(items, retrieved)]
        answers = generators[model_name](conversations)
        for item, hits, answer in zip(items, retrieved, answers):
            labelled = LabelledQuestion(item.question, item.paper_id, (item.page,) if item.page else ())
            rank = first_relevant_rank(hits, labelled)
            rows.append({"variant": f"{model_name}{' + RAG' if with_rag else ''}", "model": model_name,
                         "rag": with_rag, "source": item.source, "question": item.question,
                         "reference": item.reference, "answer": answer, "token_f1": token_f1(answer, item.reference),
                         "faithfulness": faithfulness(answer, [h.text for h in hits]) if with_rag else np.nan,
                         "retrieval_hit": rank is not None})
    frame = pd.DataFrame(rows)
    vectors = embed(frame["answer"].tolist() + frame["reference"].tolist())
    frame["similarity"] = np.sum(vectors[: len(frame)] * vectors[len(frame):], axis=1)
    return frame


def summarize(frame: pd.DataFrame) -> pd.DataFrame:
    order = [f"{m}{' + RAG' if r else ''}" for m, r in VARIANTS]
    summary = frame.groupby("variant").agg(questions=("question", "size"), token_f1=("token_f1", "mean"),
                                           similarity=("similarity", "mean"), faithfulness=("faithfulness", "mean"),
                                           retrieval_hit_at_k=("retrieval_hit", "mean"))
    return summary.reindex(order).reset_index().round(3)
