"""The offline teacher's yield on real papers: answer-aware requests over chunks of
../shared/corpora, spread over the papers as `qa_pairs` spreads a cap, sent four ways in the same
run: the prompt with no stop string (the first teacher), the reply ended at the first quote (the
teacher before), the default now (ended where the question closes the object, never writing "the
answer" or "this question"), and the default plus one worked example in the prompt (tried, not
adopted: read the questions it keeps). Yield is what survives the pipeline's filters (all but the
index round trip, which needs the index)."""
from __future__ import annotations

import json

import pandas as pd

from spark_arxiv_assets.core.embeddings import encode_texts
from spark_arxiv_assets.core.qa_filters import FilterOptions, apply_filters
from spark_arxiv_assets.core.qa_generation import spread_over_papers
from spark_arxiv_assets.core.qa_prompts import (QUESTION_REPLY, ReplyShape, TeacherOutputError, build_requests,
                                                parse_reply, question_for_answer_messages)
from spark_arxiv_assets.resources.teacher import LocalTransformersTeacher, load_teacher_model

from .common import timed, write_section
from .retrieval_quality import build_corpus_chunks

TEACHER, CHUNKS, SEED = "SmolLM2-135M-Instruct", 48, 13
VARIANTS = {  # label → (with the worked example, reply shape)
    "no stop (first)": (False, ReplyShape(prefill=QUESTION_REPLY.prefill)),
    "stop at the first quote (before)": (False, ReplyShape(QUESTION_REPLY.prefill, ('"',), QUESTION_REPLY.max_tokens)),
    "stop where the object closes, phrases avoided (default)": (False, QUESTION_REPLY),
    "default + one worked example (not adopted)": (True, QUESTION_REPLY),
}
EXAMPLE = {  # in no paper of the corpora
    "passage": "We fine-tune the encoder on the training split for 10 epochs with AdamW and a learning rate of 3e-5. "
               "Early stopping on the development set selects the checkpoint.",
    "answer": "AdamW and a learning rate of 3e-5.",
    "question": "Which optimizer and learning rate were used to fine-tune the encoder?"}


def with_worked_example(messages: list[dict]) -> list[dict]:
    """The same request after one example exchange, asked the way the request itself is."""
    system, example = question_for_answer_messages("An example paper", EXAMPLE["passage"], EXAMPLE["answer"])
    return [system, example, {"role": "assistant", "content": json.dumps({"question": EXAMPLE["question"]})},
            messages[-1]]


def _pairs(requests, replies, chunks: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for request, reply in zip(requests, replies):
        try:
            pairs = parse_reply(request, reply.text)
        except TeacherOutputError:
            continue
        chunk = chunks.iloc[request.row]
        rows += [{**pair, "context": chunk.text, "title": chunk.title, "chunk_id": chunk.chunk_id,
                  "paper_id": chunk.paper_id} for pair in pairs]
    return pd.DataFrame(rows)


def main() -> dict:
    from spark_arxiv_assets.core.embedding_model import load_sentence_transformer

    encoder = load_sentence_transformer("all-MiniLM-L6-v2", "cpu")
    chunks = build_corpus_chunks(encoder)
    chunks = spread_over_papers(chunks[chunks["n_tokens"] >= 40].reset_index(drop=True), CHUNKS, SEED)
    chunks = chunks.reset_index(drop=True)
    requests = build_requests(chunks["title"].tolist(), chunks["text"].tolist(), chunks["chunk_id"].tolist(),
                              "answer_aware", 2)
    load_teacher_model(TEACHER, "cpu")  # loaded once, outside the timings
    teacher = LocalTransformersTeacher(TEACHER, "cpu", batch_size=16, max_new_tokens=256, temperature=0.0)
    results = {}
    for label, (example, shape) in VARIANTS.items():
        conversations = [with_worked_example(r.messages) if example else r.messages for r in requests]
        replies, seconds = timed(teacher.generate, conversations, shape)
        pairs = _pairs(requests, replies, chunks)
        kept, removed, _ = apply_filters(pairs, FilterOptions(max_source_rank=None),
                                         lambda texts: encode_texts(encoder, texts))
        results[label] = {"seconds": round(seconds, 1), "tokens": sum(r.completion_tokens for r in replies),
                          "parsed": len(pairs), "kept": len(kept), "papers_kept": int(kept["paper_id"].nunique()),
                          "removed": removed,
                          "top_question": pairs["question"].value_counts().head(1).to_dict(),
                          "kept_sample": kept["question"].head(5).tolist()}
    base = results[next(iter(VARIANTS))]["seconds"]
    table = "\n".join(
        f"| {label} | {r['seconds']} | {base / r['seconds']:.2f}× | {r['tokens']} | {r['kept']} of {len(requests)} "
        f"| {r['papers_kept']} | {r['removed']['length_or_form']} | {r['removed']['question_unrelated_to_answer']} |"
        for label, r in results.items())
    markdown = (f"## Offline teacher yield on real papers\n\n`python -m benchmarks.teacher_yield`. {len(requests)} "
                f"answer-aware requests from {len(chunks)} chunks of {chunks['paper_id'].nunique()} papers of "
                f"../shared/corpora (spread as `qa_pairs` spreads a cap, seed {SEED}), {TEACHER} on CPU, greedy, "
                "batches of 16, 256-token limit. Kept = rows that pass every filter but the index round trip.\n\n"
                "| variant | seconds | speed vs no stop | tokens | kept | papers kept | malformed (`length_or_form`) "
                "| `question_unrelated_to_answer` |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n" + table +
                "\n\nMost common question per variant: " +
                "; ".join(f"{label}: {r['top_question']}" for label, r in results.items()) +
                "\n\nFirst kept questions per variant:\n\n" +
                "\n".join(f"- {label}: " + " · ".join(r["kept_sample"]) for label, r in results.items()))
    write_section("teacher_yield", markdown, {"requests": len(requests), "results": results})
    print(markdown)
    return results


if __name__ == "__main__":
    main()
