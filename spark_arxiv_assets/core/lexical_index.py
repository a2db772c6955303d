"""BM25 over chunk texts (bm25s), with English stop words and Snowball stemming.
bm25s has no incremental add, so it is rebuilt from the chunk texts (seconds per 100k)."""
from __future__ import annotations

from pathlib import Path

import bm25s
import numpy as np
import Stemmer  # PyStemmer: a required dependency, since an index and its queries must be stemmed alike

_STEMMER = Stemmer.Stemmer("english")


def _tokenize(texts: list[str]):
    return bm25s.tokenize(texts, stopwords="en", stemmer=_STEMMER, show_progress=False)


class LexicalIndex:
    def __init__(self, model: bm25s.BM25, ids: np.ndarray) -> None:
        self.model, self.ids = model, ids  # ids[i] is the vector id of document i

    @classmethod
    def build(cls, texts: list[str], ids: np.ndarray) -> "LexicalIndex":
        model = bm25s.BM25()
        if texts:
            model.index(_tokenize(texts), show_progress=False)
        return cls(model, np.asarray(ids, dtype=np.int64))

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        """(vector id, score) best first; documents with no matching term are left out."""
        if not len(self.ids):
            return []
        tokens = _tokenize([query])
        if not tokens.vocab:
            return []
        docs, scores = self.model.retrieve(tokens, k=min(k, len(self.ids)), show_progress=False, n_threads=1)
        return [(int(self.ids[d]), float(s)) for d, s in zip(docs[0], scores[0]) if s > 0]

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        if len(self.ids):
            self.model.save(str(directory), show_progress=False)
        np.save(directory / "ids.npy", self.ids)

    @classmethod
    def load(cls, directory: Path) -> "LexicalIndex":
        ids = np.load(directory / "ids.npy")
        model = bm25s.BM25.load(str(directory), show_progress=False) if len(ids) else bm25s.BM25()
        return cls(model, ids)
