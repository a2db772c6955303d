"""Page extraction inside Spark tasks. Executors import only this module's light dependencies
(PyMuPDF, pandas, pyarrow; no Dagster), so Python workers start fast and the per-paper fork
copies a small process."""
from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from ..core.page_extraction import PAGE_COLUMNS, extract_papers
from ..core.pdf_text import ExtractionOptions
from ..io_managers.tables import write_table


def page_summary(pages: pd.DataFrame) -> dict:
    """What the manifest records about one paper's pages."""
    numbers = sorted(pages["page"])
    return {"n_pages": len(pages), "n_chars": int(pages["n_chars"].sum()),
            "ocr_pages": int((pages["method"] == "ocr").sum()), "empty_pages": int((pages["method"] == "empty").sum()),
            "numbered_without_gaps": numbers == list(range(1, len(numbers) + 1))}


def _extract_task(partition: int, items: list[tuple[str, str, str, str]], options: ExtractionOptions):
    """Runs on executors: extracts each paper, writes its pages to its file, yields counts only."""
    from pyspark import TaskContext

    task = TaskContext.get()
    targets = {paper_id: target for paper_id, _, _, target in items}
    current: list[dict] = []
    spark_columns = {"spark_partition": partition, "spark_task_attempt": task.taskAttemptId(),
                     "spark_stage": task.stageId()}

    def flush(paper_rows: list[dict]) -> dict:
        paper_id = paper_rows[0]["paper_id"]
        pages = pd.DataFrame(paper_rows, columns=PAGE_COLUMNS)
        write_table(pages, Path(targets[paper_id]))
        return {"kind": "paper", "paper_id": paper_id, "pages_file": targets[paper_id], **page_summary(pages),
                "worker_pid": paper_rows[0]["worker_pid"], **spark_columns}

    for row in extract_papers(((p, path, sha) for p, path, sha, _ in items), options):
        if current and (row["kind"] != "page" or row["paper_id"] != current[0]["paper_id"]):
            yield flush(current)
            current = []
        if row["kind"] == "page":
            current.append({**row, **spark_columns})
        else:
            yield {**row, **spark_columns}
    if current:
        yield flush(current)


def extraction_slices(papers: int, papers_per_task: int, parallelism: int) -> int:
    """`papers_per_task` at most, but never fewer than 4 tasks per core while there are papers:
    small tasks spread OCR-heavy papers and give progress; each task costs ≈30 ms to schedule."""
    return max(1, min(papers, max(-(-papers // max(1, papers_per_task)), 4 * max(1, parallelism))))


def run_extraction(spark_context, items: list[tuple[str, str, str, str]], options: ExtractionOptions,
                   papers_per_task: int, log) -> list[dict]:
    """`items` are (paper_id, pdf_path, sha256, pages file to write); returns one small row per paper."""
    from ..core.progress import Progress
    from .spark import SparkJobProgress

    if not items:
        return []
    slices = extraction_slices(len(items), papers_per_task, spark_context.defaultParallelism)
    summaries = spark_context.parallelize(items, slices).mapPartitionsWithIndex(
        lambda idx, it: _extract_task(idx, list(it), options))
    progress = Progress("extraction tasks", slices, log, unit="tasks")
    with SparkJobProgress(spark_context, f"extract-{time.time_ns()}", progress):
        rows = summaries.collect()
    progress.set(slices)
    progress.finish()
    return rows
