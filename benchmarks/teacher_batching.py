"""Local teacher generation: batched (left-padded) against one prompt at a time, same prompts,
same greedy decoding, through the pipeline's LocalTransformersTeacher."""
from __future__ import annotations

from spark_arxiv_assets.core.qa_prompts import QUESTION_REPLY, build_requests
from spark_arxiv_assets.core.sample_corpus import load_sample_papers
from spark_arxiv_assets.resources.teacher import LocalTransformersTeacher, load_teacher_model

from .common import timed, write_section


def main() -> dict:
    papers = load_sample_papers()[:4]
    sections = [(p["title"], body, f"{p['id']}-{i}") for p in papers for i, (_, body) in enumerate(p["sections"])]
    requests = build_requests(*map(list, zip(*sections)), strategy="answer_aware", n_questions=1)[:16]
    conversations = [r.messages for r in requests]
    load_teacher_model("SmolLM2-135M-Instruct", "cpu")  # load once, outside the timings
    results = {}
    for batch_size in (1, 8, 16):
        teacher = LocalTransformersTeacher("SmolLM2-135M-Instruct", "cpu", batch_size, max_new_tokens=48, temperature=0.0)
        replies, seconds = timed(teacher.generate, conversations, QUESTION_REPLY)
        tokens = sum(r.completion_tokens for r in replies)
        results[batch_size] = {"seconds": seconds, "tokens": tokens, "tokens_per_s": tokens / seconds}
    base = results[1]["seconds"]
    lines = [f"| {b} | {r['seconds']:.1f} | {r['tokens']} | {r['tokens_per_s']:.1f} | {base / r['seconds']:.2f}× |"
             for b, r in results.items()]
    markdown = ("## Teacher generation: batched vs one at a time\n\n"
                f"{len(conversations)} answer-aware prompts from the bundled sample, SmolLM2-135M-Instruct on CPU, "
                "greedy, at most 48 new tokens.\n\n| batch size | seconds | tokens | tokens/s | speed-up vs 1 |\n"
                "| --- | --- | --- | --- | --- |\n" + "\n".join(lines) +
                "\n\nBatches pad to their longest prompt and run until their longest reply ends, so the speed-up "
                "depends on how uneven prompts and replies are.")
    write_section("teacher_batching", markdown, results)
    print(markdown)
    return results


if __name__ == "__main__":
    main()
