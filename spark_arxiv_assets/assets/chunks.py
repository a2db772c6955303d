"""`paper_chunks`: cleaned, token-sized passages with page spans and stable ids, per month."""

import time

import pandas as pd
from dagster import (AssetCheckResult, AssetCheckSpec, AssetExecutionContext, AssetIn, Config, MetadataValue, Output,
                     ResourceParam, asset)
from dagster_pyspark import LazyPySparkResource

from ..core.chunking import CHUNK_COLUMNS, ChunkingOptions
from ..core.options import options_from
from ..core.previews import figure_gallery, markdown_table
from ..io_managers.page_files import MANIFEST_ONLY, PageFilesIOManager
from ..io_managers.paper_tables import PaperRows
from ..resources.models import EmbeddingModel
from ..spark_tasks.chunking import run_chunking
from ..storage.page_store import read_figure
from .partitions import MONTHS, ONE_RUN, SPARK_POOL, add_month_metadata
from .usage import reports_usage

FIGURES_SHOWN = 4  # thumbnails in the metadata: enough to see that figures were cropped, not a catalogue


class ChunksConfig(Config):
    """Chunking options (documented in `core/chunking.ChunkingOptions`)."""
    chunk_tokens: int = ChunkingOptions.chunk_tokens
    overlap_tokens: int = ChunkingOptions.overlap_tokens
    min_chunk_chars: int = ChunkingOptions.min_chunk_chars
    max_embedded_tokens: int = ChunkingOptions.max_embedded_tokens  # what the embedder reads; longer is split
    drop_references: bool = True  # reference lists cost embedding time and rarely answer questions


@asset(group_name="extract", io_manager_key="paper_table_io_manager", kinds={"langchain", "pyspark"},
       partitions_def=MONTHS,
       backfill_policy=ONE_RUN, pool=SPARK_POOL, ins={"paper_pages": AssetIn(metadata=MANIFEST_ONLY)},
       check_specs=[AssetCheckSpec("chunks_complete_and_sized", asset="paper_chunks",
                                   description="Ids are unique, sizes fit the embedding model, every paper "
                                               "with text has chunks, and every chunk of a paper with "
                                               "headings has a section path.")])
@reports_usage
def paper_chunks(context: AssetExecutionContext, config: ChunksConfig, paper_pages: pd.DataFrame,
                 quarantined_papers: pd.DataFrame, arxiv_metadata: pd.DataFrame, embedder: EmbeddingModel,
                 pyspark: LazyPySparkResource, page_files_io_manager: ResourceParam[PageFilesIOManager]):
    """Cleans each paper's pages and splits them with the embedding model's own tokenizer, in Spark
    tasks that read the page files by URI (`paper_pages` arrives as its table of files, not as
    text). Writes the chunks of the papers with pages, and none for the papers quarantined now."""
    options = options_from(ChunkingOptions, config)
    titles = dict(zip(arxiv_metadata["paper_id"], arxiv_metadata["title"]))
    manifest = paper_pages.sort_values("paper_id")
    items = [(p, titles.get(p, p), f) for p, f in zip(manifest["paper_id"], manifest["pages_file"])]
    started = time.perf_counter()
    rows = run_chunking(pyspark.spark_context, items, str(page_files_io_manager.assets_root), embedder.model, options,
                        config.drop_references, context.log.info) if items else []
    seconds = time.perf_counter() - started
    stats = [r for r in rows if r["kind"] == "stats"]
    frame = pd.DataFrame([r for r in rows if r["kind"] == "chunk"], columns=CHUNK_COLUMNS)
    frame = frame.sort_values(["paper_id", "chunk_index"], ignore_index=True)
    frame["month"] = frame["paper_id"].map(dict(zip(arxiv_metadata["paper_id"], arxiv_metadata["month"])))
    add_month_metadata(context, "paper_chunks", frame, lambda m: {
        "month_chunks": len(m), "month_papers": int(m["paper_id"].nunique())})
    yield Output(PaperRows.of(frame, set(manifest["paper_id"]) | set(quarantined_papers["paper_id"])), metadata={
        **_chunks_metadata(frame, stats, page_files_io_manager),
        "seconds": round(seconds, 2),
        "chunked_on": pyspark.spark_context.master if items else "nothing to chunk"})
    yield _complete_and_sized(frame, manifest, {s["paper_id"] for s in stats if s["headings"]},
                              config.max_embedded_tokens)


def _chunks_metadata(frame: pd.DataFrame, stats: list[dict], store: PageFilesIOManager) -> dict:
    """Sizes, chunk types, what cleaning removed, and previews of the chunks and the figures cropped."""
    total = lambda key: sum(s[key] for s in stats)  # noqa: E731
    tokens = frame["n_tokens"] if len(frame) else pd.Series([0])
    per_paper = frame.groupby("paper_id").size().rename("chunks").reset_index()
    return {
        "chunks": len(frame),
        "papers": int(frame["paper_id"].nunique()),
        "tokens_total": int(tokens.sum()),
        "tokens_mean": round(float(tokens.mean()), 1),
        "tokens_max": int(tokens.max()),
        "chunks_by_type": MetadataValue.json({k: int(v) for k, v in frame["chunk_type"].value_counts().items()}),
        "headings": total("headings"),
        "tables": total("tables"),
        "figures": total("figures"),
        "papers_with_references_detected": sum(s["reference_entries"] > 0 for s in stats),
        "header_footer_lines_removed": total("header_footer_lines_removed"),
        "reference_chars_dropped": total("reference_chars_dropped"),
        "chunks_per_paper": MetadataValue.md(markdown_table(per_paper, max_rows=20)),
        "preview": MetadataValue.md(markdown_table(frame[["chunk_id", "paper_id", "page_start", "chunk_type",
                                                          "section", "n_tokens", "text"]], max_chars=100)),
        "figures_preview": MetadataValue.md(_figures_preview(frame, store)),
    }


def _figures_preview(chunks: pd.DataFrame, page_files: PageFilesIOManager) -> str:
    """The first few cropped figures with their captions, read back from the page files."""
    figures = []
    for chunk in chunks[chunks["figure_ref"] != ""].itertuples():
        png = read_figure(page_files.assets_root, chunk.figure_ref)
        if png:
            figures.append((png, chunk.text, f"{chunk.paper_id}, p. {chunk.page_start}"))
        if len(figures) == FIGURES_SHOWN:
            break
    return figure_gallery(figures)


def _complete_and_sized(paper_chunks: pd.DataFrame, manifest: pd.DataFrame, papers_with_headings: set[str],
                        max_tokens: int) -> AssetCheckResult:
    with_text = set(manifest.loc[manifest["n_pages"] > manifest["empty_pages"], "paper_id"])
    without_chunks = sorted(with_text - set(paper_chunks["paper_id"]))
    too_long = int((paper_chunks["n_tokens"] > max_tokens).sum())
    duplicates = int(paper_chunks["chunk_id"].duplicated().sum())
    empty = int((paper_chunks["text"].str.strip().str.len() == 0).sum())
    unsectioned = int((paper_chunks["paper_id"].isin(papers_with_headings) & (paper_chunks["section"] == "")).sum())
    passed = not without_chunks and too_long == 0 and duplicates == 0 and empty == 0 and unsectioned == 0
    return AssetCheckResult(check_name="chunks_complete_and_sized", passed=passed, metadata={
        "chunks": len(paper_chunks), "papers_without_chunks": MetadataValue.json(without_chunks),
        "over_token_limit": too_long, "max_embedded_tokens": max_tokens, "duplicate_ids": duplicates, "empty": empty,
        "chunks_without_section_in_papers_with_headings": unsectioned})
