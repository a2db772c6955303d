"""`paper_pages` (+ `quarantined_papers`): page text extracted inside Spark tasks."""

import time

import pandas as pd
from dagster import (AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, AssetExecutionContext, AssetOut, Config,
                     MetadataValue, Output, asset_check, multi_asset)
from dagster_pyspark import LazyPySparkResource

from ..core.page_extraction import extract_papers
from ..core.pdf_text import ExtractionOptions
from ..core.previews import counts_table, markdown_table
from ..core.progress import Progress
from ..io_managers.parquet import read_previous_table
from ..resources.spark import SparkJobProgress

PAGE_COLUMNS = ["paper_id", "page", "text", "method", "n_chars", "pdf_sha256", "extractor", "seconds",
                "worker_pid", "spark_partition", "spark_task_attempt", "spark_stage"]
QUARANTINE_COLUMNS = ["paper_id", "stage", "reason", "pdf_path", "pdf_sha256"]


class PagesConfig(Config):
    ocr_engine: str = "rapidocr"  # rapidocr | tesseract | none
    ocr_dpi: int = 200
    min_text_chars: int = 25
    max_pages: int = 500
    max_page_chars: int = 200_000  # more text than this on one page quarantines the paper (text bomb)
    max_ocr_megapixels: float = 12.0
    paper_timeout_s: float = 600.0  # per paper, enforced inside the Spark task
    max_memory_mb: int = 4096  # address space one paper's extraction may add
    max_quarantined_share: float = 0.5  # the quarantine check fails (ERROR) above this share of papers
    papers_per_task: int = 2  # small tasks spread OCR-heavy papers and give finer progress
    reuse_previous: bool = True  # keep pages of PDFs already extracted (same sha256 and extraction options)


def _tag_with_task(partition: int, rows):
    """Runs on executors: records which Spark task produced each row."""
    from pyspark import TaskContext

    task = TaskContext.get()
    for row in rows:
        if row["kind"] == "page":
            row.update(spark_partition=partition, spark_task_attempt=task.taskAttemptId(), spark_stage=task.stageId())
        yield row


def run_extraction(spark_context, items: list[tuple[str, str, str]], options: ExtractionOptions,
                   papers_per_task: int, log) -> list[dict]:
    if not items:
        return []
    slices = max(1, -(-len(items) // max(1, papers_per_task)))
    rdd = spark_context.parallelize(items, slices)
    tagged = rdd.mapPartitionsWithIndex(lambda idx, it: _tag_with_task(idx, extract_papers(it, options)))
    progress = Progress("extraction tasks", slices, log, unit="tasks")
    with SparkJobProgress(spark_context, f"extract-{time.time_ns()}", progress):
        rows = tagged.collect()
    progress.set(slices)
    progress.finish()
    return rows


@multi_asset(
    outs={
        "paper_pages": AssetOut(io_manager_key="parquet_io_manager", group_name="extract",
                                description="Text of every page of every readable paper, with OCR where needed."),
        "quarantined_papers": AssetOut(io_manager_key="parquet_io_manager", group_name="extract",
                                       description="Papers left out, and why (download or extraction)."),
    },
    compute_kind="pyspark",
    check_specs=[AssetCheckSpec("no_readable_paper_without_text", asset="paper_pages"),
                 AssetCheckSpec("quarantine_has_reasons", asset="quarantined_papers",
                                description="Every quarantined paper has a reason, and no more than "
                                            "max_quarantined_share of the papers is quarantined.")],
)
def paper_pages(context: AssetExecutionContext, config: PagesConfig, arxiv_pdfs: pd.DataFrame,
                pyspark: LazyPySparkResource):
    options = ExtractionOptions(config.ocr_engine, config.ocr_dpi, config.min_text_chars, config.max_pages,
                                config.max_page_chars, config.max_ocr_megapixels, config.paper_timeout_s,
                                config.max_memory_mb)
    extractor = options.extractor_id()
    ready = arxiv_pdfs[arxiv_pdfs["status"] != "failed"]
    reused = pd.DataFrame(columns=PAGE_COLUMNS)
    previous = read_previous_table("paper_pages") if config.reuse_previous else None
    if previous is not None and not previous.empty:
        wanted = set(zip(ready["paper_id"], ready["sha256"]))
        keep = [(p, s) in wanted and e == extractor for p, s, e in
                zip(previous["paper_id"], previous["pdf_sha256"], previous["extractor"])]
        reused = previous[keep]
    done = set(reused["paper_id"])
    todo = [(p, path, sha) for p, path, sha in zip(ready["paper_id"], ready["pdf_path"], ready["sha256"])
            if p not in done]
    context.log.info(f"{len(done)} papers reused from the previous materialization, {len(todo)} to extract "
                     f"on {pyspark.spark_context.master}")
    started = time.perf_counter()
    rows = run_extraction(pyspark.spark_context, todo, options, config.papers_per_task, context.log.info)
    seconds = time.perf_counter() - started

    new_pages = pd.DataFrame([r for r in rows if r["kind"] == "page"], columns=PAGE_COLUMNS)
    pages = pd.concat([reused, new_pages], ignore_index=True) if not reused.empty else new_pages
    pages = pages.sort_values(["paper_id", "page"], ignore_index=True)
    extract_failures = pd.DataFrame([{**r, "stage": "extract"} for r in rows if r["kind"] == "quarantine"],
                                    columns=QUARANTINE_COLUMNS)
    download_failures = arxiv_pdfs[arxiv_pdfs["status"] == "failed"].rename(
        columns={"error": "reason", "sha256": "pdf_sha256"}).assign(stage="download")[QUARANTINE_COLUMNS]
    quarantine = pd.concat([download_failures, extract_failures], ignore_index=True)
    for row in quarantine.itertuples():
        context.log.warning(f"quarantined {row.paper_id} ({row.stage}): {row.reason}")

    new_page_count = len(new_pages)
    yield Output(pages, output_name="paper_pages", metadata={
        "papers": int(pages["paper_id"].nunique()),
        "pages": len(pages),
        "papers_extracted_now": len(todo) - len(extract_failures),
        "papers_reused": len(done),
        "ocr_pages": int((pages["method"] == "ocr").sum()),
        "empty_pages": int((pages["method"] == "empty").sum()),
        "spark_master": pyspark.spark_context.master,
        "extractor": extractor,
        "per_paper_limits": MetadataValue.json({"paper_timeout_s": config.paper_timeout_s,
                                                "max_memory_mb": config.max_memory_mb,
                                                "max_page_chars": config.max_page_chars,
                                                "max_ocr_megapixels": config.max_ocr_megapixels}),
        "spark_tasks": int(new_pages["spark_partition"].nunique()) if new_page_count else 0,
        "seconds": round(seconds, 2),
        "pages_per_second": round(new_page_count / seconds, 2) if seconds > 0 and new_page_count else 0.0,
        "methods": MetadataValue.md(counts_table(pages["method"], "method")),
        "preview": MetadataValue.md(markdown_table(pages[["paper_id", "page", "method", "n_chars", "text"]])),
    })
    yield Output(quarantine, output_name="quarantined_papers", metadata={
        "quarantined": len(quarantine),
        "over_a_per_paper_limit": int(quarantine["reason"].str.startswith("extraction limit").sum()),
        "reasons": MetadataValue.md(markdown_table(quarantine[["paper_id", "stage", "reason"]], max_rows=50,
                                                   max_chars=120)),
    })
    yield _text_check(pages)
    yield _quarantine_check(quarantine, len(arxiv_pdfs), config.max_quarantined_share)


def _text_check(pages: pd.DataFrame) -> AssetCheckResult:
    chars = pages.groupby("paper_id")["text"].apply(lambda t: int(t.str.strip().str.len().sum()))
    textless = sorted(chars[chars == 0].index)
    return AssetCheckResult(check_name="no_readable_paper_without_text", asset_key="paper_pages",
                            passed=not textless, metadata={"papers_without_text": MetadataValue.json(textless)})


@asset_check(asset="paper_pages", description="Each paper's pages are numbered 1..N without gaps.")
def pages_numbered_without_gaps(paper_pages: pd.DataFrame) -> AssetCheckResult:
    bad = [paper for paper, pages in paper_pages.groupby("paper_id")["page"]
           if sorted(pages) != list(range(1, len(pages) + 1))]
    return AssetCheckResult(passed=not bad, metadata={"papers_with_gaps": MetadataValue.json(bad)})


def _quarantine_check(quarantine: pd.DataFrame, papers: int, max_share: float) -> AssetCheckResult:
    """An ERROR, not a warning: a run in which most papers fail is broken, whatever it produced."""
    without_reason = int((quarantine["reason"].fillna("") == "").sum())
    share = len(quarantine) / max(1, papers)
    return AssetCheckResult(check_name="quarantine_has_reasons", asset_key="quarantined_papers",
                            passed=without_reason == 0 and share <= max_share, severity=AssetCheckSeverity.ERROR,
                            metadata={"without_reason": without_reason, "share_quarantined": round(share, 3),
                                      "max_quarantined_share": max_share})
