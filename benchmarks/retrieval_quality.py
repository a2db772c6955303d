"""Retrieval quality on hand-written questions over ../shared/corpora/pdfs: hit@1/5/10 and
MRR for dense, BM25 and hybrid, through the same code the assets use (extract → clean →
chunk → index)."""
from __future__ import annotations

import json

import pandas as pd

from spark_arxiv_assets.core.chunk_index import IndexOptions, update_chunk_index
from spark_arxiv_assets.core.chunking import ChunkingOptions, clean_and_chunk_paper, make_splitter
from spark_arxiv_assets.core.embeddings import encode_texts
from spark_arxiv_assets.core.metadata import rows_from_pdf_folder
from spark_arxiv_assets.core.pdf_text import ExtractionOptions, extract_pdf
from spark_arxiv_assets.core.previews import markdown_table
from spark_arxiv_assets.core.retrieval import Retriever
from spark_arxiv_assets.core.retrieval_eval import LabelledQuestion, evaluate_retrieval
from spark_arxiv_assets.resources.models import load_sentence_transformer

from .common import CORPORA, ROOT, write_section

QUESTIONS = ROOT / "benchmarks" / "retrieval_questions.json"


def load_questions() -> list[LabelledQuestion]:
    return [LabelledQuestion(**q) for q in json.loads(QUESTIONS.read_text())]


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


def evaluate_setting(model, questions, chunk_tokens: int, drop_references: bool) -> dict:
    chunks = build_corpus_chunks(model, drop_references=drop_references, chunk_tokens=chunk_tokens)
    index, stats = update_chunk_index(None, chunks, lambda t: encode_texts(model, t), IndexOptions(), "all-MiniLM-L6-v2")
    table = evaluate_retrieval(Retriever(index, lambda t: encode_texts(model, t)), questions)
    return {"chunk_tokens": chunk_tokens, "drop_references": drop_references, "chunks": len(chunks),
            "embed_seconds": stats.embed_seconds, "table": table}


def main() -> dict:
    model = load_sentence_transformer("all-MiniLM-L6-v2", "cpu")
    questions = load_questions()
    settings = [(200, True), (200, False), (128, True), (240, True)]  # (200, True) is the pipeline default
    results = [evaluate_setting(model, questions, tokens, drop) for tokens, drop in settings]
    sections = []
    for r in results:
        label = f"{r['chunk_tokens']}-token chunks, references {'dropped' if r['drop_references'] else 'kept'}"
        label += " (default)" if (r["chunk_tokens"], r["drop_references"]) == settings[0] else ""
        sections.append(f"**{label}**: {r['chunks']} chunks, embedded in {r['embed_seconds']:.1f}s "
                        f"({r['chunks'] / r['embed_seconds']:.1f} chunks/s)\n\n" + markdown_table(r["table"].round(3)))
    base, kept = results[0], results[1]
    markdown = (f"## Retrieval quality ({len(questions)} questions over {len(set(q.paper_id for q in questions))} "
                f"papers of ../shared/corpora/pdfs)\n\nQuestions are in `benchmarks/retrieval_questions.json`, "
                f"hand-written from the PDFs, about half in the papers' own words and half paraphrased. A hit is "
                f"a chunk of the right paper whose page span covers the answer page.\n\n" + "\n\n".join(sections) +
                f"\n\nKeeping reference lists embeds {kept['chunks']} instead of {base['chunks']} chunks "
                f"({kept['embed_seconds'] / base['embed_seconds']:.2f}× the embedding time of dropping them).")
    raw = [{**r, "table": r["table"].to_dict(orient="records")} for r in results]
    write_section("retrieval_quality", markdown, {"results": raw})
    print(markdown)
    return {"results": raw}


if __name__ == "__main__":
    main()
