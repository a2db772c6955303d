"""The Kaggle arXiv snapshot, downloaded through the `kaggle` package when configured."""
from __future__ import annotations

import os
import shutil
import time
import zipfile
from pathlib import Path
from typing import Callable

import requests
from dagster import ConfigurableResource


class KaggleSnapshot(ConfigurableResource):
    """Credentials come only from the environment (KAGGLE_USERNAME/KAGGLE_KEY or
    ~/.kaggle/kaggle.json) and are never logged."""

    dataset: str = "Cornell-University/arxiv"  # the Kaggle dataset holding the snapshot
    file_name: str = "arxiv-metadata-oai-snapshot.json"  # the JSON-lines file in it
    refresh_after_days: float = 7.0  # Kaggle updates the snapshot weekly; an older copy is downloaded again

    def download(self, target_dir: Path, log: Callable[[str], None] = print) -> Path:
        """The local snapshot, downloaded when missing or older than `refresh_after_days`; when a
        refresh fails, the older copy is used (and said so)."""
        target = target_dir / self.file_name
        if target.exists():
            age_days = (time.time() - target.stat().st_mtime) / 86400
            if age_days < self.refresh_after_days:
                return target
            try:
                return self._fetch(target_dir, target)
            except RuntimeError as exc:
                log(f"kept the {age_days:.0f}-day-old snapshot: refreshing it failed ({exc})")
                return target
        return self._fetch(target_dir, target)

    def _fetch(self, target_dir: Path, target: Path) -> Path:
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
        os.utime(target)  # the age that refresh_after_days counts is the download's, not Kaggle's Last-Modified
        return target
