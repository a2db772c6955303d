"""Answer decoding for the chat and the evaluation: greedy, greedy with transformers'
`repetition_penalty=1.1` (what the chat used before), and greedy with the answer loop guard (what
both use now), on the sample's fixed questions with the sample index's top-k passages and the base
SmolLM2-135M-Instruct, as the chat asks them.

    python -m benchmarks.answer_decoding          # part of `make bench`
"""
from __future__ import annotations

import json
import time
from importlib import resources

from spark_arxiv_assets.core.answer_metrics import contains_answer, token_f1
from spark_arxiv_assets.core.causal_lm import load_student
from spark_arxiv_assets.core.chunk_index import IndexOptions, update_chunk_index
from spark_arxiv_assets.core.embedding_model import load_sentence_transformer
from spark_arxiv_assets.core.embeddings import encode_texts
from spark_arxiv_assets.core.generation import answer_loop_guard
from spark_arxiv_assets.core.rag_prompt import answer_messages
from spark_arxiv_assets.core.retrieval import Retriever
from spark_arxiv_assets_tests.sample_index import sample_chunks  # the index the chat's browser test asks

from .common import write_section

MODES = ("greedy", "repetition_penalty 1.1", "greedy + loop guard")
VALUE_OF_K = "What value of k did reciprocal rank fusion use?"


def answer(model, tokenizer, messages: list[dict], mode: str, max_new_tokens: int) -> str:
    inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    extra = {"repetition_penalty": 1.1} if mode == "repetition_penalty 1.1" else {}
    if mode == "greedy + loop guard":
        extra["logits_processor"] = [answer_loop_guard(inputs["input_ids"].shape[1])]
    output = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False,
                            pad_token_id=tokenizer.pad_token_id, **extra)
    return tokenizer.decode(output[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True).strip()


def main() -> dict:
    questions = json.loads(resources.files("spark_arxiv_assets").joinpath("sample/eval_questions.json").read_text())
    encoder = load_sentence_transformer("all-MiniLM-L6-v2", "cpu")
    embed = lambda texts: encode_texts(encoder, texts)  # noqa: E731
    index, _ = update_chunk_index(None, sample_chunks(), embed, IndexOptions(), "sentence-transformers/all-MiniLM-L6-v2")
    retriever = Retriever(index, embed)
    model, tokenizer = load_student(None, "SmolLM2-135M-Instruct", device="cpu")
    answer(model, tokenizer, answer_messages("warm-up"), "greedy", 4)  # first-call costs land on no mode
    results: dict = {}
    for mode in MODES:
        for k in (3, 4):
            hits = retriever.search_many([q["question"] for q in questions], k=k)
            started = time.perf_counter()
            replies = [answer(model, tokenizer, answer_messages(q["question"], [h.text for h in hs]), mode, 64)
                       for q, hs in zip(questions, hits)]
            seconds = time.perf_counter() - started
            results[f"{mode}, k={k}"] = {
                "token_f1": sum(token_f1(r, q["answer"]) for r, q in zip(replies, questions)) / len(questions),
                "contains_answer": sum(contains_answer(r, q["answer"]) for r, q in zip(replies, questions)) / len(questions),
                "seconds": seconds, "replies": replies,
                "value_of_k": answer(model, tokenizer, answer_messages(VALUE_OF_K, [h.text for h in retriever.search(
                    VALUE_OF_K, k=k)]), mode, 24)}
    lines = [f"| {name} | {r['token_f1']:.3f} | {r['contains_answer']:.2f} | {r['seconds']:.1f} | {r['value_of_k']!r} |"
             for name, r in results.items()]
    markdown = ("## Answer decoding (chat and evaluation)\n\n"
                f"The sample's {len(questions)} fixed questions, hybrid top-k passages from the sample index, "
                "SmolLM2-135M-Instruct (base) on CPU, the project's answer prompt, at most 64 new tokens; then the "
                "'value of k' question (24 tokens), as the chat's browser test asks it.\n\n"
                "| decoding, passages | token F1 | contains answer | seconds | answer to 'value of k' |\n"
                "| --- | --- | --- | --- | --- |\n" + "\n".join(lines) +
                "\n\n`repetition_penalty` also penalizes the prompt's tokens, i.e. copying from the passages; the "
                "loop guard only bans an answer repeating its own 4-grams. Eight questions: differences of a few "
                "hundredths are noise.")
    write_section("answer_decoding", markdown, results)
    print(markdown)
    return results


if __name__ == "__main__":
    main()
