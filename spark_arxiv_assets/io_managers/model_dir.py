"""Model directories (PEFT adapters) as versioned folders at a configured URI (layout, and which
version is served: `storage/adapter_store.py`)."""
from __future__ import annotations

import shutil
from pathlib import Path

from dagster import ConfigurableIOManager, InputContext, OutputContext

from ..storage.adapter_store import adapter_lineage, adapter_root, latest_adapter, served_adapter_version
from ..storage.atomic import UNCHECKED, VersionedDir
from ..storage.uris import is_local


class ModelDirIOManager(ConfigurableIOManager):
    """The asset returns a finished directory (in a temp place); it becomes
    `<base_uri>/models/final_adapter/versions/<id>`, published atomically, and only if the current
    adapter is still the one its `lineage.json` says training started from. Published is not
    served: `rag_evaluation` promotes (`served.json`), and pruning never removes the served version."""

    base_uri: str  # a folder or an fsspec URI such as s3://bucket/prefix

    def handle_output(self, context: OutputContext, obj: Path) -> None:
        def build(target: Path) -> None:
            for item in Path(obj).iterdir():
                shutil.move(str(item), target / item.name)

        root = adapter_root(self.base_uri)
        based_on = adapter_lineage(obj).get("based_on", UNCHECKED)
        try:
            served = served_adapter_version(self.base_uri)
            version = VersionedDir(root).write(build, based_on=based_on, protect=[served] if served else [])
        finally:
            shutil.rmtree(obj, ignore_errors=True)
        stable = {"stable_path": str(root / "current")} if is_local(root) else {}
        context.add_output_metadata({"path": str(version), "published_over": str(based_on), **stable})

    def load_input(self, context: InputContext) -> Path:
        path = latest_adapter(self.base_uri)
        if path is None:
            raise FileNotFoundError(f"no adapter under {adapter_root(self.base_uri)}: materialize student_adapter first")
        return path
