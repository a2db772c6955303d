"""`student_adapter`: LoRA (CPU) or QLoRA (CUDA) fine-tuning of the student on the train split."""
import json
import tempfile
import uuid
from pathlib import Path
from typing import Optional

import pandas as pd
from dagster import AssetCheckResult, AssetExecutionContext, Config, MetadataValue, Output, asset, asset_check

from ..core.causal_lm import Quantization, load_student, resolve_causal_lm, write_base_model_file
from ..core.defaults import SMALL_LM
from ..core.options import options_from
from ..core.plots import loss_curve
from ..core.rag_prompt import training_example
from ..core.student_training import TrainingOptions, TrainingReport, merge_adapter, train_lora
from ..resources.storage import ArtifactStorage
from ..settings import data_dir
from ..storage.adapter_store import LINEAGE_FILE, current_adapter_version
from .usage import reports_usage


class StudentConfig(Config):
    """The student and its LoRA training (options documented in `core/student_training.TrainingOptions`)."""
    base_model: str = SMALL_LM  # e.g. mistralai/Mistral-7B-Instruct-v0.3 on a GPU box
    device: str = "auto"  # auto: CUDA when there is one | cpu | cuda[:n]
    quantization: Quantization = TrainingOptions.quantization  # auto: 4-bit NF4 (QLoRA) on CUDA, none on CPU
    lora_r: int = TrainingOptions.lora_r
    lora_alpha: int = TrainingOptions.lora_alpha
    lora_dropout: float = TrainingOptions.lora_dropout
    epochs: float = TrainingOptions.epochs
    max_steps: int = TrainingOptions.max_steps  # > 0 overrides epochs
    learning_rate: float = TrainingOptions.learning_rate
    batch_size: int = TrainingOptions.batch_size
    max_length: int = TrainingOptions.max_length  # prompt (k passages) + answer; an example cut before its answer is dropped
    gradient_checkpointing: Optional[bool] = TrainingOptions.gradient_checkpointing  # None: on for 4-bit on CUDA
    merge: bool = False  # also write full merged weights (not with 4-bit bases)


def _examples(frame: pd.DataFrame) -> list[dict]:
    """RAFT prompts: k passages (the source among distractors, or not at all) and a short cited target."""
    if "target" not in frame.columns:
        raise ValueError("qa_dataset has no RAFT prompts (it was written by an older version): re-materialize it")
    return [training_example(q, t, ps) for q, t, ps in zip(frame["question"], frame["target"], frame["passages"])]


@asset(group_name="student", io_manager_key="model_dir_io_manager", kinds={"pytorch"})
@reports_usage
def student_adapter(context: AssetExecutionContext, config: StudentConfig, qa_dataset: pd.DataFrame,
                    storage: ArtifactStorage) -> Output[Path]:
    """A standard PEFT adapter directory, loadable with `PeftModel.from_pretrained`, with a
    `lineage.json` naming the papers (and paper families) it was trained on, so no evaluation can
    count them as held out, and the adapter version it replaces (published only if that is still
    current when training ends)."""
    based_on = current_adapter_version(storage.base_uri)
    train_rows = qa_dataset[qa_dataset["split"] == "train"]
    train = _examples(train_rows)
    evaluation = _examples(qa_dataset[qa_dataset["split"] == "eval"])
    if not train:
        raise ValueError("qa_dataset has no training rows: nothing to fine-tune on (see its filter funnel)")
    base = resolve_causal_lm(config.base_model)
    options = options_from(TrainingOptions, config)
    staging = Path(tempfile.mkdtemp(prefix=".adapter-", dir=data_dir()))
    context.log.info(f"fine-tuning {config.base_model} on {len(train)} examples (device {config.device})")
    report = train_lora(base, train, evaluation, options, staging, log=context.log.info, device=config.device)
    write_base_model_file(staging, config.base_model)
    _write_lineage(staging, train_rows, based_on)
    if config.merge and report.quantization == "none":
        merge_adapter(base, staging, staging / "merged")
    return Output(staging, metadata=_training_metadata(config.base_model, report, train_rows))


def _write_lineage(adapter_dir: Path, train_rows: pd.DataFrame, based_on: str | None) -> None:
    """What the adapter was trained on (so no evaluation counts those papers as held out) and the
    adapter version it replaces (so it is published only over that one)."""
    families = train_rows["paper_family"] if "paper_family" in train_rows else train_rows["paper_id"]
    (adapter_dir / LINEAGE_FILE).write_text(json.dumps({
        "adapter_id": uuid.uuid4().hex, "based_on": based_on, "training_papers": sorted(set(train_rows["paper_id"])),
        "training_families": sorted(set(families)), "train_examples": len(train_rows)}, indent=1))


def _training_metadata(base_model: str, report: TrainingReport, train_rows: pd.DataFrame) -> dict:
    return {
        "base_model": base_model,
        "device": report.device,
        "dtype": report.dtype,
        "quantization": report.quantization,
        "quantized_layers": report.quantized_layers,
        "trainable_parameters": report.trainable_parameters,
        "trainable_share": round(report.trainable_parameters / report.total_parameters, 5),
        "train_examples": report.train_examples,
        "training_papers": MetadataValue.json(sorted(set(train_rows["paper_id"]))),
        "eval_examples": report.eval_examples,
        "steps": report.steps,
        "final_train_loss": report.losses[-1][1] if report.losses else float("nan"),
        "eval_loss": report.eval_loss if report.eval_loss is not None else float("nan"),
        "tokens_per_second": round(report.tokens_per_second, 1),
        "peak_memory_mb": round(report.peak_memory_mb, 1),
        "peak_memory_kind": "cuda max allocated" if report.device.startswith("cuda") else "process peak RSS",
        "training_seconds": round(report.seconds, 1),
        "setup_seconds": round(report.setup_seconds, 1),
        "loss_curve": MetadataValue.md(loss_curve(report.losses, report.eval_loss)),
    }


@asset_check(asset=student_adapter, description="The adapter loads with PeftModel.from_pretrained and generates.")
def adapter_loads_and_generates(student_adapter: Path) -> AssetCheckResult:
    model, tokenizer = load_student(student_adapter)  # placed as the evaluation and the chat place it
    inputs = tokenizer("Question: what is retrieval?", return_tensors="pt").to(model.device)
    output = model.generate(**inputs, max_new_tokens=8, do_sample=False, pad_token_id=tokenizer.eos_token_id)
    new_tokens = int(output.shape[1] - inputs["input_ids"].shape[1])
    return AssetCheckResult(passed=new_tokens > 0, metadata={"generated_tokens": new_tokens,
                                                             "device": str(model.device)})
