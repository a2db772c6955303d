"""Where `extract_pdf`'s time goes on the shared corpora's text-layer PDFs, against PyMuPDF's plain
`get_text` on the same pages in the same run: the whole extraction, the same without the table
finder (`find_tables: false`), and a cProfile of one pass split by stage (text blocks, the table
finder and the layout model inside it, figures and drawings, the outline, the rest). Then whether
the table finder without its layout model (`use_layout=False`, ruling lines only) would find the
tables the layout model finds on pages with a "Table N" caption: the check before anyone trades
the model away for speed."""
from __future__ import annotations

import cProfile
import pstats
import statistics
import time
from pathlib import Path

import pymupdf

from spark_arxiv_assets.core.page_layout import _is_table_caption, raw_blocks
from spark_arxiv_assets.core.pdf_text import ExtractionOptions, extract_pdf

from .common import CORPORA, write_section

ROUNDS = 3
# (label, file, function) whose cumulative time is a stage; nested stages are reported inside their parent
STAGES = [("text blocks (`get_text('dict')`)", "page_layout.py", "raw_blocks"),
          ("table finder (pages with a table caption)", "page_layout.py", "_tables"),
          ("  of which PyMuPDF's layout model", "pymupdf/__init__.py", "get_layout"),
          ("images and drawing clusters (figures)", "page_layout.py", "_graphics"),
          ("figure thumbnails", "page_layout.py", "_figure_png"),
          ("outline (table of contents)", "page_layout.py", "document_outline")]


def _documents() -> list[Path]:
    return sorted(p for p in (CORPORA / "pdfs").glob("*.pdf") if not p.name.startswith("scanned"))


def _plain(paths: list[Path]) -> int:
    pages = 0
    for path in paths:
        with pymupdf.open(path) as doc:
            pages += sum(1 for page in doc if page.get_text() is not None)
    return pages


def _structured(paths: list[Path], options: ExtractionOptions) -> None:
    for path in paths:
        extract_pdf(str(path), options, None)


def _stage_seconds(profile: pstats.Stats) -> dict[str, float]:
    seconds = {}
    for label, file, function in STAGES:
        seconds[label] = sum(stat[3] for (path, _, name), stat in profile.stats.items()
                             if name == function and path.endswith(file))
    return seconds


def _caption_pages(paths: list[Path]) -> list[tuple[str, int]]:
    found = []
    for path in paths:
        with pymupdf.open(path) as doc:
            found += [(str(path), page.number) for page in doc
                      if any(_is_table_caption(block.text) for block in raw_blocks(page))]
    return found


def _lines_only_agreement(pages: list[tuple[str, int]]) -> dict:
    """Per caption page: tables the default finder (with the layout model) finds, and how many of
    those the ruling-lines finder alone finds with the same box (within 3 pt)."""
    with_model = lines_only = matched = 0
    for path, number in pages:
        with pymupdf.open(path) as doc:
            page = doc[number]
            model_boxes = [tuple(t.bbox) for t in page.find_tables().tables]
            line_boxes = [tuple(t.bbox) for t in page.find_tables(use_layout=False).tables]
        with_model += len(model_boxes)
        lines_only += len(line_boxes)
        matched += sum(any(max(abs(a - b) for a, b in zip(box, other)) <= 3 for other in line_boxes)
                       for box in model_boxes)
    return {"caption_pages": len(pages), "tables_with_model": with_model, "tables_lines_only": lines_only,
            "model_tables_also_found_by_lines": matched}


def main() -> dict:
    paths = _documents()
    full, no_tables = ExtractionOptions(ocr_engine="none"), ExtractionOptions(ocr_engine="none", find_tables=False)
    times: dict[str, list[float]] = {"plain": [], "structured": [], "structured, no table finder": []}
    pages = 0
    for _ in range(ROUNDS):  # interleaved, so machine noise hits all alike
        started = time.perf_counter()
        pages = _plain(paths)
        times["plain"].append(time.perf_counter() - started)
        started = time.perf_counter()
        _structured(paths, full)
        times["structured"].append(time.perf_counter() - started)
        started = time.perf_counter()
        _structured(paths, no_tables)
        times["structured, no table finder"].append(time.perf_counter() - started)
    median = {k: statistics.median(v) for k, v in times.items()}
    profiler = cProfile.Profile()
    profiler.runcall(_structured, paths, full)
    stats = pstats.Stats(profiler)
    total = stats.total_tt
    stages = _stage_seconds(stats)
    caption_pages = _caption_pages(paths)
    agreement = _lines_only_agreement(caption_pages)

    rows = "\n".join(f"| {name} | {pages / seconds:.1f} | {seconds / median['plain']:.1f}× |"
                     for name, seconds in median.items())
    nested = "  of which"
    outside = total - sum(s for label, s in stages.items() if not label.startswith(nested))
    stage_rows = "\n".join(f"| {label} | {seconds:.2f} | {seconds / total:.0%} |" for label, seconds in stages.items())
    markdown = (
        "## Where structure-aware extraction spends its time\n\n"
        f"`python -m benchmarks.extraction_profile`. {len(paths)} text-layer PDFs of the shared corpora, {pages} "
        f"pages, one process, median of {ROUNDS} interleaved rounds; then one profiled pass.\n\n"
        f"| path | pages/s | time × plain `get_text` |\n|---|---|---|\n{rows}\n\n"
        f"**One profiled pass** ({total:.1f} s under cProfile, which slows Python code more than native "
        f"code):\n\n| stage | s | share |\n|---|---|---|\n{stage_rows}\n"
        f"| reading order, headings, captions, cleaning (the rest) | {outside:.2f} | {outside / total:.0%} |\n\n"
        f"{len(caption_pages)} of {pages} pages have a \"Table N\" caption, and only those run the table finder. On "
        f"them the finder with its layout model finds {agreement['tables_with_model']} tables; without the model "
        f"(ruling lines only) it finds {agreement['tables_lines_only']} boxes, of which "
        f"{agreement['model_tables_also_found_by_lines']} are one of the model's tables: papers' tables are mostly "
        "drawn with horizontal rules only, which the lines-only finder does not read as a grid.")
    raw = {"pages": pages, "seconds": times, "pages_per_s": {k: pages / v for k, v in median.items()},
           "profile_total_s": total, "stages_s": stages, "lines_only": agreement}
    write_section("extraction_profile", markdown, raw)
    print(markdown)
    return raw


if __name__ == "__main__":
    main()
