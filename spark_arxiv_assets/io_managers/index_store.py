"""The chunk index as a versioned directory (FAISS + BM25 + chunk table), swapped atomically."""
from __future__ import annotations

from pathlib import Path

from dagster import ConfigurableIOManager, InputContext, OutputContext

from ..core.chunk_index import ChunkIndex
from ..settings import assets_dir
from .atomic import VersionedDir


def index_root(base_dir: str | Path | None = None) -> Path:
    return Path(base_dir or assets_dir()) / "chunk_index"


def load_latest_index(base_dir: str | Path | None = None) -> ChunkIndex | None:
    current = VersionedDir(index_root(base_dir)).current()
    return ChunkIndex.load(current) if current else None


class ChunkIndexIOManager(ConfigurableIOManager):
    base_dir: str = ""

    def handle_output(self, context: OutputContext, obj: ChunkIndex) -> None:
        version = VersionedDir(index_root(self.base_dir)).write(obj.save)
        context.add_output_metadata({"path": str(version)})

    def load_input(self, context: InputContext) -> ChunkIndex:
        index = load_latest_index(self.base_dir)
        if index is None:
            raise FileNotFoundError(f"chunk_index has not been materialized yet ({index_root(self.base_dir)})")
        return index
