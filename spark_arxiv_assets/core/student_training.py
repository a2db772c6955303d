"""LoRA / QLoRA fine-tuning of the student with TRL's SFTTrainer and PEFT.

Loss is on the assistant answer only (prompt-completion format). Precision follows the
hardware, not TRL's default: bf16 only where the GPU supports it; fp32 on CPU, where
emulated bf16 made each step ≈17× slower on the machines we measured.
"""
from __future__ import annotations

import json
import resource
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable


@dataclass(frozen=True)
class TrainingOptions:
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    target_modules: str = "all-linear"
    epochs: float = 3.0
    max_steps: int = -1  # > 0 overrides epochs
    learning_rate: float = 2e-4
    batch_size: int = 4
    gradient_accumulation: int = 1
    max_length: int = 1024  # RAFT prompts hold k passages; an example cut before its answer is dropped
    quantization: str = "auto"  # auto: 4-bit NF4 on CUDA, none on CPU | none | 4bit
    gradient_checkpointing: bool | None = None  # None: on for 4-bit on CUDA (the QLoRA recipe), else off
    seed: int = 13


@dataclass
class TrainingReport:
    device: str
    dtype: str
    quantization: str
    trainable_parameters: int
    total_parameters: int
    train_examples: int
    eval_examples: int
    steps: int
    seconds: float  # the training loop (what tokens/s is over)
    setup_seconds: float  # loading the model, tokenizing, wrapping with PEFT
    tokens_seen: int
    tokens_per_second: float
    peak_memory_mb: float
    quantized_layers: int = 0  # bitsandbytes 4-bit linear layers found in the trained model
    losses: list[tuple[int, float]] = field(default_factory=list)  # (step, training loss)
    eval_loss: float | None = None

    def to_json(self) -> dict:
        return asdict(self)


def precision_flags(dtype: str) -> dict:
    """SFTConfig's mixed-precision flags for the placement's dtype (TRL defaults to bf16, even on CPUs)."""
    return {"bf16": dtype == "bfloat16", "fp16": dtype == "float16"}


def count_4bit_layers(model) -> int:
    """Linear layers really held in 4 bits (what QLoRA promises), counted on the model."""
    try:
        from bitsandbytes.nn import Linear4bit
    except ImportError:
        return 0
    return sum(isinstance(module, Linear4bit) for module in model.modules())


def prompt_completion_rows(examples: list[dict]) -> list[dict]:
    """Chat `messages` examples → TRL's conversational prompt-completion format, so only the
    assistant's answer is trained on."""
    return [{"prompt": ex["messages"][:-1], "completion": ex["messages"][-1:]} for ex in examples]


def trainer_class(on_cuda: bool):
    """TRL's SFTTrainer; on the CPU with the model's own loss. TRL scores tokens through a fused, tiled LM
    head that skips prompt positions only where Triton runs; its CPU fallback scores every position and
    computes entropy and top-1 metrics as well, which made each step ≈1.3x slower here
    (benchmarks/training_throughput.py)."""
    from transformers import Trainer
    from trl import SFTTrainer

    if on_cuda:
        return SFTTrainer

    class ModelLossSFTTrainer(SFTTrainer):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            return Trainer.compute_loss(self, model, {**inputs, "use_cache": False}, return_outputs, num_items_in_batch)

    return ModelLossSFTTrainer


def train_lora(model_path: str, train: list[dict], evaluation: list[dict], options: TrainingOptions, output_dir: Path,
               log: Callable[[str], None] = print, device: str = "auto") -> TrainingReport:
    """Trains and saves a PEFT adapter (+ tokenizer, config, log) into `output_dir`."""
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import TrainerCallback
    from trl import SFTConfig

    from ..resources.causal_lm import choose_placement, load_causal_lm, load_tokenizer, resolve_causal_lm

    setup_started = time.perf_counter()
    placement = choose_placement(device, options.quantization)
    checkpointing = options.gradient_checkpointing
    if checkpointing is None:  # recomputing activations saves memory, costs time: 0.65x speed, 135M student, H100
        checkpointing = placement.on_cuda and placement.four_bit
    if placement.on_cuda:
        torch.cuda.reset_peak_memory_stats()
    model = load_causal_lm(model_path, placement, for_training=True, gradient_checkpointing=checkpointing)
    tokenizer = load_tokenizer(resolve_causal_lm(model_path))

    losses: list[tuple[int, float]] = []

    class ProgressCallback(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs:
                losses.append((state.global_step, float(logs["loss"])))
                elapsed = time.perf_counter() - started
                eta = elapsed / max(1, state.global_step) * (state.max_steps - state.global_step)
                log(f"training: step {state.global_step}/{state.max_steps}, loss {logs['loss']:.4f}, ETA {eta:.0f}s")

    config = SFTConfig(
        output_dir=str(output_dir / "checkpoints"), num_train_epochs=options.epochs, max_steps=options.max_steps,
        per_device_train_batch_size=options.batch_size, per_device_eval_batch_size=options.batch_size,
        gradient_accumulation_steps=options.gradient_accumulation, learning_rate=options.learning_rate,
        lr_scheduler_type="cosine", warmup_steps=0, logging_steps=1, save_strategy="no", report_to="none",
        eval_strategy="no", max_length=options.max_length, packing=False, completion_only_loss=True,
        gradient_checkpointing=checkpointing, use_cpu=not placement.on_cuda, dataloader_pin_memory=placement.on_cuda,
        seed=options.seed, **precision_flags(placement.dtype))
    lora = LoraConfig(r=options.lora_r, lora_alpha=options.lora_alpha, lora_dropout=options.lora_dropout,
                      target_modules=options.target_modules, task_type="CAUSAL_LM")
    trainer = trainer_class(placement.on_cuda)(
        model=model, args=config, train_dataset=Dataset.from_list(prompt_completion_rows(train)),
        eval_dataset=Dataset.from_list(prompt_completion_rows(evaluation)) if evaluation else None,
        processing_class=tokenizer, peft_config=lora, callbacks=[ProgressCallback()])
    trainable = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in trainer.model.parameters())
    quantized_layers = count_4bit_layers(trainer.model)
    started = time.perf_counter()  # the ETA and tokens/s count training steps, not loading and tokenizing
    result = trainer.train()
    seconds = time.perf_counter() - started
    setup_seconds = started - setup_started
    eval_loss = float(trainer.evaluate()["eval_loss"]) if evaluation else None
    tokens_per_epoch = sum(len(ids) for ids in trainer.train_dataset["input_ids"])
    tokens_seen = int(tokens_per_epoch * trainer.state.epoch)
    peak_mb = (torch.cuda.max_memory_allocated() / 2**20 if placement.on_cuda
               else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)

    trainer.model.save_pretrained(output_dir)
    tokenizer.save_pretrained(output_dir)
    report = TrainingReport(device=placement.device, dtype=placement.dtype, quantization=placement.quantization,
                            trainable_parameters=trainable, total_parameters=total, train_examples=len(train),
                            eval_examples=len(evaluation), steps=int(result.global_step), seconds=seconds,
                            setup_seconds=setup_seconds,
                            tokens_seen=tokens_seen, tokens_per_second=tokens_seen / seconds if seconds else 0.0,
                            peak_memory_mb=peak_mb, quantized_layers=quantized_layers, losses=losses,
                            eval_loss=eval_loss)
    (output_dir / "training_report.json").write_text(json.dumps(report.to_json(), indent=2))
    (output_dir / "training_options.json").write_text(json.dumps({**asdict(options), "base_model": model_path}, indent=2))
    (output_dir / "log_history.json").write_text(json.dumps(trainer.state.log_history, indent=2))
    import shutil

    shutil.rmtree(output_dir / "checkpoints", ignore_errors=True)
    return report


def merge_adapter(model_path: str, adapter_dir: Path, target: Path) -> Path:
    """Full weights with the adapter folded in, for serving without PEFT."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ..resources.causal_lm import resolve_causal_lm

    base = AutoModelForCausalLM.from_pretrained(resolve_causal_lm(model_path))
    merged = PeftModel.from_pretrained(base, adapter_dir).merge_and_unload()
    merged.save_pretrained(target)
    AutoTokenizer.from_pretrained(adapter_dir).save_pretrained(target)
    return target
