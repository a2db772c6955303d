"""Batched, normalised sentence embeddings with progress."""
from __future__ import annotations

from typing import Callable

import numpy as np

# Several batches per `encode` call: it sorts its input by length, so a call over 8 batches pads
# less than 8 calls of one batch each (measured 0.81× of a single call at 1 batch per call).
BATCHES_PER_CALL = 8


def encode_texts(model, texts: list[str], batch_size: int = 32, on_batch: Callable[[int], None] | None = None) -> np.ndarray:
    """Unit-length float32 vectors, so inner product == cosine similarity."""
    dim = model.get_embedding_dimension() if hasattr(model, "get_embedding_dimension") else model.get_sentence_embedding_dimension()
    if not texts:
        return np.zeros((0, dim), dtype=np.float32)
    out = np.empty((len(texts), dim), dtype=np.float32)
    step = batch_size * BATCHES_PER_CALL
    for start in range(0, len(texts), step):
        part = texts[start:start + step]
        out[start:start + len(part)] = model.encode(part, batch_size=batch_size, normalize_embeddings=True,
                                                    convert_to_numpy=True, show_progress_bar=False)
        if on_batch:
            on_batch(len(part))
    return out
