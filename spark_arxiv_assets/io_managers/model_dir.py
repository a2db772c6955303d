"""Model directories (PEFT adapters) as versioned folders with a `current` link."""
from __future__ import annotations

import shutil
from pathlib import Path

from dagster import ConfigurableIOManager, InputContext, OutputContext

from ..settings import data_dir
from .atomic import VersionedDir


def adapter_root() -> Path:
    return data_dir() / "models" / "final_adapter"


def latest_adapter() -> Path | None:
    return VersionedDir(adapter_root()).current()


class ModelDirIOManager(ConfigurableIOManager):
    """The asset returns a finished directory (in a temp place); it is moved into
    `$SPARK_ARXIV_DATA_DIR/models/final_adapter/versions/<id>` and published atomically."""

    def handle_output(self, context: OutputContext, obj: Path) -> None:
        def build(target: Path) -> None:
            for item in Path(obj).iterdir():
                shutil.move(str(item), target / item.name)

        version = VersionedDir(adapter_root()).write(build)
        shutil.rmtree(obj, ignore_errors=True)
        context.add_output_metadata({"path": str(version), "stable_path": str(adapter_root() / "current")})

    def load_input(self, context: InputContext) -> Path:
        path = latest_adapter()
        if path is None:
            raise FileNotFoundError(f"no adapter under {adapter_root()}: materialize student_adapter first")
        return path
