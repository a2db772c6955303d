"""Extraction of many papers as plain rows: the body of a Spark task (no Spark import).

Papers are extracted in a forked child with a time limit per paper and a memory cap
(`BoundedWorker`): a document bomb, a hang or a crash in the native parser quarantines that
paper, and the task's other papers go on. A bug in our own code fails the task, and with it
the run."""
from __future__ import annotations

import json
import os
import time
from typing import Iterable, Iterator

from .bounded_call import BoundedWorker, ChildBug, LimitExceeded
from .ocr import LazyOcrEngine
from .pdf_text import ExtractionOptions, extract_pdf

PAGE_COLUMNS = ["paper_id", "page", "text", "method", "n_chars", "pdf_sha256", "extractor", "seconds",
                "worker_pid", "spark_partition", "spark_task_attempt", "spark_stage", "blocks", "figures"]


class ExtractionBug(RuntimeError):
    """Extraction raised a programming error: fix the code, do not blame the paper."""


def extract_papers(items: Iterable[tuple[str, str, str]], options: ExtractionOptions) -> Iterator[dict]:
    """`items` are (paper_id, pdf_path, pdf_sha256). Yields one row per page, or one
    quarantine row per bad paper; never raises for a bad PDF."""
    ocr = LazyOcrEngine(options.ocr_engine)  # checks the name now; loads models only in a child that OCRs
    with BoundedWorker(extract_pdf, (), options.paper_timeout_s, options.max_memory_mb) as worker:
        for paper_id, pdf_path, sha256 in items:
            yield from _paper_rows(worker, paper_id, pdf_path, sha256, options, ocr)


def _paper_rows(worker: BoundedWorker, paper_id: str, pdf_path: str, sha256: str, options: ExtractionOptions,
                ocr: LazyOcrEngine) -> Iterator[dict]:
    started = time.perf_counter()
    try:
        result = worker.call(pdf_path, options, ocr)
    except LimitExceeded as exc:
        yield {"kind": "quarantine", "paper_id": paper_id, "pdf_path": pdf_path, "pdf_sha256": sha256,
               "reason": f"extraction limit: {exc}"}
        return
    except ChildBug as exc:
        raise ExtractionBug(f"extracting {paper_id} ({pdf_path}) raised an error in our code, not a "
                            f"document problem:\n{exc}") from None
    if result.problem:
        yield {"kind": "quarantine", "paper_id": paper_id, "pdf_path": pdf_path, "pdf_sha256": sha256,
               "reason": result.problem}
        return
    seconds = (time.perf_counter() - started) / max(1, len(result.pages))
    for page in result.pages:
        yield {"kind": "page", "paper_id": paper_id, "page": page.page, "text": page.text,
               "method": page.method, "n_chars": len(page.text), "pdf_sha256": sha256,
               "extractor": options.extractor_id(), "seconds": seconds, "worker_pid": os.getpid(),
               "blocks": json.dumps(page.blocks, ensure_ascii=False), "figures": page.figures}
