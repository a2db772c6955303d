"""The chunk index as a versioned directory (FAISS + BM25 + chunk table) at a configured URI,
published by its pointer. The chat and the next incremental run read it from the same URI."""
from __future__ import annotations

from dagster import ConfigurableIOManager, InputContext, OutputContext
from upath import UPath

from ..core.chunk_index import ChunkIndex
from ..settings import local_cache_dir
from .atomic import VersionedDir
from .uris import as_upath, local_copy


def index_root(base_uri: str) -> UPath:
    return as_upath(base_uri) / "assets" / "chunk_index"


def load_latest_index(base_uri: str) -> ChunkIndex | None:
    current = VersionedDir(index_root(base_uri)).current()
    return ChunkIndex.load(local_copy(current, local_cache_dir())) if current else None


class ChunkIndexIOManager(ConfigurableIOManager):
    base_uri: str  # a folder or an fsspec URI such as s3://bucket/prefix

    def load_latest(self) -> ChunkIndex | None:
        """The last published index (the incremental update starts from it), or None."""
        return load_latest_index(self.base_uri)

    def handle_output(self, context: OutputContext, obj: ChunkIndex) -> None:
        version = VersionedDir(index_root(self.base_uri)).write(obj.save)
        context.add_output_metadata({"path": str(version)})

    def load_input(self, context: InputContext) -> ChunkIndex:
        index = self.load_latest()
        if index is None:
            raise FileNotFoundError(f"chunk_index has not been materialized yet ({index_root(self.base_uri)})")
        return index
