"""The chunk index as a versioned directory (FAISS + BM25 + chunk table) at a store's root, published
by its pointer. The chat and the next incremental run read it from the same URI."""
from __future__ import annotations

from upath import UPath

from ..core.chunk_index import ChunkIndex
from ..settings import local_cache_dir
from .atomic import VersionedDir
from .tables import read_table
from .uris import as_upath, local_copy


def index_root(base_uri: str) -> UPath:
    return as_upath(base_uri) / "assets" / "chunk_index"


def load_latest_index(base_uri: str) -> ChunkIndex | None:
    """The published index; its manifest's `loaded_version` names the version it was read from."""
    store = VersionedDir(index_root(base_uri))
    version_id = store.current_version_id()
    folder = store.version(version_id)
    if folder is None:
        return None
    index = ChunkIndex.load(local_copy(folder, local_cache_dir()))
    index.manifest["loaded_version"] = version_id
    return index


def published_page_files(base_uri: str) -> set[str]:
    """Page files the published index's figure thumbnails point at: kept until an index that
    points elsewhere is published."""
    current = VersionedDir(index_root(base_uri)).current()
    if current is None:
        return set()
    try:
        refs = read_table(current / "chunks.parquet", columns=["figure_ref"])["figure_ref"].fillna("")
    except (KeyError, ValueError):  # an index built before figures were cropped
        return set()
    return {ref.partition("#")[0] for ref in refs if ref}
