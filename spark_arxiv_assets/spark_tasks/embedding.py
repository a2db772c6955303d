"""Chunk embedding inside Spark tasks: one model per executor Python worker."""
from __future__ import annotations

import numpy as np


def _encode_partition(rows, model_name: str, device: str, batch_size: int, torch_threads: int):
    import torch

    from ..core.embedding_model import load_sentence_transformer
    from ..core.embeddings import encode_texts

    torch.set_num_threads(torch_threads)  # executors share the machine's cores
    rows = list(rows)
    if not rows:
        return
    model = load_sentence_transformer(model_name, device)
    vectors = encode_texts(model, [text for _, text in rows], batch_size)
    for (position, _), vector in zip(rows, vectors):
        yield position, vector.tobytes()


def encode_with_spark(spark_context, texts: list[str], model_name: str, device: str = "cpu", batch_size: int = 32,
                      texts_per_task: int = 256, torch_threads: int = 1) -> np.ndarray:
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    slices = max(1, -(-len(texts) // texts_per_task))
    rdd = spark_context.parallelize(list(enumerate(texts)), slices)
    pairs = rdd.mapPartitions(lambda it: _encode_partition(it, model_name, device, batch_size, torch_threads)).collect()
    pairs.sort(key=lambda p: p[0])
    return np.stack([np.frombuffer(blob, dtype=np.float32) for _, blob in pairs])
