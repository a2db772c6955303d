"""The Kaggle arXiv snapshot, downloaded through the `kaggle` package when configured."""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

from dagster import ConfigurableResource


class KaggleSnapshot(ConfigurableResource):
    """Credentials come only from the environment (KAGGLE_USERNAME/KAGGLE_KEY or
    ~/.kaggle/kaggle.json) and are never logged."""

    dataset: str = "Cornell-University/arxiv"
    file_name: str = "arxiv-metadata-oai-snapshot.json"

    def download(self, target_dir: Path) -> Path:
        target = target_dir / self.file_name
        if target.exists():
            return target
        has_env = os.environ.get("KAGGLE_USERNAME") and os.environ.get("KAGGLE_KEY")
        has_file = (Path.home() / ".kaggle" / "kaggle.json").exists()
        if not (has_env or has_file):
            raise RuntimeError("Kaggle credentials missing: set KAGGLE_USERNAME and KAGGLE_KEY "
                               "or create ~/.kaggle/kaggle.json, or use source='file' with a local copy")
        from kaggle.api.kaggle_api_extended import KaggleApi  # authenticates on import: keep lazy

        api = KaggleApi()
        api.authenticate()
        target_dir.mkdir(parents=True, exist_ok=True)
        api.dataset_download_file(self.dataset, self.file_name, path=str(target_dir))
        archive = target_dir / f"{self.file_name}.zip"
        if archive.exists():
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(target_dir)
            archive.unlink()
        return target
