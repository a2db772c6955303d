"""Student fine-tuning on a tiny Llama built in code (real TRL + PEFT training, seconds on CPU),
and the evaluation metrics and variants."""
import json

import numpy as np
import pytest

from spark_arxiv_assets.core.answer_metrics import faithfulness, token_f1
from spark_arxiv_assets.core.rag_prompt import answer_messages, training_example
from spark_arxiv_assets.core.student_training import TrainingOptions, precision_for, prompt_completion_rows, train_lora


EXAMPLES = [training_example(f"What value of k was used in experiment {i}?", f"k = {60 + i}",
                             f"Experiment {i} used reciprocal rank fusion with k = {60 + i}.") for i in range(8)]


def test_prompt_completion_masks_everything_but_the_answer():
    rows = prompt_completion_rows(EXAMPLES[:1])
    assert [m["role"] for m in rows[0]["prompt"]] == ["system", "user"]
    assert rows[0]["completion"] == [{"role": "assistant", "content": "k = 60"}]


def test_precision_follows_the_device_not_trl_default():
    dtype, kwargs = precision_for("cpu")
    assert dtype == "float32" and kwargs == {"bf16": False, "fp16": False}


def test_lora_training_writes_a_peft_adapter_that_loads_and_generates(tiny_model_dir, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    report = train_lora(str(tiny_model_dir), EXAMPLES[:6], EXAMPLES[6:], TrainingOptions(max_steps=4, batch_size=2,
                        learning_rate=5e-3), tmp_path, log=lambda _: None, device="cpu")
    assert report.steps == 4 and len(report.losses) == 4 and report.eval_loss is not None
    assert report.dtype == "float32" and report.quantization == "none" and report.quantized_layers == 0
    assert 0 < report.trainable_parameters < report.total_parameters and report.tokens_per_second > 0
    assert {"adapter_config.json", "adapter_model.safetensors", "training_report.json"} <= {p.name for p in tmp_path.iterdir()}
    assert not (tmp_path / "checkpoints").exists()

    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir), tmp_path)
    tokenizer = AutoTokenizer.from_pretrained(tmp_path)
    inputs = tokenizer.apply_chat_template(answer_messages("What value of k?"), add_generation_prompt=True,
                                           return_tensors="pt", return_dict=True)
    out = model.generate(**inputs, max_new_tokens=5, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    assert out.shape[1] > inputs["input_ids"].shape[1]
    with model.disable_adapter():  # the base model is still reachable for comparisons
        model.generate(**inputs, max_new_tokens=2, do_sample=False, pad_token_id=tokenizer.pad_token_id)


def test_qlora_4bit_trains_on_cpu_with_bitsandbytes(tiny_model_dir, tmp_path):
    report = train_lora(str(tiny_model_dir), EXAMPLES[:4], [], TrainingOptions(max_steps=2, batch_size=2, quantization="4bit"),
                        tmp_path, log=lambda _: None, device="cpu")
    assert report.quantization == "nf4-4bit" and report.steps == 2
    assert report.quantized_layers == 2 * 7  # q, k, v, o, gate, up, down in each of the 2 layers; lm_head stays full
    config = json.loads((tmp_path / "adapter_config.json").read_text())
    assert config["r"] == 16


def test_answer_metrics():
    # tokens: "answer is k 60" vs "k 60" (articles and "=" dropped): P = 2/4, R = 1
    assert token_f1("The answer is k = 60.", "k = 60") == pytest.approx(2 / 3)
    assert token_f1("nothing", "k = 60") == 0.0
    assert faithfulness("fusion used k = 60", ["Fusion used k = 60 in all runs."]) == 1.0
    assert faithfulness("the moon", ["Fusion used k = 60."]) == 0.0


def test_evaluation_runs_all_four_variants(tiny_model_dir):
    from spark_arxiv_assets.core.chunk_index import IndexOptions, update_chunk_index
    from spark_arxiv_assets.core.chunking import chunk_id_for, vector_id_for
    from spark_arxiv_assets.core.rag_eval import EvalItem, evaluate_rag, summarize
    from spark_arxiv_assets.core.retrieval import Retriever
    import pandas as pd

    texts = ["Reciprocal rank fusion used k = 60.", "OCR takes five seconds per page."]
    chunks = pd.DataFrame([{"chunk_id": chunk_id_for("p", t), "vector_id": vector_id_for(chunk_id_for("p", t)),
                            "paper_id": f"p{i}", "title": "T", "page_start": 1, "page_end": 1, "text": t}
                           for i, t in enumerate(texts)])

    def embed(batch):
        vectors = np.array([[t.lower().count(w) for w in ("fusion", "ocr", "page", "k")] for t in batch], np.float32) + 0.01
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    index, _ = update_chunk_index(None, chunks, embed, IndexOptions(), "bow")
    items = [EvalItem("What k did fusion use?", "k = 60", "p0", 1, "fixed"),
             EvalItem("How long does OCR take per page?", "five seconds", "p1", None, "eval_split")]
    seen = {}

    def generator(name):
        def run(conversations):
            seen.setdefault(name, []).append(conversations)
            return ["k = 60" if "fusion" in c[-1]["content"] else "I do not know" for c in conversations]
        return run

    results = evaluate_rag(items, Retriever(index, embed), {"base": generator("base"), "tuned": generator("tuned")},
                           embed, k=1)
    summary = summarize(results)
    assert summary["variant"].tolist() == ["base", "base + RAG", "tuned", "tuned + RAG"]
    assert results.loc[results["rag"], "faithfulness"].notna().all() and results.loc[~results["rag"], "faithfulness"].isna().all()
    assert results["retrieval_hit"].all()
    rag_prompt = seen["base"][1][0][-1]["content"]
    assert "<passage" in rag_prompt and "<passage" not in seen["base"][0][0][-1]["content"]


def test_merge_adapter_writes_plain_weights(tiny_model_dir, tmp_path):
    from transformers import AutoModelForCausalLM

    from spark_arxiv_assets.core.student_training import merge_adapter

    adapter = tmp_path / "adapter"
    adapter.mkdir()
    train_lora(str(tiny_model_dir), EXAMPLES[:2], [], TrainingOptions(max_steps=1, batch_size=2), adapter,
               log=lambda _: None, device="cpu")
    merged = merge_adapter(str(tiny_model_dir), adapter, tmp_path / "merged")
    model = AutoModelForCausalLM.from_pretrained(merged)
    assert not any("lora" in name for name, _ in model.named_parameters())
