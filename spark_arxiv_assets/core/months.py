"""The month a paper belongs to: the partition key of every per-paper asset, kept for life.

arXiv ids carry their month of submission (YYMM, new and old style), so a paper's month never
changes and re-listing it lands in the same partition. Keys are "YYYY-MM" so they sort in time
(a bare YYMM puts 9912 after 0001). Papers without an arXiv id (a user's own PDFs) are filed
under the month they were first seen, proposed from the file's modification time (when the
file arrived) and then kept in the paper catalog, so a file touched later does not move."""
from __future__ import annotations

from datetime import datetime, timezone

from .arxiv_ids import InvalidArxivId, parse_arxiv_id

FIRST_MONTH = "1991-08"  # arXiv's first month (hep-th/9108001): the first partition


def month_from_yymm(yymm: str) -> str:
    """'9901' → '1999-01', '2501' → '2025-01' (arXiv started in 1991, so 91–99 are the 1900s)."""
    year, month = int(yymm[:2]), int(yymm[2:])
    if not 1 <= month <= 12:
        raise InvalidArxivId(f"month {month} out of range in {yymm!r}")
    return f"{1900 + year if year >= 91 else 2000 + year}-{month:02d}"


def arxiv_month(paper_id: str) -> str:
    return month_from_yymm(parse_arxiv_id(paper_id).yymm)


def current_month(now: float | None = None) -> str:
    """The newest partition (the partitions run up to the current month, UTC)."""
    moment = datetime.fromtimestamp(now, tz=timezone.utc) if now is not None else datetime.now(timezone.utc)
    return moment.strftime("%Y-%m")


def first_seen_month(mtime: float, now: float | None = None) -> tuple[str, str | None]:
    """The month a new local file is filed under: its modification month when that is a
    partition, else the current month, with a note saying why (an archive's 1985 timestamp, a
    clock in the future)."""
    this_month = current_month(now)
    try:
        month = datetime.fromtimestamp(mtime, tz=timezone.utc).strftime("%Y-%m")
    except (OverflowError, OSError, ValueError):
        return this_month, f"modification time {mtime!r} is not a date: filed under {this_month}"
    if month < FIRST_MONTH:
        return this_month, f"modified in {month}, before the first partition {FIRST_MONTH}: filed under {this_month}"
    if month > this_month:
        return this_month, f"modified in {month}, in the future: filed under {this_month}"
    return month, None
