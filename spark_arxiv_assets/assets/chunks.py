"""`paper_chunks`: cleaned, token-sized passages with page spans and stable ids, per month."""

import time

import pandas as pd
from dagster import AssetCheckResult, AssetCheckSpec, AssetExecutionContext, Config, MetadataValue, Output, asset

from ..core.chunking import CHUNK_COLUMNS, ChunkingOptions, clean_and_chunk_paper, make_splitter
from ..core.previews import markdown_table
from ..core.progress import Progress
from ..resources.models import EmbeddingModel
from .partitions import MONTHS, ONE_RUN, add_month_metadata, split_by_month

MAX_MODEL_TOKENS = 256  # all-MiniLM-L6-v2's limit; longer chunks would be truncated silently


class ChunksConfig(Config):
    chunk_tokens: int = 200
    overlap_tokens: int = 30
    min_chunk_chars: int = 40
    drop_references: bool = True  # reference lists cost embedding time and rarely answer questions


@asset(group_name="extract", io_manager_key="parquet_io_manager", compute_kind="langchain", partitions_def=MONTHS,
       backfill_policy=ONE_RUN,
       check_specs=[AssetCheckSpec("chunks_complete_and_sized", asset="paper_chunks",
                                   description="Ids are unique, sizes fit the embedding model, and every paper "
                                               "with text has chunks.")])
def paper_chunks(context: AssetExecutionContext, config: ChunksConfig, paper_pages: pd.DataFrame,
                 arxiv_metadata: pd.DataFrame, embedder: EmbeddingModel):
    """Cleans each paper's pages and splits them with the embedding model's own tokenizer."""
    options = ChunkingOptions(config.chunk_tokens, config.overlap_tokens, config.min_chunk_chars)
    tokenizer = embedder.tokenizer()
    splitter = make_splitter(tokenizer, options)
    titles = dict(zip(arxiv_metadata["paper_id"], arxiv_metadata["title"]))
    papers = list(paper_pages.groupby("paper_id", sort=True))
    progress = Progress("chunking", len(papers), context.log.info, unit="papers")
    rows: list[dict] = []
    removed_lines = dropped_ref_chars = 0
    started = time.perf_counter()
    for paper_id, group in papers:
        group = group.sort_values("page")
        paper_rows, stats = clean_and_chunk_paper(paper_id, titles.get(paper_id, paper_id),
                                                  list(zip(group["page"], group["text"])), splitter, tokenizer,
                                                  options, config.drop_references)
        removed_lines += stats.header_footer_lines_removed
        dropped_ref_chars += stats.reference_chars_dropped
        rows.extend(paper_rows)
        progress.advance()
    progress.finish()
    frame = pd.DataFrame(rows, columns=CHUNK_COLUMNS)
    frame["month"] = frame["paper_id"].map(dict(zip(arxiv_metadata["paper_id"], arxiv_metadata["month"])))
    tokens = frame["n_tokens"] if len(frame) else pd.Series([0])
    per_paper = frame.groupby("paper_id").size().rename("chunks").reset_index()
    add_month_metadata(context, "paper_chunks", frame, lambda m: {
        "month_chunks": len(m), "month_papers": int(m["paper_id"].nunique())})
    yield Output(split_by_month(frame, context.partition_keys), metadata={
        "chunks": len(frame),
        "papers": int(frame["paper_id"].nunique()),
        "tokens_total": int(tokens.sum()),
        "tokens_mean": round(float(tokens.mean()), 1),
        "tokens_max": int(tokens.max()),
        "header_footer_lines_removed": removed_lines,
        "reference_chars_dropped": dropped_ref_chars,
        "seconds": round(time.perf_counter() - started, 2),
        "chunks_per_paper": MetadataValue.md(markdown_table(per_paper, max_rows=20)),
        "preview": MetadataValue.md(markdown_table(frame[["chunk_id", "paper_id", "page_start", "page_end",
                                                          "n_tokens", "text"]], max_chars=100)),
    })
    yield _complete_and_sized(frame, paper_pages)


def _complete_and_sized(paper_chunks: pd.DataFrame, paper_pages: pd.DataFrame) -> AssetCheckResult:
    with_text = set(paper_pages.loc[paper_pages["text"].str.strip().str.len() > 0, "paper_id"])
    without_chunks = sorted(with_text - set(paper_chunks["paper_id"]))
    too_long = int((paper_chunks["n_tokens"] > MAX_MODEL_TOKENS).sum())
    duplicates = int(paper_chunks["chunk_id"].duplicated().sum())
    empty = int((paper_chunks["text"].str.strip().str.len() == 0).sum())
    passed = not without_chunks and too_long == 0 and duplicates == 0 and empty == 0
    return AssetCheckResult(check_name="chunks_complete_and_sized", passed=passed, metadata={
        "chunks": len(paper_chunks), "papers_without_chunks": MetadataValue.json(without_chunks),
        "over_token_limit": too_long, "duplicate_ids": duplicates, "empty": empty})
