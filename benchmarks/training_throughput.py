"""Student training throughput: the asset's `train_lora` (TRL SFTTrainer + PEFT) against a plain
PyTorch + PEFT loop on the same examples, dtype, LoRA settings and batches, plus TRL's own default
loss (its fused LM head) to show where time went before. On CUDA it also compares QLoRA (4-bit NF4)
with 16-bit LoRA: tokens/s and peak GPU memory.

    python -m benchmarks.training_throughput                    # CPU, SmolLM2-135M (part of `make bench`)
    python -m benchmarks.training_throughput --device cuda      # + QLoRA vs 16-bit LoRA
    python -m benchmarks.training_throughput --device cuda --random-weights --model benchmarks/model_shapes/llama-1.1b

`--random-weights` builds the model from its config with random weights (speed and memory are those of
the real model; the losses mean nothing), so a GPU box needs no weights shipped to it.
"""
from __future__ import annotations

import argparse
import json
import re
import tempfile
import traceback
from dataclasses import replace
from importlib import resources
from pathlib import Path

from spark_arxiv_assets.core import student_training
from spark_arxiv_assets.core.causal_lm import (choose_placement, load_causal_lm, load_student, load_tokenizer,
                                               resolve_causal_lm, write_base_model_file)
from spark_arxiv_assets.core.rag_prompt import answer_messages
from spark_arxiv_assets.core.resource_usage import UsageMeter
from spark_arxiv_assets.core.student_training import TrainingOptions, prompt_completion_rows, train_lora

from .common import write_section

MAX_LENGTH = 1024  # every example fits whole, so every variant trains on the same tokens
NOTES = {
    "cpu": "- On a CPU the asset scores the answer tokens only (`answer_only_loss`: the LM head on answer positions, "
           "the same loss as the model's own) and runs one example per forward pass, accumulating gradients to the "
           "batch: no padding, no logits over the whole vocabulary for every prompt position. The plain loop pads a "
           "batch and takes the model's loss over all positions; TRL's fallback does as well and adds entropy and "
           "top-1 metrics.",
    "cuda": "- On CUDA the asset is TRL's SFTTrainer as it comes: its fused LM head (Triton) scores only the answer "
            "tokens, while the plain loop builds logits over the whole vocabulary for every position. Gradient "
            "checkpointing (default for 4-bit) trades time for memory; the QLoRA peak includes the fp32 copies of "
            "the embeddings and LM head that PEFT's `prepare_model_for_kbit_training` makes.",
}



def raft_shaped_examples(count: int, passages_per_prompt: int = 3) -> list[dict]:
    """What the student is trained on: a question, k passages from the sample, a short cited answer."""
    # The sample's JSON, read directly: a GPU box needs no PyMuPDF for this benchmark.
    papers = json.loads(resources.files("spark_arxiv_assets").joinpath("sample/papers.json").read_text("utf-8"))
    bodies = [body for paper in papers for _, body in paper["sections"]]
    rows = []
    for i in range(count):
        passages = [bodies[(i * passages_per_prompt + j) % len(bodies)] for j in range(passages_per_prompt)]
        answer = passages[0].split(". ")[0].rstrip(".") + ". [1]"
        rows.append({"messages": answer_messages(f"What does the first passage establish ({i})?", passages)
                     + [{"role": "assistant", "content": answer}]})
    return rows


def with_random_weights(shape: str, tokenizer_source: str, folder: Path) -> str:
    """`shape`'s architecture (a config dir or id) with random weights, saved with a tokenizer whose
    vocabulary fits it."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(resolve_causal_lm(shape))
    tokenizer = load_tokenizer(resolve_causal_lm(tokenizer_source))
    if len(tokenizer) > config.vocab_size:
        raise ValueError(f"the tokenizer has {len(tokenizer)} tokens, the shape only {config.vocab_size}")
    with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


def plain_peft_loop(model_path: str, examples: list[dict], options: TrainingOptions, device: str) -> dict:
    """The baseline a user would write: tokenize prompt + answer, mask the prompt, model loss, AdamW."""
    import torch
    from peft import LoraConfig, get_peft_model

    placement = choose_placement(device, "none")
    tokenizer = load_tokenizer(resolve_causal_lm(model_path))
    model = load_causal_lm(model_path, placement, for_training=True)
    model = get_peft_model(model, LoraConfig(r=options.lora_r, lora_alpha=options.lora_alpha, lora_dropout=options.lora_dropout,
                                             target_modules=options.target_modules, task_type="CAUSAL_LM"))
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=options.learning_rate)
    batches = []
    for start in range(0, len(examples), options.batch_size):
        ids, labels = [], []
        for row in prompt_completion_rows(examples[start:start + options.batch_size]):
            prompt = tokenizer.apply_chat_template(row["prompt"], add_generation_prompt=True, return_dict=True)["input_ids"]
            full = tokenizer.apply_chat_template(row["prompt"] + row["completion"], return_dict=True)["input_ids"]
            if len(prompt) >= options.max_length:
                continue  # the answer would be cut off: TRL drops such rows too
            ids.append(full[:options.max_length])
            labels.append(([-100] * len(prompt) + full[len(prompt):])[:options.max_length])
        width = max(map(len, ids))
        batches.append({"input_ids": torch.tensor([x + [tokenizer.pad_token_id] * (width - len(x)) for x in ids]),
                        "attention_mask": torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x in ids]),
                        "labels": torch.tensor([x + [-100] * (width - len(x)) for x in labels])})
    autocast = torch.autocast("cuda", dtype=getattr(torch, placement.dtype)) if placement.on_cuda else _no_autocast()
    if placement.on_cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    losses = []
    with UsageMeter() as meter:
        for batch in batches:
            batch = {k: v.to(placement.device) for k, v in batch.items()}
            with autocast:
                loss = model(**batch, use_cache=False).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(float(loss))
        if placement.on_cuda:
            torch.cuda.synchronize()
        usage = meter.usage()
    tokens = int(sum(int(b["attention_mask"].sum()) for b in batches))
    return {"seconds": usage.seconds, "tokens": tokens, "tokens_per_second": tokens / usage.seconds, "losses": losses,
            "peak_memory_mb": torch.cuda.max_memory_allocated() / 2**20 if placement.on_cuda else usage.peak_process_mb}


def _no_autocast():
    from contextlib import nullcontext

    return nullcontext()


def asset_training(model_path: str, examples: list[dict], options: TrainingOptions, device: str,
                   trl_default_loss: bool = False, serve_check: bool = False) -> dict:
    """`train_lora` as the asset runs it (or, for comparison, with TRL's own loss on every device).
    `serve_check` then loads the adapter the way the evaluation and the chat do, and answers once."""
    from trl import SFTTrainer

    chosen = student_training.trainer_class
    if trl_default_loss:
        student_training.trainer_class = lambda on_cuda: SFTTrainer
    served = {}
    try:
        with tempfile.TemporaryDirectory() as out:
            report = train_lora(model_path, examples, [], options, Path(out), log=lambda _: None, device=device)
            if serve_check:
                served = serve_once(Path(out), model_path, device)
    finally:
        student_training.trainer_class = chosen
    return {**served, "seconds": report.seconds, "setup_seconds": report.setup_seconds, "tokens": report.tokens_seen,
            "tokens_per_second": report.tokens_per_second, "losses": [loss for _, loss in report.losses],
            "peak_memory_mb": report.peak_memory_mb,
            "quantization": report.quantization, "dtype": report.dtype, "device": report.device}


def serve_once(adapter: Path, model_path: str, device: str) -> dict:
    from spark_arxiv_assets.core.generation import generate_chat

    write_base_model_file(adapter, model_path)
    model, tokenizer = load_student(adapter, device=device)
    passages = ["Hybrid retrieval fuses BM25 and dense rankings by reciprocal rank fusion with k = 60.",
                "The index is rebuilt incrementally when new papers arrive."]
    answer = generate_chat(model, tokenizer, [answer_messages("What value of k did reciprocal rank fusion use?", passages)],
                           max_new_tokens=32)[0].text
    layers = student_training.count_4bit_layers(model)
    return {"served_on": str(model.device), "served_4bit_layers": layers, "served_answer": answer}


def _variant(fn, model_path: str, examples: list[dict], device: str, kwargs: dict) -> dict:
    """A warm-up step (first-use costs land on no variant), then the measured run."""
    options = kwargs["options"]
    warm = replace(options, max_steps=1)
    fn(model_path, examples[:options.batch_size], warm, device,
       **{k: v for k, v in kwargs.items() if k not in ("options", "serve_check")})
    return fn(model_path, examples, options, device, **{k: v for k, v in kwargs.items() if k != "options"})


def _isolated(fn, model_path: str, examples: list[dict], device: str, kwargs: dict) -> dict:
    """Each variant in a fresh process, so its peak memory is its own and not what the variants
    before it left in the process; on CUDA the GPU's peak counter already is."""
    import multiprocessing

    if device.startswith("cuda"):
        return _variant(fn, model_path, examples, device, kwargs)
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(_variant, (fn, model_path, examples, device, kwargs))


def run(model: str, device: str, steps: int, batch_size: int, random_weights: bool = False,
        tokenizer: str = "SmolLM2-135M-Instruct") -> dict:
    import torch

    placement = choose_placement(device, "none")
    keep = tempfile.TemporaryDirectory()
    model_path = (with_random_weights(model, tokenizer, Path(keep.name)) if random_weights
                  else resolve_causal_lm(model))
    examples = raft_shaped_examples(steps * batch_size)  # one epoch: every variant sees the same rows once
    options = TrainingOptions(max_steps=steps, batch_size=batch_size, quantization="none", max_length=MAX_LENGTH)
    measure = {"plain PyTorch + PEFT loop": (plain_peft_loop, {"options": options}),
               "asset (train_lora)": (asset_training, {"options": options})}
    if placement.on_cuda:
        qlora = TrainingOptions(max_steps=steps, batch_size=batch_size, quantization="4bit", max_length=MAX_LENGTH)
        measure["asset, QLoRA 4-bit NF4"] = (asset_training, {"options": qlora, "serve_check": True})
        # The same memory saving without quantization, to tell the two apart
        measure["asset, 16-bit LoRA + gradient checkpointing"] = (
            asset_training, {"options": replace(options, gradient_checkpointing=True)})
    else:
        measure["TRL's default loss (fused LM head)"] = (asset_training, {"options": options, "trl_default_loss": True})
        # what the defaults trade: LoRA dropout (the old default) and gradient checkpointing (off on CPUs)
        measure["asset, lora_dropout 0.05"] = (asset_training, {"options": replace(options, lora_dropout=0.05)})
        measure["asset + gradient checkpointing"] = (
            asset_training, {"options": replace(options, gradient_checkpointing=True)})
    variants = {}
    for name, (fn, kwargs) in measure.items():
        try:
            variants[name] = _isolated(fn, model_path, examples, device, kwargs)
        except Exception as error:  # noqa: BLE001 - a variant that fails is a result too (shown in the table)
            traceback.print_exc()
            variants[name] = {"error": f"{type(error).__name__}: {error}"[:300]}
    keep.cleanup()
    return {"model": model + (" (random weights)" if random_weights else ""), "device": placement.device, "dtype": placement.dtype, "steps": steps,
            "batch_size": batch_size, "examples": len(examples), "torch_threads": torch.get_num_threads(),
            "gpu": torch.cuda.get_device_name() if placement.on_cuda else None, "torch": torch.__version__,
            "variants": variants}


def markdown(result: dict) -> str:
    base = result["variants"]["plain PyTorch + PEFT loop"]
    lines = []
    for name, v in result["variants"].items():
        if "error" in v:
            lines.append(f"| {name} | failed: {v['error']} | | | | |")
            continue
        memory = f"{v['peak_memory_mb']:.0f}" if v.get("peak_memory_mb") else "–"
        lines.append(f"| {name} | {v['tokens_per_second']:.1f} | {v['tokens_per_second'] / base['tokens_per_second']:.2f} "
                     f"| {v['seconds'] / result['steps']:.2f} | {memory} | {v['losses'][0]:.3f} → {v['losses'][-1]:.3f} |")
    where = result["gpu"] or f"CPU, {result['torch_threads']} threads"
    random = "(random weights)" in result["model"]
    served = [f"- {name}: served by `load_student` on {v['served_on']} with {v['served_4bit_layers']} 4-bit layers"
              + ("" if random else f"; answer to a 'value of k' prompt: {v['served_answer']!r}")
              for name, v in result["variants"].items() if "served_on" in v]
    served.append(NOTES["cuda" if result["gpu"] else "cpu"])
    return (f"## Student training throughput: {result['model']} on {where} ({result['dtype']})\n\n"
            f"{result['steps']} steps of {result['batch_size']} RAFT-shaped examples (question, 3 passages from the "
            "sample, a short cited answer), LoRA r=16 on all linear layers, one epoch for every variant, after a "
            "warm-up step of each.\n\n| variant | tokens/s | × plain loop | s/step | peak MB (GPU; on a CPU the process) "
            "| loss first → last |\n"
            "| --- | --- | --- | --- | --- | --- |\n" + "\n".join(lines) + "\n\n" + "\n".join(served))


def section_name(result: dict) -> str:
    where = "cpu" if not result["gpu"] else re.sub(r"[^a-z0-9]+", "_", result["gpu"].lower()).strip("_")
    return re.sub(r"[^a-z0-9]+", "_", f"training_throughput_{where}_{Path(result['model'].split(' ')[0]).name}".lower())


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--model", default="SmolLM2-135M-Instruct", help="an HF id or path")
    parser.add_argument("--random-weights", action="store_true", help="the model's shape with random weights")
    parser.add_argument("--tokenizer", default="SmolLM2-135M-Instruct", help="the tokenizer for --random-weights")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None, help="also write the raw result here")
    parser.add_argument("--record", type=Path, default=None,
                        help="only write a result saved with --json on another machine (a GPU box) into RESULTS.md")
    args = parser.parse_args(argv)
    if args.record:
        result = json.loads(args.record.read_text())
    else:
        result = run(args.model, args.device, args.steps, args.batch_size, args.random_weights, args.tokenizer)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    text = markdown(result)
    write_section(section_name(result), text, result,
                  ran_on=f"{result['gpu']}, torch {result.get('torch', '?')}" if result["gpu"] else None)
    print(text)
    return result


if __name__ == "__main__":
    main()
