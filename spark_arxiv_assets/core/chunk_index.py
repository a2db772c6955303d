"""The searchable artifact: FAISS + BM25 + the chunk table they point into, updated
incrementally by stable chunk ids (only new chunks are embedded)."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Literal

import numpy as np
import pandas as pd

from .chunking import contextual_text, embedded_text
from .lexical_index import LexicalIndex
from .vector_index import EXACT, IVF, VectorIndex, choose_kind

MIN_IVF_VECTORS = 39 * 16  # FAISS wants ≥ 39 training points per list; below this use exact search
CHUNK_TABLE_COLUMNS = ["vector_id", "chunk_id", "paper_id", "title", "page_start", "page_end", "text", "chunk_type",
                       "section", "figure_ref"]
EMBEDDED_TEXT_VERSION = "table-outline-2"  # bump when embedded_texts changes: stored vectors are then re-made
RUNTIME_MANIFEST_KEYS = ("based_on", "loaded_version")  # which published version a run read: not stored
STRUCTURE_DEFAULTS = {"chunk_type": "text", "section": "", "figure_ref": ""}  # for chunks made before sections


def with_structure_columns(chunks: pd.DataFrame) -> pd.DataFrame:
    missing = {k: v for k, v in STRUCTURE_DEFAULTS.items() if k not in chunks.columns}
    return chunks.assign(**missing) if missing else chunks


def indexed_texts(chunks: pd.DataFrame) -> list[str]:
    """What BM25 sees: each passage under its paper and section."""
    return [contextual_text(title, section, text)
            for title, section, text in zip(chunks["title"], chunks["section"], chunks["text"])]


def embedded_texts(chunks: pd.DataFrame) -> list[str]:
    """What the embedder sees: the same, except that a table is replaced by its outline."""
    return [embedded_text(title, section, text, kind)
            for title, section, text, kind in zip(chunks["title"], chunks["section"], chunks["text"],
                                                  chunks["chunk_type"])]


IndexKind = Literal["auto", "flat", "ivf"]


@dataclass(frozen=True)
class IndexOptions:
    kind: IndexKind = "auto"  # auto: exact inner product up to ivf_threshold vectors, then IVF
    ivf_threshold: int = 50_000  # auto switches to IVF at this many vectors
    nlist: int | None = None  # IVF lists; default ≈ 4·√N
    nprobe: int = 16  # IVF lists searched per query
    retrain_growth: float = 4.0  # retrain IVF once the corpus is this many times larger (or smaller) than at training

    def __post_init__(self) -> None:
        if self.retrain_growth <= 1.0:
            raise ValueError(f"retrain_growth must be > 1, not {self.retrain_growth}")


@dataclass
class ChunkIndex:
    vectors: np.ndarray  # (N, dim) float32, row i belongs to chunks.vector_id[i]
    chunks: pd.DataFrame  # CHUNK_TABLE_COLUMNS, aligned with vectors
    dense: VectorIndex
    lexical: LexicalIndex
    manifest: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._row_of = {int(v): i for i, v in enumerate(self.chunks["vector_id"].tolist())}

    @property
    def size(self) -> int:
        return len(self.chunks)

    def rows_for(self, vector_ids: list[int]) -> pd.DataFrame:
        return self.chunks.iloc[[self._row_of[v] for v in vector_ids]]

    def has(self, vector_id: int) -> bool:
        return vector_id in self._row_of

    def similarities(self, query_vector: np.ndarray, vector_ids: list[int]) -> list[float]:
        """Inner products of a query with stored chunk vectors (cosines: both are unit length)."""
        rows = self.vectors[[self._row_of[v] for v in vector_ids]]
        return [float(score) for score in rows @ np.asarray(query_vector, dtype=np.float32)]

    def save(self, directory: Path) -> None:
        np.save(directory / "vectors.npy", self.vectors)
        self.chunks.to_parquet(directory / "chunks.parquet", index=False)
        self.dense.save(directory / "dense.faiss")
        self.lexical.save(directory / "bm25")
        stored = {k: v for k, v in self.manifest.items() if k not in RUNTIME_MANIFEST_KEYS}
        (directory / "manifest.json").write_text(json.dumps(stored, indent=2))

    @classmethod
    def load(cls, directory: Path) -> "ChunkIndex":
        manifest = json.loads((directory / "manifest.json").read_text())
        return cls(vectors=np.load(directory / "vectors.npy"),
                   chunks=with_structure_columns(pd.read_parquet(directory / "chunks.parquet")),
                   dense=VectorIndex.load(directory / "dense.faiss", manifest["kind"]),
                   lexical=LexicalIndex.load(directory / "bm25"), manifest=manifest)


@dataclass
class UpdateStats:
    added: int = 0
    removed: int = 0
    kept: int = 0
    kept_rows_updated: int = 0  # kept vectors whose citation (pages, section, figure crop) moved
    rebuilt_dense: bool = False
    rebuild_reason: str = ""  # why the dense index was built from scratch, if it was
    embed_seconds: float = 0.0
    build_seconds: float = 0.0


def update_chunk_index(previous: ChunkIndex | None, chunks: pd.DataFrame,
                       embed: Callable[[list[str]], np.ndarray], options: IndexOptions,
                       embedding_model: str) -> tuple[ChunkIndex, UpdateStats]:
    """Adds vectors for chunks not in `previous`, removes those no longer present.

    The dense index is rebuilt only when its kind changes (e.g. the corpus crossed the IVF
    threshold), the embedding model or what it embeds changed, or an IVF index has grown or
    shrunk by `retrain_growth` since its lists were trained (its centroids and list count then no
    longer fit the data). Rebuilding reuses the stored vectors; vectors are never recomputed for
    kept chunks unless the model or EMBEDDED_TEXT_VERSION changed. A kept chunk takes its row
    from `chunks`: a new version of a paper with shifted pages keeps the vector, and its citation
    names the new pages (and its figure the new crop).
    """
    stats = UpdateStats()
    wanted = with_structure_columns(chunks).drop_duplicates("vector_id")[CHUNK_TABLE_COLUMNS].reset_index(drop=True)
    wanted_ids = set(wanted["vector_id"].astype("int64").tolist())
    vectors_outdated = previous is not None and (previous.manifest.get("embedding_model") != embedding_model or
                                                 previous.manifest.get("embedded_text") != EMBEDDED_TEXT_VERSION)
    if vectors_outdated:
        previous = None  # vectors from another model, or of other texts, are not comparable
    old_ids = set(previous.chunks["vector_id"].astype("int64").tolist()) if previous is not None else set()
    new_rows = wanted[~wanted["vector_id"].isin(old_ids)]
    removed_ids = np.array(sorted(old_ids - wanted_ids), dtype=np.int64)

    started = time.perf_counter()
    if len(new_rows) == 0 and previous is not None:
        new_vectors = np.zeros((0, previous.vectors.shape[1]), dtype=np.float32)
    else:
        new_vectors = embed(embedded_texts(new_rows))
    stats.embed_seconds = time.perf_counter() - started
    stats.added, stats.removed = len(new_rows), len(removed_ids)

    started = time.perf_counter()
    if previous is not None:
        keep_mask = previous.chunks["vector_id"].isin(wanted_ids).to_numpy()
        kept = _current_rows(previous.chunks[keep_mask], wanted)
        stats.kept_rows_updated = _changed_rows(previous.chunks[keep_mask], kept)
        table = pd.concat([kept, new_rows], ignore_index=True)
        vectors = np.concatenate([previous.vectors[keep_mask], new_vectors]) if len(new_rows) else previous.vectors[keep_mask]
        stats.kept = int(keep_mask.sum())
    else:
        table, vectors = new_rows.reset_index(drop=True), new_vectors
    ids = table["vector_id"].to_numpy(dtype=np.int64)
    kind = choose_kind(options.kind, len(table), options.ivf_threshold)
    if kind == IVF and len(table) < MIN_IVF_VECTORS:
        kind = EXACT  # too few vectors to train IVF lists
    stats.rebuild_reason = ("embedding model or embedded text changed" if vectors_outdated else
                            _rebuild_reason(previous, kind, len(table), options.retrain_growth))
    if not stats.rebuild_reason:
        dense = previous.dense
        dense.remove(removed_ids)
        dense.add(new_vectors, new_rows["vector_id"].to_numpy(dtype=np.int64))
        trained_on = _trained_on(previous)
    else:
        dense = VectorIndex.build(vectors, ids, kind, options.nlist, options.nprobe)
        stats.rebuilt_dense, trained_on = True, len(table) if kind == IVF else None
    dense.set_nprobe(options.nprobe)
    lexical = LexicalIndex.build(indexed_texts(table), ids)
    stats.build_seconds = time.perf_counter() - started
    manifest = {"kind": dense.kind, "vectors": dense.size, "dim": int(vectors.shape[1]) if vectors.ndim == 2 else 0,
                "embedding_model": embedding_model, "embedded_text": EMBEDDED_TEXT_VERSION, "nprobe": options.nprobe,
                "trained_on": trained_on, "updated_at": time.time()}
    return ChunkIndex(vectors=vectors, chunks=table, dense=dense, lexical=lexical, manifest=manifest), stats


def _current_rows(stored: pd.DataFrame, wanted: pd.DataFrame) -> pd.DataFrame:
    """The rows of `wanted` for the stored rows' vector ids, in the stored order (the vectors')."""
    by_id = wanted.set_index("vector_id", drop=False)
    return by_id.loc[stored["vector_id"].to_numpy(), CHUNK_TABLE_COLUMNS].reset_index(drop=True)


def _changed_rows(stored: pd.DataFrame, current: pd.DataFrame) -> int:
    columns = ["title", "page_start", "page_end", "section", "figure_ref"]
    before = stored[columns].reset_index(drop=True).astype(str)
    return int((before != current[columns].astype(str)).any(axis=1).sum())


def _trained_on(index: ChunkIndex) -> int | None:
    """How many vectors the IVF lists were trained on (indexes saved before this was recorded:
    their current size)."""
    if index.dense.kind != IVF:
        return None
    return int(index.manifest.get("trained_on") or index.size)


def _rebuild_reason(previous: ChunkIndex | None, kind: str, n_vectors: int, retrain_growth: float) -> str:
    """Empty when the previous dense index can be updated in place."""
    if previous is None:
        return "new index"
    if previous.dense.kind != kind:
        return f"{previous.dense.kind} → {kind}"
    trained_on = _trained_on(previous)
    if trained_on and (n_vectors >= trained_on * retrain_growth or n_vectors * retrain_growth <= trained_on):
        return f"IVF lists retrained: {n_vectors} vectors now, trained on {trained_on}"
    return ""
