"""The chunk index's IO manager: publishes a new version only over the one the run started from
(layout and reading: `storage/index_store.py`)."""
from __future__ import annotations

from dagster import ConfigurableIOManager, InputContext, OutputContext

from ..core.chunk_index import ChunkIndex
from ..storage.atomic import UNCHECKED, VersionedDir
from ..storage.index_store import index_root, load_latest_index


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
