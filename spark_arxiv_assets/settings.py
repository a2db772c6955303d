"""Where artifacts live. One environment variable moves everything."""
from __future__ import annotations

import os
from pathlib import Path


def data_dir() -> Path:
    """Root for downloaded PDFs, the sample corpus, model caches and asset storage."""
    return Path(os.environ.get("SPARK_ARXIV_DATA_DIR", Path.cwd() / "data")).resolve()


def assets_dir() -> Path:
    return data_dir() / "assets"


def models_cache_dir() -> Path:
    """Unpacked/converted model files; shareable between data dirs (SPARK_ARXIV_MODELS_DIR)."""
    return Path(os.environ.get("SPARK_ARXIV_MODELS_DIR", data_dir() / "models")).resolve()


def sample_dir() -> Path:
    return data_dir() / "sample"
