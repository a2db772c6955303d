"""Page extraction inside Spark tasks. Executors import only this module's light dependencies
(PyMuPDF, pandas, pyarrow; no Dagster), so Python workers start fast and the per-paper fork
copies a small process."""
from __future__ import annotations

from typing import Iterable, Iterator

import pandas as pd

from ..core.page_extraction import PAGE_COLUMNS, extract_papers
from ..core.pdf_text import ExtractionOptions
from ..storage.tables import write_table
from ..storage.uris import fetched_file
from .collect import collect_tasks


def page_summary(pages: pd.DataFrame) -> dict:
    """What the manifest records about one paper's pages."""
    numbers = sorted(pages["page"])
    return {"n_pages": len(pages), "n_chars": int(pages["n_chars"].sum()),
            "ocr_pages": int((pages["method"] == "ocr").sum()), "empty_pages": int((pages["method"] == "empty").sum()),
            "numbered_without_gaps": numbers == list(range(1, len(numbers) + 1))}


def _fetched_pdfs(items: Iterable[tuple[str, str, str, str]]) -> Iterator[tuple[str, str, str]]:
    """(paper_id, local path, sha256), one at a time: a PDF in an object store is downloaded to the
    executor's disk while its paper is extracted, and deleted when the next one is asked for."""
    for paper_id, pdf, sha, _ in items:
        with fetched_file(pdf) as local:
            yield paper_id, local, sha


def _extract_task(partition: int, items: list[tuple[str, str, str, str]], options: ExtractionOptions):
    """Runs on executors: reads each PDF by its URI, extracts it, writes its pages to their file (a
    URI too), yields counts only. Nothing here depends on the driver's filesystem."""
    from pyspark import TaskContext

    task = TaskContext.get()
    targets = {paper_id: target for paper_id, _, _, target in items}
    sources = {paper_id: pdf for paper_id, pdf, _, _ in items}
    current: list[dict] = []
    spark_columns = {"spark_partition": partition, "spark_task_attempt": task.taskAttemptId(),
                     "spark_stage": task.stageId()}

    def flush(paper_rows: list[dict]) -> dict:
        paper_id = paper_rows[0]["paper_id"]
        pages = pd.DataFrame(paper_rows, columns=PAGE_COLUMNS)
        write_table(pages, targets[paper_id])
        return {"kind": "paper", "paper_id": paper_id, "pages_file": targets[paper_id], **page_summary(pages),
                "worker_pid": paper_rows[0]["worker_pid"], **spark_columns}

    for row in extract_papers(_fetched_pdfs(items), options):
        if current and (row["kind"] != "page" or row["paper_id"] != current[0]["paper_id"]):
            yield flush(current)
            current = []
        if row["kind"] == "page":
            current.append({**row, **spark_columns})
        else:  # a quarantined paper is reported by its URI, not by the executor's temporary copy
            yield {**row, "pdf_path": sources[row["paper_id"]], **spark_columns}
    if current:
        yield flush(current)


def extraction_slices(papers: int, papers_per_task: int, parallelism: int) -> int:
    """`papers_per_task` at most, but never fewer than 4 tasks per core while there are papers:
    small tasks spread OCR-heavy papers and give progress; each task costs ≈30 ms to schedule."""
    return max(1, min(papers, max(-(-papers // max(1, papers_per_task)), 4 * max(1, parallelism))))


def run_extraction(spark_context, items: list[tuple[str, str, str, str]], options: ExtractionOptions,
                   papers_per_task: int, log) -> list[dict]:
    """`items` are (paper_id, PDF URI, sha256, pages file URI to write); returns one small row per paper."""
    slices = extraction_slices(len(items), papers_per_task, spark_context.defaultParallelism)
    return collect_tasks(spark_context, items, slices, lambda idx, it: _extract_task(idx, list(it), options),
                         "extraction tasks", log)
