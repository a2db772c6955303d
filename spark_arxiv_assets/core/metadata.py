"""Kaggle `Cornell-University/arxiv` snapshot (JSON lines): parse, validate, filter."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, Iterable, Iterator, Mapping

import pandas as pd

from .arxiv_ids import InvalidArxivId, parse_arxiv_id, safe_name
from .months import first_seen_month, month_from_yymm

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


def pdf_file_identity(pdf: Path) -> PdfFileIdentity:
    """The id is the file name when it parses as an arXiv id (old-style slashes written '_')."""
    try:
        arxiv_id = parse_arxiv_id(pdf.stem.replace("_", "/", 1) if "_" in pdf.stem else pdf.stem)
        return PdfFileIdentity(arxiv_id.base, arxiv_id.version, arxiv_id.yymm)
    except InvalidArxivId:
        return PdfFileIdentity(safe_name(pdf.stem), None, "local")


def file_month(identity: PdfFileIdentity, mtime: float, known_months: Mapping[str, str],
               now: float | None = None) -> tuple[str, str | None]:
    """A PDF's month: its arXiv id's, else the month the catalog already filed it under, else the
    month it is first seen in (see core.months.first_seen_month); and a note when that month
    could not be the file's own."""
    if identity.yymm != "local":
        return month_from_yymm(identity.yymm), None
    if identity.paper_id in known_months:
        return known_months[identity.paper_id], None
    return first_seen_month(mtime, now)


FOLDER_COLUMNS = METADATA_COLUMNS + ["local_pdf", "file_size", "file_mtime", "month_note"]


def rows_from_pdf_folder(folder: Path, known: Mapping[str, dict] | None = None, now: float | None = None
                         ) -> pd.DataFrame:
    """Metadata for a folder of the user's own PDFs: the id is the file name (an arXiv id when
    it parses as one; of several versions of one paper the newest file is kept), the title comes
    from the PDF's info dictionary. `known` holds catalog rows by id: a known paper keeps its
    month, and an unchanged file (same size and modification time) is not opened again."""
    known = known or {}
    known_months = {paper_id: row["month"] for paper_id, row in known.items()}
    newest: dict[str, tuple[PdfFileIdentity, Path]] = {}
    for pdf in sorted(Path(folder).glob("*.pdf")):
        identity = pdf_file_identity(pdf)
        held = newest.get(identity.paper_id)
        if held is None or (identity.version or 0) >= (held[0].version or 0):
            newest[identity.paper_id] = (identity, pdf)
    rows = []
    for identity, pdf in newest.values():
        stat = pdf.stat()
        month, note = file_month(identity, stat.st_mtime, known_months, now)
        previous = known.get(identity.paper_id, {})
        unchanged = previous.get("file_size") == stat.st_size and previous.get("file_mtime") == stat.st_mtime
        title = None if unchanged else _pdf_title(pdf) or pdf.stem
        rows.append({"paper_id": identity.paper_id, "version": identity.version, "yymm": identity.yymm, "month": month,
                     "title": title, "authors": "", "abstract": "", "categories": "", "primary_category": "",
                     "update_date": "", "doi": "", "journal_ref": "", "local_pdf": str(pdf.resolve()),
                     "file_size": stat.st_size, "file_mtime": stat.st_mtime, "month_note": note})
    frame = pd.DataFrame(rows, columns=FOLDER_COLUMNS)
    frame["version"] = frame["version"].astype("Int64")
    return frame.sort_values("paper_id", ignore_index=True)


def _pdf_title(pdf: Path) -> str:
    import pymupdf

    try:
        with pymupdf.open(pdf) as doc:
            return _clean_text((doc.metadata or {}).get("title"))
    except Exception:  # noqa: BLE001 - an unreadable file is quarantined later, with a reason
        return ""
