"""The chunk index as a versioned directory (FAISS + BM25 + chunk table) at a configured URI,
published by its pointer. The chat and the next incremental run read it from the same URI."""
from __future__ import annotations

from dagster import ConfigurableIOManager, InputContext, OutputContext
from upath import UPath

from ..core.chunk_index import ChunkIndex
from ..settings import local_cache_dir
from .atomic import UNCHECKED, VersionedDir
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


class ChunkIndexIOManager(ConfigurableIOManager):
    base_uri: str  # a folder or an fsspec URI such as s3://bucket/prefix

    def current_version(self) -> str | None:
        return VersionedDir(index_root(self.base_uri)).current_version_id()

    def load_latest(self) -> ChunkIndex | None:
        """The last published index (the incremental update starts from it), or None."""
        return load_latest_index(self.base_uri)

    def handle_output(self, context: OutputContext, obj: ChunkIndex) -> None:
        """Published only if no other run published an index since this one read `based_on`."""
        based_on = obj.manifest.get("based_on", UNCHECKED)
        version = VersionedDir(index_root(self.base_uri)).write(obj.save, based_on=based_on)
        context.add_output_metadata({"path": str(version), "published_over": str(based_on)})

    def load_input(self, context: InputContext) -> ChunkIndex:
        index = self.load_latest()
        if index is None:
            raise FileNotFoundError(f"chunk_index has not been materialized yet ({index_root(self.base_uri)})")
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
