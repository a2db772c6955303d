"""Where things live. `SPARK_ARXIV_STORAGE_URI` moves the artifacts (a folder or `s3://bucket/prefix`);
`SPARK_ARXIV_DATA_DIR` is this machine's working folder (sample, downloads, caches)."""
from __future__ import annotations

import os
from pathlib import Path

STORAGE_URI_VARIABLE = "SPARK_ARXIV_STORAGE_URI"


def data_dir() -> Path:
    """Root for the sample corpus, downloads before upload, model caches, and (by default) artifacts."""
    return Path(os.environ.get("SPARK_ARXIV_DATA_DIR", Path.cwd() / "data")).resolve()


def storage_uri() -> str:
    """Root of every artifact (tables, page files, index and adapter versions, evaluation files, the
    teacher cache): the data dir unless SPARK_ARXIV_STORAGE_URI names a folder or an fsspec URI."""
    return os.environ.get(STORAGE_URI_VARIABLE) or str(data_dir())


def models_cache_dir() -> Path:
    """Unpacked/converted model files; shareable between data dirs (SPARK_ARXIV_MODELS_DIR)."""
    return Path(os.environ.get("SPARK_ARXIV_MODELS_DIR", data_dir() / "models")).resolve()


def local_cache_dir() -> Path:
    """Local copies of immutable remote versions (index, adapter) that need a filesystem path."""
    return data_dir() / "cache"


def sample_dir() -> Path:
    return data_dir() / "sample"
