"""The chunk index as a versioned directory (FAISS + BM25 + chunk table), swapped atomically.
Stored under $SPARK_ARXIV_DATA_DIR only, so the next incremental run and the chat find it."""
from __future__ import annotations

from pathlib import Path

from dagster import ConfigurableIOManager, InputContext, OutputContext

from ..core.chunk_index import ChunkIndex
from ..settings import assets_dir
from .atomic import VersionedDir


def index_root() -> Path:
    return assets_dir() / "chunk_index"


def load_latest_index() -> ChunkIndex | None:
    current = VersionedDir(index_root()).current()
    return ChunkIndex.load(current) if current else None


class ChunkIndexIOManager(ConfigurableIOManager):
    def handle_output(self, context: OutputContext, obj: ChunkIndex) -> None:
        version = VersionedDir(index_root()).write(obj.save)
        context.add_output_metadata({"path": str(version)})

    def load_input(self, context: InputContext) -> ChunkIndex:
        index = load_latest_index()
        if index is None:
            raise FileNotFoundError(f"chunk_index has not been materialized yet ({index_root()})")
        return index
