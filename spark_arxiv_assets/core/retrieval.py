"""Dense, BM25 and hybrid retrieval over a `ChunkIndex`.
The chat app, the QA factory and the evaluation all search through this class.

Hybrid fuses the two candidate lists by a convex combination of bounded-normalised scores
(`convex_fusion`) by default; reciprocal rank fusion is kept as an option. With the default
chunking, RRF came out below BM25 alone on our question sets and the convex combination did not
(benchmarks/RESULTS.md)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, get_args

import numpy as np

from .chunk_index import ChunkIndex
from .defaults import DEFAULT_DENSE_WEIGHT, DEFAULT_FUSION, PASSAGES_K, Fusion, Mode

RRF_K = 60
COSINE_FLOOR = -1.0  # lowest possible inner product of unit vectors


@dataclass
class Hit:
    vector_id: int
    chunk_id: str
    paper_id: str
    title: str
    page_start: int
    page_end: int
    text: str
    score: float
    dense_rank: int | None = None
    bm25_rank: int | None = None
    chunk_type: str = "text"  # text | list | table | figure_caption
    section: str = ""
    figure_ref: str = ""  # a figure caption's stored crop (see storage.page_store.read_figure)

    def citation(self) -> str:
        pages = f"p. {self.page_start}" if self.page_start == self.page_end else f"pp. {self.page_start}-{self.page_end}"
        return f"[{self.paper_id}] {self.title}, {pages}"


def reciprocal_rank_fusion(rankings: list[list[int]], k: int = RRF_K) -> list[tuple[int, float]]:
    """Each list is ids best first; score(id) = Σ 1/(k + rank), rank starting at 1."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def _scaled(ranking: list[tuple[int, float]], floor: float) -> dict[int, float]:
    """Scores mapped to [0, 1] between a fixed floor and the best score of this list."""
    if not ranking:
        return {}
    top = max(score for _, score in ranking)
    span = top - floor
    return {item: (score - floor) / span if span > 0 else 1.0 for item, score in ranking}


def convex_fusion(dense: list[tuple[int, float]], lexical: list[tuple[int, float]],
                  dense_weight: float = 0.5) -> list[tuple[int, float]]:
    """score = w·dense' + (1 − w)·bm25', each scaled from its theoretical minimum (cosine −1,
    BM25 0) to the list's best score; a candidate missing from one list gets 0 there (`Retriever`
    gives the dense list the exact cosine of every BM25 candidate, so only BM25 can be missing).

    Unlike min-max scaling, a fixed floor keeps a list whose scores are all close together
    (a weak match) from being stretched to look decisive (Bruch et al., "An Analysis of
    Fusion Functions for Hybrid Retrieval", TOIS 2023)."""
    dense_scaled, lexical_scaled = _scaled(dense, COSINE_FLOOR), _scaled(lexical, 0.0)
    fused = {item: dense_weight * dense_scaled.get(item, 0.0) + (1 - dense_weight) * lexical_scaled.get(item, 0.0)
             for item in dense_scaled.keys() | lexical_scaled.keys()}
    return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))


class Retriever:
    def __init__(self, index: ChunkIndex, embed_query: Callable[[list[str]], np.ndarray], candidates: int = 50,
                 fusion: Fusion = DEFAULT_FUSION, dense_weight: float = DEFAULT_DENSE_WEIGHT) -> None:
        if fusion not in get_args(Fusion):
            raise ValueError(f"fusion must be 'convex' or 'rrf', not {fusion!r}")
        if not 0.0 <= dense_weight <= 1.0:
            raise ValueError(f"dense_weight must be within [0, 1], not {dense_weight}")
        self.index, self.embed_query, self.candidates = index, embed_query, candidates
        self.fusion, self.dense_weight = fusion, dense_weight

    def dense_rankings(self, queries: list[str], k: int, query_vectors: np.ndarray | None = None
                       ) -> list[list[tuple[int, float]]]:
        """One FAISS search for all queries; `query_vectors` skips embedding them again."""
        if not self.index.size or not queries:
            return [[] for _ in queries]
        vectors = self.embed_query(queries) if query_vectors is None else query_vectors
        scores, ids = self.index.dense.search(vectors, min(k, self.index.size))
        return [[(int(i), float(s)) for i, s in zip(row_ids, row_scores) if i >= 0]
                for row_ids, row_scores in zip(ids, scores)]

    def bm25_ranking(self, query: str, k: int) -> list[tuple[int, float]]:
        return self.index.lexical.search(query, k)

    def search(self, query: str, k: int = PASSAGES_K, mode: Mode = "hybrid") -> list[Hit]:
        return self.search_many([query], k, mode)[0]

    def search_many(self, queries: list[str], k: int = PASSAGES_K, mode: Mode = "hybrid",
                    query_vectors: np.ndarray | None = None) -> list[list[Hit]]:
        """Hits per query, best first; the queries are embedded in one batch."""
        depth = max(k, self.candidates)
        if mode == "bm25" or not self.index.size or not queries:
            vectors = None
        else:
            vectors = self.embed_query(queries) if query_vectors is None else query_vectors
        dense_lists = (self.dense_rankings(queries, depth, vectors) if mode in ("dense", "hybrid")
                       else [[] for _ in queries])
        return [self._hits(dense, self.bm25_ranking(query, depth) if mode in ("bm25", "hybrid") else [], k, mode,
                           vectors[i] if vectors is not None else None)
                for i, (query, dense) in enumerate(zip(queries, dense_lists))]

    def _hits(self, dense: list[tuple[int, float]], lexical: list[tuple[int, float]], k: int, mode: Mode,
              query_vector: np.ndarray | None) -> list[Hit]:
        dense_rank = {vid: r for r, (vid, _) in enumerate(dense, start=1)}
        bm25_rank = {vid: r for r, (vid, _) in enumerate(lexical, start=1)}
        if mode == "dense":
            ranked = dense
        elif mode == "bm25":
            ranked = lexical
        elif self.fusion == "rrf":
            ranked = reciprocal_rank_fusion([[v for v, _ in dense], [v for v, _ in lexical]])
        else:
            # A BM25 candidate beyond the dense list's depth has a cosine all the same: the exact one,
            # not the floor of −1 (which sank a table that only BM25 found, rank 1, below rank 10).
            missing = [v for v, _ in lexical if v not in dense_rank and self.index.has(v)]
            exact = list(zip(missing, self.index.similarities(query_vector, missing))) if missing else []
            ranked = convex_fusion(dense + exact, lexical, self.dense_weight)
        ranked = [(v, s) for v, s in ranked if self.index.has(v)][:k]
        rows = self.index.rows_for([v for v, _ in ranked])
        return [Hit(vector_id=v, chunk_id=row.chunk_id, paper_id=row.paper_id, title=row.title,
                    page_start=int(row.page_start), page_end=int(row.page_end), text=row.text, score=s,
                    dense_rank=dense_rank.get(v), bm25_rank=bm25_rank.get(v), chunk_type=row.chunk_type,
                    section=row.section, figure_ref=row.figure_ref)
                for (v, s), row in zip(ranked, rows.itertuples(index=False))]

    def source_ranks(self, queries: list[str], chunk_ids: list[str], k: int,
                     query_vectors: np.ndarray | None = None) -> list[int | None]:
        """Per query, the rank (from 1) of its own chunk among the top `k` hybrid hits; None if absent."""
        return [next((rank for rank, hit in enumerate(hits, start=1) if hit.chunk_id == chunk_id), None)
                for hits, chunk_id in zip(self.search_many(queries, k, "hybrid", query_vectors), chunk_ids)]
