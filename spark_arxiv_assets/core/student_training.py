"""LoRA / QLoRA fine-tuning of the student with TRL's SFTTrainer and PEFT.

Loss is on the assistant answer only (prompt-completion format). Precision follows the
hardware, not TRL's default: bf16 only where the GPU supports it; fp32 on CPU, where
emulated bf16 made each step ≈17× slower on the machines we measured.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from .causal_lm import Quantization, choose_placement, load_causal_lm, load_tokenizer, resolve_causal_lm
from .defaults import SEED
from .resource_usage import UsageMeter


@dataclass(frozen=True)
class TrainingOptions:
    lora_r: int = 16  # LoRA rank
    lora_alpha: int = 32  # LoRA scale: the update is multiplied by alpha / r
    lora_dropout: float = 0.0  # 0.05 cost 20 % of CPU speed and 0.5 GB at the same losses (README)
    target_modules: str = "all-linear"
    epochs: float = 3.0  # passes over the training rows
    max_steps: int = -1  # > 0 overrides epochs
    learning_rate: float = 2e-4  # AdamW, cosine schedule
    batch_size: int = 4  # examples per optimizer step (on a CPU accumulated one at a time)
    gradient_accumulation: int = 1
    max_length: int = 1024  # RAFT prompts hold k passages; an example cut before its answer is dropped
    quantization: Quantization = "auto"  # auto: 4-bit NF4 on CUDA, none on CPU
    gradient_checkpointing: bool | None = None  # None: on for 4-bit on CUDA (the QLoRA recipe), else off
    seed: int = SEED


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


def answer_only_loss(model, inputs: dict, num_items_in_batch=None):
    """The causal-LM loss with the LM head applied to the answer positions only. A RAFT prompt is
    ~600 tokens and its answer ~40; logits over the 49,152-token vocabulary for every position (in
    fp32, with their softmax and gradient) were the largest tensors of a step. Same value as the
    model's own loss: cross-entropy of each position's next token where the label is not -100,
    summed and divided by `num_items_in_batch` (the Trainer's count over the accumulated batch), or
    averaged without it. None for a model whose logits are more than its LM head (soft-capped or
    scaled): use the model's loss there."""
    import torch.nn.functional as F

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    config = base.config.get_text_config() if hasattr(base.config, "get_text_config") else base.config
    if getattr(config, "final_logit_softcapping", None) or getattr(config, "logit_scale", None):
        return None
    decoder, head = base.get_decoder(), base.get_output_embeddings()
    if decoder is None or head is None:
        return None
    model_inputs = {k: v for k, v in inputs.items() if k not in ("labels", "completion_mask", "assistant_masks")}
    hidden = decoder(**model_inputs, use_cache=False).last_hidden_state
    targets = inputs["labels"][:, 1:]
    scored = targets != -100
    logits = head(hidden[:, :-1][scored]).float()
    loss = F.cross_entropy(logits, targets[scored], reduction="sum")
    return loss / num_items_in_batch if num_items_in_batch is not None else loss / scored.sum().clamp(min=1)


def trainer_class(on_cuda: bool):
    """TRL's SFTTrainer; on the CPU with `answer_only_loss`. TRL scores tokens through a fused, tiled
    LM head that skips prompt positions only where Triton runs; its CPU fallback scores every position
    and computes entropy and top-1 metrics as well (≈1.3x slower here, benchmarks/training_throughput.py),
    and the model's own loss builds logits for every position."""
    from transformers import Trainer
    from trl import SFTTrainer

    if on_cuda:
        return SFTTrainer

    class AnswerLossSFTTrainer(SFTTrainer):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            loss = answer_only_loss(model, inputs, num_items_in_batch)
            if loss is None:
                return Trainer.compute_loss(self, model, {**inputs, "use_cache": False}, return_outputs,
                                            num_items_in_batch)
            return (loss, {"loss": loss}) if return_outputs else loss  # the evaluation needs the loss only

    return AnswerLossSFTTrainer


def micro_batching(options: TrainingOptions, on_cuda: bool) -> tuple[int, int]:
    """(examples per forward pass, passes per optimizer step). On the CPU every example is its own
    micro-batch and gradients accumulate to `batch_size`: no padding, and a quarter of the
    activations of a batch of 4 (on the demo's RAFT rows: peak 3.0 GB instead of 9.2 GB, and
    faster). A GPU wants whole batches."""
    if on_cuda:
        return options.batch_size, options.gradient_accumulation
    return 1, options.batch_size * options.gradient_accumulation


def train_lora(model_path: str, train: list[dict], evaluation: list[dict], options: TrainingOptions, output_dir: Path,
               log: Callable[[str], None] = print, device: str = "auto") -> TrainingReport:
    """Trains and saves a PEFT adapter (+ tokenizer, config, log) into `output_dir`; its report's peak
    memory is the training's own (GPU, or this process's resident memory), not the process's before."""
    with UsageMeter() as meter:
        return _train_lora(model_path, train, evaluation, options, output_dir, log, device, meter)


def _train_lora(model_path: str, train: list[dict], evaluation: list[dict], options: TrainingOptions,
                output_dir: Path, log: Callable[[str], None], device: str, meter: UsageMeter) -> TrainingReport:
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import TrainerCallback
    from trl import SFTConfig


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

    micro_batch, accumulation = micro_batching(options, placement.on_cuda)
    config = SFTConfig(
        output_dir=str(output_dir / "checkpoints"), num_train_epochs=options.epochs, max_steps=options.max_steps,
        per_device_train_batch_size=micro_batch, per_device_eval_batch_size=options.batch_size,
        gradient_accumulation_steps=accumulation, learning_rate=options.learning_rate,
        lr_scheduler_type="cosine", warmup_steps=0, logging_steps=1, save_strategy="no", report_to="none",
        eval_strategy="no", max_length=options.max_length, packing=False, completion_only_loss=True,
        activation_checkpointing=checkpointing, use_cpu=not placement.on_cuda, dataloader_pin_memory=placement.on_cuda,
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
    usage = meter.usage()
    peak_mb = usage.peak_gpu_mb if placement.on_cuda and usage.peak_gpu_mb is not None else usage.peak_process_mb

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


    base = AutoModelForCausalLM.from_pretrained(resolve_causal_lm(model_path))
    merged = PeftModel.from_pretrained(base, adapter_dir).merge_and_unload()
    merged.save_pretrained(target)
    AutoTokenizer.from_pretrained(adapter_dir).save_pretrained(target)
    return target
