"""Builds and publishes a chunk index of the bundled sample with the pipeline's core code
(no Spark, no OCR), for tests of everything that reads an index."""
from __future__ import annotations

import pandas as pd

from spark_arxiv_assets.core.arxiv_ids import safe_name
from spark_arxiv_assets.core.chunk_index import IndexOptions, update_chunk_index
from spark_arxiv_assets.core.chunking import ChunkingOptions, clean_and_chunk_paper, make_splitter
from spark_arxiv_assets.core.delta_tables import replace_papers
from spark_arxiv_assets.core.embedding_model import load_sentence_transformer
from spark_arxiv_assets.core.embeddings import encode_texts
from spark_arxiv_assets.core.metadata import MetadataFilter, read_snapshot
from spark_arxiv_assets.core.pdf_text import ExtractionOptions, extract_pdf
from spark_arxiv_assets.core.sample_corpus import write_sample_corpus
from spark_arxiv_assets.settings import sample_dir, storage_uri
from spark_arxiv_assets.storage.atomic import VersionedDir
from spark_arxiv_assets.storage.index_store import index_root, load_latest_index
from spark_arxiv_assets.storage.tables import table_location, write_table
from spark_arxiv_assets.storage.uris import as_upath

SAMPLE_MONTH = "2000-01"  # a month to file the PDFs' rows under


def sample_chunks(extra_text: dict[str, str] | None = None) -> pd.DataFrame:
    """Chunks of the sample papers; `extra_text` appends text to a paper's last page. Their PDFs are
    recorded in the store's `arxiv_pdfs` table, as the pipeline records them (the chat highlights
    quotes on them)."""
    metadata_path, pdf_dir = write_sample_corpus(sample_dir())
    with open(metadata_path, "rb") as stream:
        papers, _ = read_snapshot(stream, MetadataFilter())
    model = load_sentence_transformer("all-MiniLM-L6-v2", "cpu")
    options = ChunkingOptions()
    splitter = make_splitter(model.tokenizer, options)
    rows, pdfs = [], []
    for paper in papers.itertuples():
        pdf = pdf_dir / f"{paper.paper_id.replace('/', '_')}.pdf"
        result = extract_pdf(str(pdf), ExtractionOptions(ocr_engine="none"), None)
        if result.problem:
            continue
        pdfs.append({"paper_id": paper.paper_id, "month": SAMPLE_MONTH, "pdf_path": str(pdf), "status": "local"})
        figures_file = f"paper_pages/files/sample/{safe_name(paper.paper_id)}.parquet"  # as the Spark task stores them
        write_table(pd.DataFrame({"page": [p.page for p in result.pages], "figures": [p.figures for p in result.pages]}),
                    as_upath(storage_uri()) / "assets" / figures_file)
        pages = [(p.page, p.text, p.blocks) for p in result.pages]
        if paper.paper_id in (extra_text or {}):
            pages[-1][2].append({"kind": "text", "text": extra_text[paper.paper_id]})
        paper_rows, _ = clean_and_chunk_paper(paper.paper_id, paper.title, pages, splitter, model.tokenizer, options,
                                              figure_source=figures_file)
        rows += paper_rows
    replace_papers(table_location(storage_uri(), "arxiv_pdfs"), pd.DataFrame(pdfs), [SAMPLE_MONTH],
                   [p["paper_id"] for p in pdfs])
    return pd.DataFrame(rows)


def publish_index(chunks: pd.DataFrame) -> str:
    model = load_sentence_transformer("all-MiniLM-L6-v2", "cpu")
    index, _ = update_chunk_index(load_latest_index(storage_uri()), chunks, lambda t: encode_texts(model, t), IndexOptions(),
                                  "sentence-transformers/all-MiniLM-L6-v2")
    return VersionedDir(index_root(storage_uri())).write(index.save).name
