"""The month a paper belongs to: the partition key of every per-paper asset.

arXiv ids carry their month of submission (YYMM, new and old style), so a paper's month never
changes and re-listing it lands in the same partition. Keys are "YYYY-MM" so they sort in time
(a bare YYMM puts 9912 after 0001). Papers without an arXiv id (a user's own PDFs) go by the
month they were ingested: the file's modification time."""
from __future__ import annotations

from datetime import datetime, timezone

from .arxiv_ids import InvalidArxivId, parse_arxiv_id

FIRST_MONTH = "1991-08"  # arXiv's first month (hep-th/9108001)


def month_from_yymm(yymm: str) -> str:
    """'9901' → '1999-01', '2501' → '2025-01' (arXiv started in 1991, so 91–99 are the 1900s)."""
    year, month = int(yymm[:2]), int(yymm[2:])
    if not 1 <= month <= 12:
        raise InvalidArxivId(f"month {month} out of range in {yymm!r}")
    return f"{1900 + year if year >= 91 else 2000 + year}-{month:02d}"


def arxiv_month(paper_id: str) -> str:
    return month_from_yymm(parse_arxiv_id(paper_id).yymm)


def ingest_month(mtime: float) -> str:
    return datetime.fromtimestamp(mtime, tz=timezone.utc).strftime("%Y-%m")


def paper_month(paper_id: str, file_mtime: float | None = None) -> str:
    """The id's month for arXiv papers, else the ingest month of the file (now, without one)."""
    try:
        return arxiv_month(paper_id)
    except InvalidArxivId:
        return ingest_month(file_mtime if file_mtime is not None else datetime.now(timezone.utc).timestamp())
