"""FAISS with stable int64 ids: exact inner product for small corpora, IVF above a size
threshold. Both support add/remove by id, so the index is updated, not rebuilt."""
from __future__ import annotations

import math
from pathlib import Path

import faiss
import numpy as np

EXACT, IVF = "flat", "ivf"


def choose_kind(requested: str, n_vectors: int, ivf_threshold: int) -> str:
    if requested in (EXACT, IVF):
        return requested
    if requested != "auto":
        raise ValueError(f"index kind must be auto, flat or ivf, not {requested!r}")
    return IVF if n_vectors >= ivf_threshold else EXACT


def default_nlist(n_vectors: int) -> int:
    """≈4·√N lists, at least 39 training points per list (FAISS's own guidance)."""
    return max(1, min(int(4 * math.sqrt(n_vectors)), n_vectors // 39))


class VectorIndex:
    def __init__(self, index: faiss.Index, kind: str) -> None:
        self.index, self.kind = index, kind

    @classmethod
    def build(cls, vectors: np.ndarray, ids: np.ndarray, kind: str, nlist: int | None = None,
              nprobe: int = 16) -> "VectorIndex":
        dim = vectors.shape[1]
        if kind == IVF:
            nlist = nlist or default_nlist(len(vectors))
            quantizer = faiss.IndexFlatIP(dim)
            index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
            index.train(np.ascontiguousarray(vectors, dtype=np.float32))
            index.nprobe = min(nprobe, nlist)
        else:
            index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        built = cls(index, kind)
        built.add(vectors, ids)
        return built

    @property
    def size(self) -> int:
        return int(self.index.ntotal)

    def add(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        if len(ids):
            self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64))

    def remove(self, ids: np.ndarray) -> int:
        if not len(ids):
            return 0
        return int(self.index.remove_ids(np.asarray(ids, dtype=np.int64)))

    def set_nprobe(self, nprobe: int) -> None:
        if self.kind == IVF:
            self.index.nprobe = nprobe

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids), ids -1 where fewer than k vectors exist."""
        return self.index.search(np.ascontiguousarray(queries, dtype=np.float32), k)

    def save(self, path: Path) -> None:
        faiss.write_index(self.index, str(path))

    @classmethod
    def load(cls, path: Path, kind: str) -> "VectorIndex":
        return cls(faiss.read_index(str(path)), kind)

    def memory_bytes(self) -> int:
        return int(faiss.serialize_index(self.index).nbytes)
