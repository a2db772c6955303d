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
import pymupdf

from spark_arxiv_assets.core.chunk_index import IndexOptions, update_chunk_index
from spark_arxiv_assets.core.chunking import (ChunkingOptions, chunk_id_for, clean_and_chunk_paper, make_splitter,
                                              split_with_pages, vector_id_for)
from spark_arxiv_assets.core.cleaning import clean_pages
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


def corpus_papers() -> pd.DataFrame:
    papers = rows_from_pdf_folder(CORPORA / "pdfs")
    return papers[~papers["paper_id"].str.startswith("scanned-")]  # a duplicate of 2501.10120's first pages


def build_corpus_chunks(model, drop_references: bool = True, chunk_tokens: int = 200) -> pd.DataFrame:
    """What the pipeline indexes now: structure-aware blocks, sections, contextual headers."""
    options = ChunkingOptions(chunk_tokens=chunk_tokens, overlap_tokens=chunk_tokens // 7)
    splitter = make_splitter(model.tokenizer, options)
    rows = []
    for paper in corpus_papers().itertuples():
        result = extract_pdf(paper.local_pdf, ExtractionOptions(ocr_engine="none"), None)
        paper_rows, _ = clean_and_chunk_paper(paper.paper_id, paper.title,
                                              [(p.page, p.text, p.blocks) for p in result.pages],
                                              splitter, model.tokenizer, options, drop_references)
        rows += paper_rows
    return pd.DataFrame(rows)


def _flat_rows(paper_id: str, spans: list[tuple[str, int, int]]) -> list[dict]:
    """Chunks embedded as they are: no title, no section (chunk_index adds no header then)."""
    rows = {}
    for text, first, last in spans:
        chunk_id = chunk_id_for(paper_id, text)
        rows.setdefault(chunk_id, {"chunk_id": chunk_id, "vector_id": vector_id_for(chunk_id), "paper_id": paper_id,
                                   "title": "", "section": "", "page_start": first, "page_end": last, "text": text})
    return list(rows.values())


def plain_pages(path: str) -> list[tuple[int, str]]:
    with pymupdf.open(path) as doc:
        return [(number, page.get_text("text")) for number, page in enumerate(doc, start=1)]


def build_flat_chunks(model, chunk_tokens: int = 200) -> pd.DataFrame:
    """The pipeline before structure-aware extraction (up to commit 1cbcbbe): PyMuPDF page text,
    line-based cleaning (running lines, reference list), 200-token chunks, no context header."""
    options = ChunkingOptions(chunk_tokens=chunk_tokens, overlap_tokens=chunk_tokens // 7)
    splitter = make_splitter(model.tokenizer, options)
    rows = []
    for paper in corpus_papers().itertuples():
        pages = plain_pages(paper.local_pdf)
        cleaned, _ = clean_pages([text for _, text in pages])
        spans = split_with_pages([(n, t) for (n, _), t in zip(pages, cleaned) if t], splitter)
        rows += _flat_rows(paper.paper_id, [s for s in spans if len(s[0]) >= options.min_chunk_chars])
    return pd.DataFrame(rows)


def _page_at(starts: list[tuple[int, int]], offset: int) -> int:
    """The page holding character `offset`, from (start offset, page) pairs."""
    return max(number for start, number in starts if start <= offset)


def build_notebook_chunks(chunk_chars: int = 1000) -> pd.DataFrame:
    """The issue's naive notebook: PyMuPDF text cut into fixed 1,000-character pieces."""
    rows = []
    for paper in corpus_papers().itertuples():
        pages = plain_pages(paper.local_pdf)
        text, starts = "", []
        for number, page_text in pages:
            starts.append((len(text), number))
            text += page_text
        spans = [(text[i:i + chunk_chars], _page_at(starts, i), _page_at(starts, min(len(text), i + chunk_chars) - 1))
                 for i in range(0, len(text), chunk_chars) if text[i:i + chunk_chars].strip()]
        rows += _flat_rows(paper.paper_id, spans)
    return pd.DataFrame(rows)


def reciprocal_ranks(ranks: list[int | None]) -> np.ndarray:
    return np.array([1.0 / r if r else 0.0 for r in ranks])


def paired_bootstrap_ci(a: np.ndarray, b: np.ndarray, rounds: int = 10_000, seed: int = 0) -> tuple[float, float]:
    """95% interval of mean(a − b) over questions resampled with replacement."""
    diff = a - b
    samples = np.random.default_rng(seed).integers(0, len(diff), (rounds, len(diff)))
    return tuple(np.percentile(diff[samples].mean(axis=1), [2.5, 97.5]).round(3))


def evaluate_setting(model, question_sets: dict[str, list[LabelledQuestion]], chunks: pd.DataFrame, label: str) -> dict:
    """Per method and question set, the first-relevant rank of every question."""
    embed = lambda texts: encode_texts(model, texts)  # noqa: E731
    index, stats = update_chunk_index(None, chunks, embed, IndexOptions(), "all-MiniLM-L6-v2")
    ranks = {}
    for name, fusion, mode in METHODS:
        retriever = Retriever(index, embed, fusion=fusion)
        ranks[name] = {set_name: first_relevant_ranks(retriever, questions, mode)
                       for set_name, questions in question_sets.items()}
    return {"setting": label, "chunks": len(chunks), "embed_seconds": stats.embed_seconds, "ranks": ranks}


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


def before_after(results: dict[str, dict], set_names: list[str], methods: list[str]) -> pd.DataFrame:
    """One row per (index, method) on the given question sets."""
    frames = []
    for label, result in results.items():
        frame = table({m: result["ranks"][m] for m in methods}, set_names)
        frames.append(frame.assign(index=label)[["index", *frame.columns]])
    return pd.concat(frames, ignore_index=True)


def main() -> dict:
    from spark_arxiv_assets.core.embedding_model import load_sentence_transformer

    model = load_sentence_transformer("all-MiniLM-L6-v2", "cpu")
    question_sets = {name: load_questions(file_name) for name, file_name in {**QUESTION_SETS, **TABLE_SETS}.items()}
    indexes = {  # label → chunks; the first is the pipeline's default, the second what it did before
        "structured (default)": build_corpus_chunks(model),
        "flat (before)": build_flat_chunks(model),
        "notebook: 1,000 characters": build_notebook_chunks(),
        "structured, references kept": build_corpus_chunks(model, drop_references=False),
        "structured, 128 tokens": build_corpus_chunks(model, chunk_tokens=128),
        "structured, 240 tokens": build_corpus_chunks(model, chunk_tokens=240),
    }
    results = {label: evaluate_setting(model, question_sets, chunks, label) for label, chunks in indexes.items()}
    default = results["structured (default)"]
    compared = {k: results[k] for k in ("structured (default)", "flat (before)", "notebook: 1,000 characters")}
    everything = list(QUESTION_SETS)
    counts = {name: len(question_sets[name]) for name in {**QUESTION_SETS, **TABLE_SETS}}
    all_methods = [name for name, _, _ in METHODS]

    sections = [
        f"**Held-out set** ({counts['holdout']} questions, written after the fusion was frozen and never used to "
        f"choose it); on the default index {hybrid_vs_best_single(default['ranks'], ['holdout'])}\n\n"
        + markdown_table(before_after(compared, ["holdout"], all_methods), max_rows=20),
        f"**Answers in tables and lists, held out** ({counts['tables_holdout']} questions, "
        f"`benchmarks/{TABLE_SETS['tables_holdout']}`, drawn before structure-aware extraction was built; "
        f"one of them was looked at to find why hybrid lost a table that BM25 ranked first)\n\n" + markdown_table(before_after(compared, ["tables_holdout"], all_methods), max_rows=20),
        f"**Answers in tables and lists** ({counts['tables']} questions, `benchmarks/{TABLE_SETS['tables']}`)\n\n"
        + markdown_table(before_after(compared, ["tables"], all_methods), max_rows=20),
        f"**Sets A and B** ({counts['A']} + {counts['B']} questions, used to choose the fusion)\n\n"
        + markdown_table(before_after(compared, ["A", "B"], all_methods), max_rows=20),
        f"**All {sum(counts[n] for n in everything)} page-labelled questions**: "
        f"{hybrid_vs_best_single(default['ranks'], everything)}",
    ]
    other = {k: v for k, v in results.items() if k not in compared}
    sections.append("**Other settings of the structured index**, hybrid (convex), all page-labelled questions and "
                    "the table/list bucket:\n\n" + markdown_table(pd.concat([
                        before_after(other, everything, [DEFAULT_HYBRID]).assign(questions_set="A+B+holdout"),
                        before_after(other, list(TABLE_SETS), [DEFAULT_HYBRID]).assign(questions_set="tables")],
                        ignore_index=True)))
    sizes = ", ".join(f"{label}: {r['chunks']} chunks embedded in {r['embed_seconds']:.1f}s"
                      for label, r in results.items())
    markdown = (
        f"## Retrieval quality ({sum(counts[n] for n in everything)} page-labelled questions and "
        f"{counts['tables'] + counts['tables_holdout']} table/list questions over the papers of ../shared/corpora/pdfs)"
        f"\n\n`python -m benchmarks.retrieval_quality`. Hand-written questions, each labelled with every page that "
        f"states its answer; a hit is a chunk of the right paper whose page span covers one of those pages (for the "
        f"table/list bucket the chunk must also contain the answer's cell or item). Sets A and B were looked at while "
        f"choosing how hybrid merges the two lists; the held-out sets were not used to choose anything. The default hybrid is a convex "
        f"combination (dense weight 0.5) of scores scaled from their theoretical minimum to the list's best; "
        f"`hybrid (rrf)` is reciprocal rank fusion with k = 60.\n\nIndexes, built in the same run: "
        f"**structured (default)** is what the pipeline indexes now (structure-aware blocks, tables as Markdown "
        f"never split mid-row, 200-token chunks embedded and BM25-indexed under a \"title › section\" header); "
        f"**flat (before)** is the pipeline before that (PyMuPDF page text, line-based cleaning, 200-token "
        f"chunks, no header); **notebook** is the naive baseline of issue 14 (PyMuPDF text in fixed 1,000-character "
        f"pieces).\n\n" + "\n\n".join(sections) + f"\n\nSizes: {sizes}.")
    raw = {"question_sets": {**QUESTION_SETS, **TABLE_SETS}, "results": list(results.values())}
    write_section("retrieval_quality", markdown, raw)
    print(markdown)
    return raw


if __name__ == "__main__":
    main()
