"""Retrieval quality on hand-written questions over ../shared/corpora/pdfs: hit@1/5/10 and
MRR for dense, BM25 and both hybrid fusions, through the same code the assets use
(extract → clean → chunk → index).

Three question files: A and B were looked at while the hybrid fusion was chosen; the
holdout set was written after that choice was frozen, so only its numbers are unbiased.

A separate bucket asks for facts that sit in table cells and list items (issue 14's
structure-aware extraction is to improve it): 24 questions, 8 of them drawn at random (seed 14)
into a held-out file before any structure-aware work began, not to be looked at while building."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

from spark_arxiv_assets.core.chunk_index import IndexOptions, update_chunk_index
from spark_arxiv_assets.core.chunking import ChunkingOptions, clean_and_chunk_paper, make_splitter
from spark_arxiv_assets.core.embeddings import encode_texts
from spark_arxiv_assets.core.metadata import rows_from_pdf_folder
from spark_arxiv_assets.core.pdf_text import ExtractionOptions, extract_pdf
from spark_arxiv_assets.core.previews import markdown_table
from spark_arxiv_assets.core.retrieval import Retriever
from spark_arxiv_assets.core.retrieval_eval import LabelledQuestion, first_relevant_ranks, summarize_ranks

from .common import CORPORA, ROOT, write_section

QUESTION_SETS = {  # name → file under benchmarks/
    "A": "retrieval_questions.json",
    "B": "retrieval_questions_dev.json",
    "holdout": "retrieval_questions_holdout.json",
}
TABLE_SETS = {  # answers in table cells and list items
    "tables": "retrieval_questions_tables.json",
    "tables_holdout": "retrieval_questions_tables_holdout.json",
}
METHODS = [("dense", "convex", "dense"), ("bm25", "convex", "bm25"),
           ("hybrid (convex, default)", "convex", "hybrid"), ("hybrid (rrf)", "rrf", "hybrid")]
SINGLE, DEFAULT_HYBRID = ("dense", "bm25"), "hybrid (convex, default)"


def load_questions(file_name: str) -> list[LabelledQuestion]:
    return [LabelledQuestion(**q) for q in json.loads((ROOT / "benchmarks" / file_name).read_text())]


def build_corpus_chunks(model, drop_references: bool = True, chunk_tokens: int = 200) -> pd.DataFrame:
    papers = rows_from_pdf_folder(CORPORA / "pdfs")
    options = ChunkingOptions(chunk_tokens=chunk_tokens, overlap_tokens=chunk_tokens // 7)
    splitter = make_splitter(model.tokenizer, options)
    rows = []
    for paper in papers.itertuples():
        if paper.paper_id.startswith("scanned-"):
            continue  # a duplicate of 2501.10120's first pages
        result = extract_pdf(paper.local_pdf, ExtractionOptions(ocr_engine="none"), None)
        paper_rows, _ = clean_and_chunk_paper(paper.paper_id, paper.title, [(p.page, p.text) for p in result.pages],
                                              splitter, model.tokenizer, options, drop_references)
        rows += paper_rows
    return pd.DataFrame(rows)


def reciprocal_ranks(ranks: list[int | None]) -> np.ndarray:
    return np.array([1.0 / r if r else 0.0 for r in ranks])


def paired_bootstrap_ci(a: np.ndarray, b: np.ndarray, rounds: int = 10_000, seed: int = 0) -> tuple[float, float]:
    """95% interval of mean(a − b) over questions resampled with replacement."""
    diff = a - b
    samples = np.random.default_rng(seed).integers(0, len(diff), (rounds, len(diff)))
    return tuple(np.percentile(diff[samples].mean(axis=1), [2.5, 97.5]).round(3))


def evaluate_setting(model, question_sets: dict[str, list[LabelledQuestion]], chunk_tokens: int,
                     drop_references: bool) -> dict:
    """Per method and question set, the first-relevant rank of every question."""
    chunks = build_corpus_chunks(model, drop_references=drop_references, chunk_tokens=chunk_tokens)
    embed = lambda texts: encode_texts(model, texts)  # noqa: E731
    index, stats = update_chunk_index(None, chunks, embed, IndexOptions(), "all-MiniLM-L6-v2")
    ranks = {}
    for name, fusion, mode in METHODS:
        retriever = Retriever(index, embed, fusion=fusion)
        ranks[name] = {set_name: first_relevant_ranks(retriever, questions, mode)
                       for set_name, questions in question_sets.items()}
    return {"chunk_tokens": chunk_tokens, "drop_references": drop_references, "chunks": len(chunks),
            "embed_seconds": stats.embed_seconds, "ranks": ranks}


def table(ranks: dict, set_names: list[str]) -> pd.DataFrame:
    rows = []
    for method, per_set in ranks.items():
        joined = [r for name in set_names for r in per_set[name]]
        rows.append({"method": method, **summarize_ranks(joined)})
    return pd.DataFrame(rows).round(3)


def hybrid_vs_best_single(ranks: dict, set_names: list[str]) -> str:
    def rr(method):
        return reciprocal_ranks([r for name in set_names for r in ranks[method][name]])

    best = max(SINGLE, key=lambda m: rr(m).mean())
    low, high = paired_bootstrap_ci(rr(DEFAULT_HYBRID), rr(best))
    return (f"hybrid − {best} MRR = {rr(DEFAULT_HYBRID).mean() - rr(best).mean():+.3f} "
            f"(95% paired bootstrap interval {low:+.3f} … {high:+.3f})")


def main() -> dict:
    from spark_arxiv_assets.resources.models import load_sentence_transformer

    model = load_sentence_transformer("all-MiniLM-L6-v2", "cpu")
    question_sets = {name: load_questions(file_name) for name, file_name in {**QUESTION_SETS, **TABLE_SETS}.items()}
    settings = [(200, True), (200, False), (128, True), (240, True)]  # (200, True) is the pipeline default
    results = [evaluate_setting(model, question_sets, tokens, drop) for tokens, drop in settings]
    default, kept = results[0], results[1]
    everything = list(QUESTION_SETS)
    counts = {name: len(question_sets[name]) for name in QUESTION_SETS}
    table_counts = {name: len(question_sets[name]) for name in TABLE_SETS}

    sections = [f"**Held-out set** ({counts['holdout']} questions, written after the fusion was frozen "
                f"and never used to choose it): {hybrid_vs_best_single(default['ranks'], ['holdout'])}\n\n"
                + markdown_table(table(default["ranks"], ["holdout"]))]
    for name in ("A", "B"):
        sections.append(f"**Set {name}** ({counts[name]} questions, used to choose the fusion)\n\n"
                        + markdown_table(table(default["ranks"], [name])))
    sections.append(f"**All {sum(counts.values())} questions**: {hybrid_vs_best_single(default['ranks'], everything)}"
                    f"\n\n" + markdown_table(table(default["ranks"], everything)))
    sections.append(f"**Answers in tables and lists**: {table_counts['tables']} questions "
                    f"(`benchmarks/{TABLE_SETS['tables']}`)\n\n" + markdown_table(table(default["ranks"], ["tables"]))
                    + f"\n\nand {table_counts['tables_holdout']} held out (`benchmarks/{TABLE_SETS['tables_holdout']}`, "
                    "drawn before any structure-aware extraction was built)\n\n"
                    + markdown_table(table(default["ranks"], ["tables_holdout"])))
    for r in results[1:]:
        label = f"{r['chunk_tokens']}-token chunks, references {'dropped' if r['drop_references'] else 'kept'}"
        sections.append(f"**{label}**, all questions: {r['chunks']} chunks, embedded in {r['embed_seconds']:.1f}s\n\n"
                        + markdown_table(table(r["ranks"], everything)))

    markdown = (
        f"## Retrieval quality ({sum(counts.values())} questions over the papers of ../shared/corpora/pdfs)\n\n"
        f"Hand-written questions, each labelled with every page that states its answer; a hit is a chunk of the "
        f"right paper whose page span covers one of those pages. Sets A (`benchmarks/{QUESTION_SETS['A']}`) and "
        f"B (`benchmarks/{QUESTION_SETS['B']}`) were looked at while choosing how hybrid merges the two lists; "
        f"the held-out set (`benchmarks/{QUESTION_SETS['holdout']}`) was written after that choice was frozen. "
        f"The default hybrid is a convex combination (dense weight 0.5) of scores scaled from their theoretical "
        f"minimum to the list's best; `hybrid (rrf)` is reciprocal rank fusion with k = 60. Default index: "
        f"200-token chunks, references dropped, {default['chunks']} chunks embedded in "
        f"{default['embed_seconds']:.1f}s.\n\n" + "\n\n".join(sections) +
        f"\n\nKeeping reference lists embeds {kept['chunks']} instead of {default['chunks']} chunks "
        f"({kept['embed_seconds'] / default['embed_seconds']:.2f}× the embedding time of dropping them).")
    raw = {"question_sets": {**QUESTION_SETS, **TABLE_SETS}, "results": results}
    write_section("retrieval_quality", markdown, raw)
    print(markdown)
    return raw


if __name__ == "__main__":
    main()
