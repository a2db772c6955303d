"""Page text as one Parquet file per (paper, PDF content, extractor), written by the Spark task
that extracted it; each month's `paper_pages` table lists the files of its papers.

The driver never holds the pages: tasks write them and return counts. A file's name says what
it holds, so "already extracted" is a file that exists, and a killed run keeps every paper it
finished (each file is written atomically)."""
from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from ..core.arxiv_ids import safe_name
from ..core.page_extraction import PAGE_COLUMNS
from ..settings import assets_dir
from .parquet import ParquetIOManager
from .tables import read_table

PAGES_ASSET = "paper_pages"


def page_file(month: str, paper_id: str, pdf_sha256: str, extractor: str) -> Path:
    options = hashlib.sha256(extractor.encode()).hexdigest()[:12]
    return assets_dir() / PAGES_ASSET / "files" / month / f"{safe_name(paper_id)}-{pdf_sha256[:16]}-{options}.parquet"


def stored_name(path: Path | str) -> str:
    """What a manifest records: the path under the assets folder, so a data dir that is moved or
    copied to another machine keeps its manifests valid."""
    return str(Path(path).relative_to(assets_dir()))


def read_pages(files: list[str], columns: list[str] | None = None) -> pd.DataFrame:
    """`files` as the manifest stores them (relative to the assets folder; absolute ones as they are)."""
    frames = [read_table(assets_dir() / f, columns) for f in files]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns or PAGE_COLUMNS)


def remove_unlisted_files(month: str, listed: set[str]) -> int:
    """Page files of this month no manifest lists any more (re-extracted with other options, PDF
    replaced, paper dropped); called after the new manifest is committed."""
    folder = assets_dir() / PAGES_ASSET / "files" / month
    removed = 0
    for path in folder.glob("*.parquet") if folder.is_dir() else []:
        if stored_name(path) not in listed:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


class PageFilesIOManager(ParquetIOManager):
    """Stores `paper_pages` as its per-month manifest; loading returns the pages themselves."""

    def expand(self, stored: pd.DataFrame) -> pd.DataFrame:
        return read_pages(list(stored["pages_file"]))
