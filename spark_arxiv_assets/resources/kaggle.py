"""The Kaggle arXiv snapshot, downloaded through the `kaggle` package when configured."""
from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

import requests
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
        staging = target_dir / ".download"  # a killed download never leaves a partial file under the final name
        staging.mkdir(parents=True, exist_ok=True)
        try:
            api.dataset_download_file(self.dataset, self.file_name, path=str(staging))
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else "?"
            raise RuntimeError(f"Kaggle refused to send {self.dataset}/{self.file_name} (HTTP {status}: {exc}); check "
                               "KAGGLE_USERNAME/KAGGLE_KEY or ~/.kaggle/kaggle.json") from None
        archive, plain = staging / f"{self.file_name}.zip", staging / self.file_name
        if archive.exists():
            partial = staging / f"{self.file_name}.part"
            with zipfile.ZipFile(archive) as zf, zf.open(self.file_name) as src, open(partial, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            partial.replace(target)
            archive.unlink()
        else:
            plain.replace(target)
        return target
