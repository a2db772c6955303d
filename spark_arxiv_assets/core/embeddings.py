"""Batched, normalised sentence embeddings with progress."""
from __future__ import annotations

from typing import Callable

import numpy as np


def encode_texts(model, texts: list[str], batch_size: int = 32, on_batch: Callable[[int], None] | None = None) -> np.ndarray:
    """Unit-length float32 vectors, so inner product == cosine similarity."""
    dim = model.get_embedding_dimension() if hasattr(model, "get_embedding_dimension") else model.get_sentence_embedding_dimension()
    if not texts:
        return np.zeros((0, dim), dtype=np.float32)
    out = np.empty((len(texts), dim), dtype=np.float32)
    for start in range(0, len(texts), batch_size):
        batch = texts[start:start + batch_size]
        out[start:start + len(batch)] = model.encode(batch, batch_size=batch_size, normalize_embeddings=True,
                                                     convert_to_numpy=True, show_progress_bar=False)
        if on_batch:
            on_batch(len(batch))
    return out
