"""Model directories (PEFT adapters) as versioned folders with a `current` link."""
from __future__ import annotations

import shutil
from pathlib import Path

from dagster import ConfigurableIOManager, InputContext, OutputContext

from ..settings import data_dir
from .atomic import VersionedDir


def adapter_root(root: str | None = None) -> Path:
    return Path(root) if root else data_dir() / "models" / "final_adapter"


def latest_adapter(root: str | None = None) -> Path | None:
    return VersionedDir(adapter_root(root)).current()


class ModelDirIOManager(ConfigurableIOManager):
    """The asset returns a finished directory (in a temp place); it is moved into
    `<root>/versions/<id>` and published atomically. Default root: data/models/final_adapter."""

    root: str = ""

    def handle_output(self, context: OutputContext, obj: Path) -> None:
        def build(target: Path) -> None:
            for item in Path(obj).iterdir():
                shutil.move(str(item), target / item.name)

        version = VersionedDir(adapter_root(self.root)).write(build)
        shutil.rmtree(obj, ignore_errors=True)
        context.add_output_metadata({"path": str(version), "stable_path": str(adapter_root(self.root) / "current")})

    def load_input(self, context: InputContext) -> Path:
        path = latest_adapter(self.root)
        if path is None:
            raise FileNotFoundError(f"no adapter under {adapter_root(self.root)}: materialize student_adapter first")
        return path
