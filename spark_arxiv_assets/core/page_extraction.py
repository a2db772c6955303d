"""Extraction of many papers as plain rows: the body of a Spark task (no Spark import)."""
from __future__ import annotations

import os
import time
from typing import Iterable, Iterator

from .ocr import get_ocr_engine
from .pdf_text import EXTRACTOR_VERSION, ExtractionOptions, extract_pdf


def extract_papers(items: Iterable[tuple[str, str, str]], options: ExtractionOptions) -> Iterator[dict]:
    """`items` are (paper_id, pdf_path, pdf_sha256). Yields one row per page, or one
    quarantine row per bad paper; never raises for a bad PDF."""
    ocr = None
    for paper_id, pdf_path, sha256 in items:
        if ocr is None:  # the OCR engine loads its models once per Python worker
            ocr = get_ocr_engine(options.ocr_engine)
        started = time.perf_counter()
        try:
            result = extract_pdf(pdf_path, options, ocr)
        except Exception as exc:  # a bug or a parser crash: quarantine, do not kill the task
            yield {"kind": "quarantine", "paper_id": paper_id, "pdf_path": pdf_path, "pdf_sha256": sha256,
                   "reason": f"extraction error: {type(exc).__name__}: {exc}"[:300]}
            continue
        if result.problem:
            yield {"kind": "quarantine", "paper_id": paper_id, "pdf_path": pdf_path, "pdf_sha256": sha256,
                   "reason": result.problem}
            continue
        seconds = (time.perf_counter() - started) / max(1, len(result.pages))
        for page in result.pages:
            yield {"kind": "page", "paper_id": paper_id, "page": page.page, "text": page.text,
                   "method": page.method, "n_chars": len(page.text), "pdf_sha256": sha256,
                   "extractor": f"{EXTRACTOR_VERSION}+{options.ocr_engine}", "seconds": seconds,
                   "worker_pid": os.getpid()}
