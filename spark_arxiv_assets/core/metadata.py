"""Kaggle `Cornell-University/arxiv` snapshot (JSON lines): parse, validate, filter."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, Iterable, Iterator

import pandas as pd

from .arxiv_ids import InvalidArxivId, parse_arxiv_id
from .months import ingest_month, month_from_yymm

METADATA_COLUMNS = [
    "paper_id", "version", "yymm", "month", "title", "authors", "abstract", "categories",
    "primary_category", "update_date", "doi", "journal_ref",
]


@dataclass
class MetadataFilter:
    categories: list[str] = field(default_factory=list)  # prefixes: "cs" matches "cs.CL"
    date_from: str | None = None  # inclusive, ISO date, on update_date
    date_to: str | None = None
    max_papers: int | None = None

    def accepts(self, row: dict) -> bool:
        if self.categories:
            cats = row["categories"].split()
            if not any(c == want or c.startswith(want + ".") for c in cats for want in self.categories):
                return False
        day = row["update_date"]
        if self.date_from and (not day or day < self.date_from):
            return False
        if self.date_to and (not day or day > self.date_to):
            return False
        return True


@dataclass
class ParseReport:
    rows_read: int = 0
    bad_lines: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)
    duplicate_ids: list[str] = field(default_factory=list)
    filtered_out: int = 0


def _clean_text(value: object) -> str:
    if value is None:
        return ""
    return " ".join(str(value).split())


def _latest_version(versions: object) -> int | None:
    numbers = []
    for item in versions or []:
        label = item.get("version", "") if isinstance(item, dict) else ""
        if isinstance(label, str) and label.startswith("v") and label[1:].isdigit():
            numbers.append(int(label[1:]))
    return max(numbers) if numbers else None


def normalise_record(record: dict) -> dict:
    """One snapshot record into our row schema; raises ValueError with a reason."""
    if not isinstance(record, dict):
        raise ValueError("record is not a JSON object")
    if not record.get("id"):
        raise ValueError("missing id")
    arxiv_id = parse_arxiv_id(str(record["id"]))
    title = _clean_text(record.get("title"))
    if not title:
        raise ValueError("missing title")
    categories = _clean_text(record.get("categories"))
    update_date = _clean_text(record.get("update_date"))
    if update_date:
        date.fromisoformat(update_date)  # validates; raises ValueError
    return {
        "paper_id": arxiv_id.base,
        "version": _latest_version(record.get("versions")) or arxiv_id.version,
        "yymm": arxiv_id.yymm,
        "month": month_from_yymm(arxiv_id.yymm),
        "title": title,
        "authors": _clean_text(record.get("authors")),
        "abstract": _clean_text(record.get("abstract")),
        "categories": categories,
        "primary_category": categories.split()[0] if categories else "",
        "update_date": update_date,
        "doi": _clean_text(record.get("doi")),
        "journal_ref": _clean_text(record.get("journal-ref")),
    }


def iter_snapshot_rows(lines: Iterable[str | bytes], flt: MetadataFilter, report: ParseReport) -> Iterator[dict]:
    """Yields accepted rows; bad lines and duplicates go to `report`, never raise."""
    seen: set[str] = set()
    accepted = 0
    for number, line in enumerate(lines, start=1):
        if isinstance(line, bytes):
            line = line.decode("utf-8", errors="replace")
        if not line.strip():
            continue
        report.rows_read += 1
        try:
            row = normalise_record(json.loads(line))
        except (json.JSONDecodeError, ValueError, InvalidArxivId) as exc:
            report.bad_lines.append((number, f"{type(exc).__name__}: {exc}"[:200]))
            continue
        if row["paper_id"] in seen:  # the first occurrence wins: snapshots are append-only
            report.duplicate_ids.append(row["paper_id"])
            continue
        seen.add(row["paper_id"])
        if not flt.accepts(row):
            report.filtered_out += 1
            continue
        yield row
        accepted += 1
        if flt.max_papers is not None and accepted >= flt.max_papers:
            return


def read_snapshot(stream: IO, flt: MetadataFilter) -> tuple[pd.DataFrame, ParseReport]:
    report = ParseReport()
    rows = list(iter_snapshot_rows(stream, flt, report))
    frame = pd.DataFrame(rows, columns=METADATA_COLUMNS)
    frame["version"] = frame["version"].astype("Int64")
    return frame, report


@dataclass(frozen=True)
class PdfFileIdentity:
    paper_id: str
    version: int | None
    yymm: str  # "local" without an arXiv id
    month: str  # partition key: the id's month, else the file's ingest month


def pdf_file_identity(pdf: Path) -> PdfFileIdentity:
    """The id is the file name when it parses as an arXiv id (old-style slashes written '_')."""
    from .arxiv_ids import safe_name

    try:
        arxiv_id = parse_arxiv_id(pdf.stem.replace("_", "/", 1) if "_" in pdf.stem else pdf.stem)
        return PdfFileIdentity(arxiv_id.base, arxiv_id.version, arxiv_id.yymm, month_from_yymm(arxiv_id.yymm))
    except InvalidArxivId:
        return PdfFileIdentity(safe_name(pdf.stem), None, "local", ingest_month(pdf.stat().st_mtime))


def rows_from_pdf_folder(folder: Path) -> pd.DataFrame:
    """Metadata for a folder of the user's own PDFs: the id is the file name (an arXiv id
    when it parses as one), the title comes from the PDF's info dictionary."""
    import pymupdf

    rows = []
    for pdf in sorted(Path(folder).glob("*.pdf")):
        identity = pdf_file_identity(pdf)
        paper_id, yymm, version, month = identity.paper_id, identity.yymm, identity.version, identity.month
        title = ""
        try:
            with pymupdf.open(pdf) as doc:
                title = _clean_text((doc.metadata or {}).get("title"))
        except Exception:
            pass  # unreadable files get quarantined later, with a reason
        rows.append({"paper_id": paper_id, "version": version, "yymm": yymm, "month": month, "title": title or pdf.stem,
                     "authors": "", "abstract": "", "categories": "", "primary_category": "",
                     "update_date": "", "doi": "", "journal_ref": "", "local_pdf": str(pdf.resolve())})
    frame = pd.DataFrame(rows, columns=METADATA_COLUMNS + ["local_pdf"])
    frame["version"] = frame["version"].astype("Int64")
    return frame
