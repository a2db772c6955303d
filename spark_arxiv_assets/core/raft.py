"""RAFT-style training prompts (Zhang et al., 2024, "RAFT: Adapting Language Model to Domain Specific
RAG"): the student is trained on what the chat sends it — k retrieved passages — with the source chunk
among distractors retrieved for the same question, and on a share of prompts without the source, whose
right answer is that the passages do not say. Targets are the short answer alone: the served prompt does
not number its passages (`core/rag_prompt.py`), and the chat attributes the answer to its passage.

Passages are in the order retrieval ranked them, as the chat and the evaluation send them. With the
source at a random position instead, a 135M student ignored the ranking: on 142 held-out questions,
94 with the reference in passage [1], its answers copied a sentence of [2] 33 times and of [1] 13
times (README, "What the 135M student learns")."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal

import numpy as np
import pandas as pd

from .answer_metrics import contains_answer
from .defaults import PASSAGES_K, SEED
from .retrieval import Hit

NOT_IN_PASSAGES = "The passages do not say."


PassageOrder = Literal["retrieved", "random"]


@dataclass(frozen=True)
class RaftOptions:
    passages: int = PASSAGES_K
    no_source_share: float = 0.2  # prompts whose passages omit the source chunk
    candidates: int = 20  # retrieved per question to find distractors in
    seed: int = SEED
    order: PassageOrder = "retrieved"  # retrieved: passages in rank order | random: the source at a seeded random position


def raft_prompts(rows: pd.DataFrame, search: Callable[[list[str], int], list[list[Hit]]],
                 options: RaftOptions = RaftOptions()) -> pd.DataFrame:
    """Adds `passages` (texts, in prompt order), `passage_chunk_ids`, `source_position` (1-based; 0 when
    the source was left out) and `target` to QA rows (question, answer, context, chunk_id, paper_id,
    split). Distractors are the question's own retrieval hits from papers of the same split (training
    prompts never quote an eval paper), never its source chunk, never a passage that states the answer.
    The source goes after the distractors that outrank it (last when retrieval did not find it), or
    anywhere with `order="random"`. Seeded per row: the same rows give the same prompts."""
    if options.order not in ("retrieved", "random"):
        raise ValueError(f"order must be 'retrieved' or 'random', not {options.order!r}")
    rows = rows.reset_index(drop=True)
    papers_by_split = rows.groupby("split")["paper_id"].agg(set).to_dict()
    hits_per_row = search(rows["question"].tolist(), options.candidates) if len(rows) else []
    built = []
    for i, (row, hits) in enumerate(zip(rows.itertuples(index=False), hits_per_row)):
        rng = np.random.default_rng([options.seed, i])
        with_source = rng.random() >= options.no_source_share
        allowed = papers_by_split.get(row.split, set())
        distractors = [h for h in hits if h.chunk_id != row.chunk_id and h.paper_id in allowed
                       and not contains_answer(h.text, row.answer)]  # states the answer: not a distractor
        with_source = with_source or not distractors  # no passages at all would be a closed-book prompt
        chosen = [(h.text, h.chunk_id) for h in distractors[:options.passages - int(with_source)]]
        position = 0
        if with_source:
            if options.order == "random":
                position = int(rng.integers(0, len(chosen) + 1)) + 1
            else:
                rank = {h.chunk_id: r for r, h in reversed(list(enumerate(hits)))}  # a chunk's best rank
                source_rank = rank.get(row.chunk_id, len(hits))
                position = 1 + sum(rank[chunk_id] < source_rank for _, chunk_id in chosen)
            chosen.insert(position - 1, (row.context, row.chunk_id))
        built.append({"passages": [text for text, _ in chosen], "passage_chunk_ids": [cid for _, cid in chosen],
                      "source_position": position,
                      "target": row.answer.strip() if position else NOT_IN_PASSAGES})
    return pd.concat([rows, pd.DataFrame(built, columns=["passages", "passage_chunk_ids", "source_position", "target"])],
                     axis=1)
