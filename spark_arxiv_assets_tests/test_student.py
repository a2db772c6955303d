"""Student fine-tuning on a tiny Llama built in code (real TRL + PEFT training, seconds on CPU),
and the evaluation metrics and variants."""
import json

import numpy as np
import pytest

from spark_arxiv_assets.core.answer_metrics import faithfulness, token_f1
from spark_arxiv_assets.core.causal_lm import choose_placement, load_student, serving_placement, write_base_model_file
from spark_arxiv_assets.core.rag_prompt import answer_messages, training_example
from spark_arxiv_assets.core.student_training import (
    TrainingOptions,
    precision_flags,
    prompt_completion_rows,
    train_lora,
)

EXAMPLES = [training_example(f"What value of k was used in experiment {i}?", f"k = {60 + i} [1]",
                             [f"Experiment {i} used reciprocal rank fusion with k = {60 + i}."]) for i in range(8)]


def test_prompt_completion_masks_everything_but_the_answer():
    rows = prompt_completion_rows(EXAMPLES[:1])
    assert [m["role"] for m in rows[0]["prompt"]] == ["user"]
    assert rows[0]["completion"] == [{"role": "assistant", "content": "k = 60 [1]"}]


def test_placement_follows_the_hardware_not_library_defaults():
    cpu = choose_placement("cpu")
    assert (cpu.device, cpu.dtype, cpu.quantization) == ("cpu", "float32", "none")
    assert precision_flags(cpu.dtype) == {"bf16": False, "fp16": False}  # TRL's own default is bf16
    assert precision_flags("bfloat16") == {"bf16": True, "fp16": False}
    assert choose_placement("cpu", "4bit").quantization == "nf4-4bit"
    with pytest.raises(ValueError, match="quantization"):
        choose_placement("cpu", "8bit")
    with pytest.raises(ValueError, match="device"):
        choose_placement("tpu")


def test_lora_training_writes_a_peft_adapter_that_loads_and_generates(tiny_model_dir, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    report = train_lora(str(tiny_model_dir), EXAMPLES[:6], EXAMPLES[6:], TrainingOptions(max_steps=4, batch_size=2,
                        learning_rate=5e-3), tmp_path, log=lambda _: None, device="cpu")
    assert report.steps == 4 and len(report.losses) == 4 and report.eval_loss is not None
    assert report.device == "cpu" and report.dtype == "float32" and report.quantization == "none"
    assert report.quantized_layers == 0 and report.seconds > 0 and report.setup_seconds > 0
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


def test_the_answer_only_loss_is_the_models_own_loss_with_the_same_gradients(tiny_model_dir):
    """The CPU trainer applies the LM head to answer positions only; on a fixed padded batch its
    loss and its LoRA gradients equal the model's own (full-logits) loss, and a model whose logits
    are more than its LM head falls back to that loss."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from spark_arxiv_assets.core.student_training import answer_only_loss

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    ids, labels = [], []
    for row in prompt_completion_rows(EXAMPLES[:3]):
        prompt = tokenizer.apply_chat_template(row["prompt"], add_generation_prompt=True, return_dict=True)["input_ids"]
        full = tokenizer.apply_chat_template(row["prompt"] + row["completion"], return_dict=True)["input_ids"]
        ids.append(full + [tokenizer.pad_token_id] * (3 * len(ids)))  # rows of different lengths, padded
        labels.append([-100] * len(prompt) + full[len(prompt):] + [-100] * (3 * len(labels)))
    width = max(map(len, ids))
    batch = {"input_ids": torch.tensor([x + [tokenizer.pad_token_id] * (width - len(x)) for x in ids]),
             "labels": torch.tensor([x + [-100] * (width - len(x)) for x in labels])}
    batch["attention_mask"] = (batch["labels"] != -100).long() | (batch["input_ids"] != tokenizer.pad_token_id).long()
    torch.manual_seed(0)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_dir),
                           LoraConfig(r=4, target_modules="all-linear", init_lora_weights=False, task_type="CAUSAL_LM"))
    answers = int((batch["labels"][:, 1:] != -100).sum())
    gradients = []
    for loss_of in (lambda: model(**batch, use_cache=False, num_items_in_batch=answers).loss,
                    lambda: answer_only_loss(model, batch, answers)):
        model.zero_grad()
        loss = loss_of()
        loss.backward()
        gradients.append((loss.item(), {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None}))
    (own, own_grads), (mine, my_grads) = gradients
    assert abs(own - mine) < 1e-4 and own_grads.keys() == my_grads.keys()
    assert all(torch.allclose(own_grads[k], my_grads[k], atol=1e-6) for k in own_grads)
    assert abs(answer_only_loss(model, batch).item() - own) < 1e-4  # averaged when no count is given
    model.get_base_model().config.final_logit_softcapping = 30.0
    assert answer_only_loss(model, batch, answers) is None


def test_qlora_4bit_trains_on_cpu_with_bitsandbytes(tiny_model_dir, tmp_path):
    report = train_lora(str(tiny_model_dir), EXAMPLES[:4], [], TrainingOptions(max_steps=2, batch_size=2, quantization="4bit"),
                        tmp_path, log=lambda _: None, device="cpu")
    assert report.quantization == "nf4-4bit" and report.steps == 2
    assert report.quantized_layers == 2 * 7  # q, k, v, o, gate, up, down in each of the 2 layers; lm_head stays full
    config = json.loads((tmp_path / "adapter_config.json").read_text())
    assert config["r"] == 16

    # The shared loader serves it: on this CPU the base unquantized, with the adapter on top.
    write_base_model_file(tmp_path, str(tiny_model_dir))
    assert serving_placement(tmp_path).quantization == "none"
    model, tokenizer = load_student(tmp_path)
    assert str(model.device) == "cpu" and model.active_adapter == "default"
    assert serving_placement(tmp_path, quantization="4bit").quantization == "nf4-4bit"


def test_answer_metrics():
    # tokens: "answer is k 60" vs "k 60" (articles and "=" dropped): P = 2/4, R = 1
    assert token_f1("The answer is k = 60.", "k = 60") == pytest.approx(2 / 3)
    assert token_f1("nothing", "k = 60") == 0.0
    assert faithfulness("fusion used k = 60", ["Fusion used k = 60 in all runs."]) == 1.0
    assert faithfulness("the moon", ["Fusion used k = 60."]) == 0.0


def test_evaluation_scores_answers_citations_and_refusals(tiny_model_dir):
    import pandas as pd

    from spark_arxiv_assets.core.chunk_index import IndexOptions, update_chunk_index
    from spark_arxiv_assets.core.chunking import chunk_id_for, vector_id_for
    from spark_arxiv_assets.core.rag_eval import (
        OVERLAP,
        EvalItem,
        evaluate_rag,
        summarize,
        tuned_vs_base,
        tuned_vs_base_by_paper,
    )
    from spark_arxiv_assets.core.rag_prompt import CONTEXT
    from spark_arxiv_assets.core.retrieval import Retriever

    texts = ["Reciprocal rank fusion used k = 60.", "OCR takes five seconds per page.", "Fusion merges rankings."]
    chunks = pd.DataFrame([{"chunk_id": chunk_id_for(f"p{i}", t), "vector_id": vector_id_for(chunk_id_for(f"p{i}", t)),
                            "paper_id": f"p{i}", "title": "T", "page_start": 1, "page_end": 1, "text": t}
                           for i, t in enumerate(texts)])

    def embed(batch):
        vectors = np.array([[t.lower().count(w) for w in ("fusion", "ocr", "page", "k")] for t in batch], np.float32) + 0.01
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    index, _ = update_chunk_index(None, chunks, embed, IndexOptions(), "bow")
    items = [EvalItem("What k did fusion use?", "k = 60", "p0", 1, "fixed"),
             EvalItem("How long does OCR take per page?", "five seconds", "p1", None, "eval_split", chunks.chunk_id[1])]
    seen = {}

    def generator(name):
        def run(conversations):  # answers from the passages it is given, citing the one it used
            seen.setdefault(name, []).append(conversations)
            replies = []
            for c in conversations:
                context = c[-1]["content"].split("\n")[0] if c[-1]["content"].startswith(CONTEXT) else ""
                passages = [text for _, text in sorted((context.find(t), t) for t in texts if t in context)]
                answer = "k = 60" if "k did" in c[-1]["content"] else "five seconds"
                hit = next((n for n, p in enumerate(passages, 1) if answer in p), None)
                replies.append(f"{answer} [{hit}]" if hit else ("The passages do not say." if passages else answer))
            return replies if name == "tuned" else ["I think so." for _ in conversations]
        return run

    judged = []

    def judge(conversations):  # the judge sees each RAG answer with its passages
        judged.extend(conversations)
        return ['{"faithfulness": 5, "relevance": 4}' for _ in conversations]

    results = evaluate_rag(items, Retriever(index, embed), {"base": generator("base"), "tuned": generator("tuned")},
                           embed, k=2, judge=judge)
    summary = summarize(results).set_index("variant")
    assert len(judged) == 4 and summary.loc["tuned + RAG", "judge_faithfulness"] == 1.0
    assert summary.loc["tuned + RAG", "judge_relevance"] == 0.75 and pd.isna(summary.loc["tuned", "judge_relevance"])
    assert summary.index.tolist() == ["base", "base + RAG", "tuned", "tuned + RAG", "base + RAG, answer removed",
                                      "tuned + RAG, answer removed", OVERLAP]
    overlap = results[results["variant"] == OVERLAP].set_index("question")  # no model: a passage sentence
    assert overlap.loc["How long does OCR take per page?", "answer"] == "OCR takes five seconds per page."
    assert overlap.loc["What k did fusion use?", "answer"] == "Reciprocal rank fusion used k = 60."
    assert summary.loc[OVERLAP, "contains_answer"] == 1.0 and 0 < summary.loc[OVERLAP, "token_f1"] < 1
    assert summary.loc["tuned + RAG", "citation_accuracy"] == 1.0 and summary.loc["tuned + RAG", "contains_answer"] == 1.0
    assert summary.loc["tuned + RAG", "token_f1"] == 1.0  # "k = 60 [1]" says exactly "k = 60": the [1] is scored apart
    assert summary.loc["base + RAG", "citation_accuracy"] == 0.0  # "I think so." is supported by no passage
    assert summary.loc["tuned + RAG, answer removed", "refused"] == 1.0  # the passages no longer hold the answer
    assert summary.loc["base + RAG, answer removed", "refused"] == 0.0
    assert summary.loc["tuned + RAG", "refused"] == 0.0
    removed = seen["tuned"][2]  # closed book, RAG, then answer removed
    assert "k = 60" not in removed[0][-1]["content"] and "five seconds" not in removed[1][-1]["content"]
    assert CONTEXT not in seen["base"][0][0][-1]["content"]  # closed book
    fixed = results[(results["source"] == "fixed") & (results["prompt"] == "answerable")]
    assert fixed["retrieval_hit"].all() and results.loc[results["source"] == "eval_split", "retrieval_hit"].isna().all()
    gain, low, high = tuned_vs_base(results)
    assert gain > 0 and low <= gain <= high
    assert tuned_vs_base(results, families={"p0": "f", "p1": "f"}) == (gain, gain, gain)  # one family: no spread
    by_paper = tuned_vs_base_by_paper(results).set_index("paper_id")  # held-out papers only: not the fixed p0
    assert by_paper.index.tolist() == ["p1"] and by_paper.loc["p1", "questions"] == 1
    assert by_paper.loc["p1", "tuned"] == 1.0 and by_paper.loc["p1", "difference"] == 1.0 - by_paper.loc["p1", "base"]


def test_evidence_first_evaluation_answers_from_the_quote_and_scores_it():
    """With `quotes`, each RAG prompt holds only the chosen quote; the quote is scored alone as well,
    and the citation a reader sees is the quoted passage."""
    import pandas as pd

    from spark_arxiv_assets.core.chunk_index import IndexOptions, update_chunk_index
    from spark_arxiv_assets.core.chunking import chunk_id_for, vector_id_for
    from spark_arxiv_assets.core.evidence import candidate_quotes
    from spark_arxiv_assets.core.rag_eval import QUOTE_ALONE, EvalItem, evaluate_rag, summarize
    from spark_arxiv_assets.core.retrieval import Retriever

    texts = ["Fusion was tuned. Reciprocal rank fusion used k = 60.", "OCR takes five seconds per page."]
    chunks = pd.DataFrame([{"chunk_id": chunk_id_for(f"p{i}", t), "vector_id": vector_id_for(chunk_id_for(f"p{i}", t)),
                            "paper_id": f"p{i}", "title": "T", "page_start": 1, "page_end": 1, "text": t}
                           for i, t in enumerate(texts)])

    def embed(batch):
        vectors = np.array([[t.lower().count(w) for w in ("fusion", "ocr", "k")] for t in batch], np.float32) + 0.01
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    index, _ = update_chunk_index(None, chunks, embed, IndexOptions(), "bow")
    items = [EvalItem("What k did fusion use?", "k = 60", "p0", 1, "fixed")]

    def last_with_a_number(questions, passages):  # a stand-in for the student's choice, tested in test_evidence
        return [[q for q in candidate_quotes(ps) if any(c.isdigit() for c in q.text)][0] for ps in passages]

    prompts = []

    def model(conversations):
        prompts.extend(c[-1]["content"] for c in conversations)
        return ["k = 60" for _ in conversations]

    results = evaluate_rag(items, Retriever(index, embed), {"base": model, "tuned": model}, embed, k=2,
                           variants=[("base", "answerable")], quotes=last_with_a_number)
    assert "Reciprocal rank fusion used k = 60." in prompts[0] and "Fusion was tuned" not in prompts[0]
    summary = summarize(results).set_index("variant")
    assert summary.loc[QUOTE_ALONE, "quote_verbatim"] == 1.0 and summary.loc[QUOTE_ALONE, "quote_holds_answer"] == 1.0
    rag = results[results["variant"] == "base + RAG"].iloc[0]
    assert rag["quote"] == "Reciprocal rank fusion used k = 60." and rag["citation_correct"]
    from spark_arxiv_assets.assets.evaluation import quotes_are_verbatim

    assert quotes_are_verbatim(results).passed  # the asset check the Dagster UI shows
    forged = results.assign(quote_verbatim=results["quote_verbatim"].where(results["quote"].isna(), False))
    assert not quotes_are_verbatim(forged).passed


def test_paired_bootstrap_interval_says_whether_a_difference_is_noise():
    from spark_arxiv_assets.core.rag_eval import paired_bootstrap

    rng = np.random.default_rng(0)
    base = rng.uniform(0, 1, 200)
    gain, low, high = paired_bootstrap(base, base + 0.1 + rng.normal(0, 0.05, 200))
    assert low > 0 and abs(gain - 0.1) < 0.02
    gain, low, high = paired_bootstrap(base, base + rng.normal(0, 0.2, 200))
    assert low < 0 < high


def test_an_interval_over_papers_is_wider_when_a_papers_questions_move_together():
    from spark_arxiv_assets.core.rag_eval import clustered_bootstrap, paired_bootstrap

    rng = np.random.default_rng(1)
    papers = [f"paper{i // 20}" for i in range(200)]  # 10 papers, 20 questions each
    effect = {p: rng.normal(0.05, 0.1) for p in sorted(set(papers))}  # the gain depends on the paper
    base = rng.uniform(0, 1, 200)
    tuned = base + np.array([effect[p] for p in papers]) + rng.normal(0, 0.02, 200)
    _, low, high = paired_bootstrap(base, tuned)
    gain, paper_low, paper_high = clustered_bootstrap(base, tuned, papers)
    assert paper_low <= gain <= paper_high and paper_high - paper_low > 2 * (high - low)


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


def test_llm_judge_through_an_openai_compatible_server_and_its_failures():
    """RAG answers graded by a judge behind the OpenAI API (the fake server on 127.0.0.1): a faithful
    answer scores high, an invented one low, and a reply that is not JSON is missing, not zero."""
    from spark_arxiv_assets.core.llm_judge import judge_answers, parse_judgement
    from spark_arxiv_assets.resources.teacher import OpenAICompatibleTeacher

    from .fakes.openai_server import FakeOpenAI

    assert parse_judgement('Sure: {"faithfulness": 5, "relevance": 3}') == {"faithfulness": 1.0, "relevance": 0.5}
    assert parse_judgement('{"faithfulness": 4, "relevance": 9}') is None  # out of range
    assert parse_judgement('"faithfulness": 2, "relevance": 5 and then it stopp') == {"faithfulness": 0.25, "relevance": 1.0}
    assert parse_judgement("I think it is good.") is None and parse_judgement(None) is None

    passages = ["Reciprocal rank fusion used k = 60."]
    items = [("What k?", "Fusion used k = 60.", passages), ("What k?", "The moon is made of cheese.", passages),
             ("What k?", "Fusion used k = 60.", passages)]
    with FakeOpenAI(["ok", "ok", "malformed"]) as server:
        judge = OpenAICompatibleTeacher(server.base_url, "judge-model", None, max_concurrency=1, timeout_s=5,
                                        max_retries=1, temperature=0.0, max_tokens=64, json_mode=True)
        scores = judge_answers(lambda conversations: [r.text for r in judge.generate(conversations)], items)
        assert "<answer>" in server.requests[0]["body"]["messages"][-1]["content"]
    assert scores[0]["faithfulness"] == 1.0 and scores[1]["faithfulness"] == 0.0
    assert scores[0]["relevance"] == 0.75 and scores[2] is None
