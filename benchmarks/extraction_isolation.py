"""What per-paper isolation costs: the text-layer PDFs of ../shared/corpora extracted with
`extract_pdf` in the calling process (the plain baseline) and through `extract_papers`, which
runs them in a forked child with a time limit per paper and a memory cap (what every Spark task
does)."""
from __future__ import annotations

import statistics
import time

from spark_arxiv_assets.core.page_extraction import extract_papers
from spark_arxiv_assets.core.pdf_text import ExtractionOptions, extract_pdf

from .common import CORPORA, write_section

ROUNDS = 5


def main() -> dict:
    paths = sorted(p for p in (CORPORA / "pdfs").glob("*.pdf") if not p.name.startswith("scanned"))
    options = ExtractionOptions(ocr_engine="none")  # text layers only: OCR time would hide the overhead
    items = [(p.stem, str(p), "") for p in paths]
    pages = sum(len(extract_pdf(str(p), options, None).pages) for p in paths)  # also warms the page cache
    inline, isolated = [], []
    for _ in range(ROUNDS):  # interleaved, so machine noise hits both alike
        started = time.perf_counter()
        for p in paths:
            extract_pdf(str(p), options, None)
        inline.append(time.perf_counter() - started)
        started = time.perf_counter()
        rows = list(extract_papers(items, options))
        isolated.append(time.perf_counter() - started)
    assert sum(r["kind"] == "page" for r in rows) == pages
    base, bounded = statistics.median(inline), statistics.median(isolated)
    raw = {"papers": len(paths), "pages": pages, "rounds": ROUNDS, "inline_s": inline, "isolated_s": isolated,
           "ratio": bounded / base, "overhead_ms_per_paper": (bounded - base) / len(paths) * 1000}
    markdown = (f"## Per-paper isolation\n\n{len(paths)} text-layer PDFs of the shared corpora ({pages} pages), median "
                f"of {ROUNDS} interleaved rounds: extraction in the calling process {base:.2f} s "
                f"({pages / base:.0f} pages/s), in a forked child with a time limit per paper and a memory cap "
                "(one child serves the papers in turn, replaced after a failure, recycled every 16) "
                f"{bounded:.2f} s ({pages / bounded:.0f} pages/s): **{raw['ratio']:.2f}×** the time, "
                f"{raw['overhead_ms_per_paper']:.0f} ms per paper. A child that OCRs loads the OCR models once "
                "(≈0.4 s), against seconds of OCR per page.")
    write_section("extraction_isolation", markdown, raw)
    print(markdown)
    return raw


if __name__ == "__main__":
    main()
