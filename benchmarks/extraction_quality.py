"""Extraction quality against ../shared/corpora/reference (Markdown renderings of five corpus
PDFs by another converter): per document, token F1 and normalised token edit distance of

- `plain`: PyMuPDF's page text (`get_text("text")`), what the pipeline extracted before it read
  structure;
- `structured`: the pipeline's page text now (blocks in reading order, tables as Markdown);
- `pymupdf4llm`: PyMuPDF's own Markdown converter (shipped with pymupdf 2.x), run in a child
  process because importing it switches PyMuPDF's layout mode on for the whole process.

Plus the shape of every table found on the table page (1903.10676-p-table) against the shape
read off the page by eye, and seconds per page relative to `plain`."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections import Counter

import numpy as np
import pandas as pd
import pymupdf

from spark_arxiv_assets.core.pdf_text import ExtractionOptions, extract_pdf
from spark_arxiv_assets.core.previews import markdown_table

from .common import CORPORA, write_section

DOCUMENTS = ["2305.03393v1-p9", "layout-code_and_formula", "layout-multi_page", "layout-normal_4pages",
             "layout-picture_classification"]
TABLE_PAGE = "1903.10676-p-table"
# rows incl. header rows × columns, counted on the rendered page: Table 1's two header rows (model
# over Frozen / Finetune) may stay two rows or be merged into one
TABLE_TRUTHS = ([(15, 8), (5, 4)], [(14, 8), (5, 4)])
METHODS = ["plain", "structured", "pymupdf4llm"]
_MARKUP = re.compile(r"<[^>]+>|[#*_`|]|^-{3,}$|\|?(?:-{3,}\|)+", re.M)


def tokens(text: str) -> list[str]:
    """Words, case-folded, with Markdown markup (headings, emphasis, table rules) removed."""
    return re.findall(r"\w+", _MARKUP.sub(" ", text).lower())


def token_f1(reference: list[str], candidate: list[str]) -> float:
    overlap = sum((Counter(reference) & Counter(candidate)).values())
    if not overlap:
        return 0.0
    precision, recall = overlap / len(candidate), overlap / len(reference)
    return 2 * precision * recall / (precision + recall)


def normalised_edit_distance(a: list[str], b: list[str]) -> float:
    """Levenshtein distance over tokens / the longer length (0: identical, 1: nothing shared), one
    numpy row at a time: insertions along a row are a running minimum of (cost − column)."""
    if not a or not b:
        return float(bool(a or b))
    vocabulary = {t: i for i, t in enumerate(set(a) | set(b))}
    b_ids = np.array([vocabulary[t] for t in b])
    columns = np.arange(len(b) + 1)
    row = columns.astype(np.int64)
    for i, token in enumerate(a, start=1):
        substitute = row[:-1] + (b_ids != vocabulary[token])
        best = np.minimum(row[1:] + 1, substitute)
        candidate = np.concatenate([[i], best])
        row = np.minimum.accumulate(candidate - columns) + columns
    return float(row[-1]) / max(len(a), len(b))


def plain_text(path: str) -> str:
    with pymupdf.open(path) as doc:
        return "\n".join(page.get_text("text") for page in doc)


def structured_text(path: str) -> str:
    return "\n\n".join(p.text for p in extract_pdf(path, ExtractionOptions(ocr_engine="none"), None).pages)


_CONVERT = """
import json, sys, time, pymupdf4llm
out = {}
for path in sys.argv[1:]:
    started = time.perf_counter()
    try:
        out[path] = [pymupdf4llm.to_markdown(path, use_ocr=False), time.perf_counter() - started, ""]
    except Exception as exc:  # noqa: BLE001 - a converter failure is a result to report
        out[path] = [None, time.perf_counter() - started, f"{type(exc).__name__}: {exc}"]
print(json.dumps(out))
"""


def pymupdf4llm_texts(paths: list[str]) -> dict[str, tuple[str | None, float, str]]:
    """(Markdown or None, seconds, error) per document, from a child process (see the module
    docstring), OCR off as for the others. The first document's time includes loading the
    converter's layout model, so it is converted twice."""
    done = subprocess.run([sys.executable, "-c", _CONVERT, paths[0], *paths], capture_output=True, text=True,
                          timeout=900, check=True)
    return {path: tuple(value) for path, value in json.loads(done.stdout.strip().splitlines()[-1]).items()}


def markdown_table_shapes(markdown: str) -> list[tuple[int, int]]:
    shapes, rows = [], []
    for line in markdown.splitlines() + [""]:
        if line.strip().startswith("|"):
            if not set(line.strip()) <= set("|-: "):
                rows.append(len(line.strip().strip("|").split("|")))
        elif rows:
            shapes.append((len(rows), max(rows)))
            rows = []
    return shapes


def timed_text(fn, path: str) -> tuple[str, float]:
    started = time.perf_counter()
    text = fn(path)
    return text, time.perf_counter() - started


def main() -> dict:
    paths = [str(CORPORA / "pdfs" / f"{name}.pdf") for name in DOCUMENTS + [TABLE_PAGE]]
    converted = pymupdf4llm_texts(paths)
    rows, raw = [], {}
    seconds = {method: 0.0 for method in METHODS}  # over the documents every method converted
    pages, failures = 0, []
    for name, path in zip(DOCUMENTS, paths):
        reference = tokens((CORPORA / "reference" / f"{name}.md").read_text())
        texts = {"plain": timed_text(plain_text, path), "structured": timed_text(structured_text, path),
                 "pymupdf4llm": converted[path][:2]}
        with pymupdf.open(path) as doc:
            pages += doc.page_count
        row = {"document": name}
        for method, (text, spent) in texts.items():
            if text is None:  # the converter failed on this document
                row[f"F1 {method}"] = row[f"edit distance {method}"] = None
                failures.append(f"{name}: {converted[path][2]}")
                continue
            candidate = tokens(text)
            row[f"F1 {method}"] = round(token_f1(reference, candidate), 3)
            row[f"edit distance {method}"] = round(normalised_edit_distance(reference, candidate), 3)
        if all(text is not None for text, _ in texts.values()):
            for method, (_, spent) in texts.items():
                seconds[method] += spent
        rows.append(row)
        raw[name] = row
    frame = pd.DataFrame(rows)
    means = {"document": "mean", **frame.drop(columns="document").mean().round(3).to_dict()}
    frame = pd.concat([frame, pd.DataFrame([means])], ignore_index=True)

    table_path = paths[-1]
    shapes = {"plain": markdown_table_shapes(plain_text(table_path)),
              "structured": markdown_table_shapes(structured_text(table_path)),
              "pymupdf4llm": markdown_table_shapes(converted[table_path][0] or "")}
    shape_rows = [{"method": m, "tables found (rows × columns)": ", ".join(f"{r} × {c}" for r, c in s) or "none",
                   "matches the page": s in TABLE_TRUTHS} for m, s in shapes.items()]
    speed = {m: round(seconds[m] / seconds["plain"], 2) for m in METHODS}
    markdown = (
        "## Extraction quality against reference Markdown\n\n"
        f"`python -m benchmarks.extraction_quality`. Five corpus PDFs ({pages} pages) have a Markdown rendering "
        "by another converter in `../shared/corpora/reference`. Per document: token F1 (bag of words, Markdown "
        "markup removed) and normalised token edit distance (Levenshtein over the word sequence / the longer "
        "length: lower is better; it also counts reading order). `plain` is PyMuPDF's page text, what the pipeline "
        "used before structure-aware extraction; `structured` is the pipeline's page text now; `pymupdf4llm` is "
        "PyMuPDF's own Markdown converter.\n\n"
        + markdown_table(frame) + "\n\nMeans are over the documents each method converted. "
        + (f"pymupdf4llm failed on {'; '.join(failures)}. " if failures else "") +
        f"Time relative to `plain`, on the documents all three converted: structured {speed['structured']}×, "
        f"pymupdf4llm {speed['pymupdf4llm']}× (its first call, which loads its layout model, is excluded).\n\n"
        f"**Tables on the table page** ({TABLE_PAGE}; by eye: Table 1 is 13 result rows × 8 columns under a "
        "two-row header, so 15 × 8, or 14 × 8 with the header rows merged into one; Table 2 is 5 × 4):\n\n" + markdown_table(pd.DataFrame(shape_rows)))
    result = {"documents": raw, "seconds_relative_to_plain": speed, "table_shapes": shapes, "failures": failures}
    write_section("extraction_quality", markdown, result)
    print(markdown)
    return result


if __name__ == "__main__":
    main()
