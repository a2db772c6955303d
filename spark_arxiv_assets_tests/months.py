"""Month partitions in tests: which months a run covers, and reading its per-month outputs."""
from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from spark_arxiv_assets.core.delta_tables import read_rows
from spark_arxiv_assets.core.metadata import file_month, pdf_file_identity
from spark_arxiv_assets.io_managers.page_files import PageFilesIOManager
from spark_arxiv_assets.io_managers.paper_tables import PaperRows, PaperTableIOManager
from spark_arxiv_assets.months_run import materialize_months
from spark_arxiv_assets.settings import storage_uri

SAMPLE_MONTH = "2000-01"  # the bundled sample's ids are all 0001.*
LOCAL_MONTH = "2024-05"  # the ingest month tests give PDFs without an arXiv id (never "now": no month-end flake)


def stamp_local_pdfs(folder: Path, month: str = LOCAL_MONTH, names: list[str] | None = None) -> None:
    """Sets the PDFs' mtime (all, or `names`) to the middle of `month`, the ingest month of files
    without an arXiv id."""
    stamp = datetime.strptime(f"{month}-15", "%Y-%m-%d").replace(tzinfo=timezone.utc).timestamp()
    for pdf in [folder / n for n in names] if names else folder.glob("*.pdf"):
        os.utime(pdf, (stamp, stamp))


def folder_months(folder: Path) -> tuple[str, str]:
    months = sorted({file_month(pdf_file_identity(p), p.stat().st_mtime, {})[0] for p in folder.glob("*.pdf")})
    return months[0], months[-1]


def run_months(selection, first: str, last: str | None = None, **kwargs):
    return materialize_months(selection, first, last or first, **kwargs)


def table(result, node: str, output: str = "result") -> pd.DataFrame:
    """A run's output over all its months as one frame (a per-paper table's rows)."""
    value = result.output_for_node(node, output)
    return value.rows if isinstance(value, PaperRows) else value


def stored(asset: str, months: list[str] | None = None, base_uri: str | None = None) -> pd.DataFrame:
    """What a per-paper table holds now (of some months), as the next run would load it."""
    store = PaperTableIOManager(base_uri=base_uri or storage_uri())
    if months is None:
        return read_rows(store.location(asset))
    return store.load_months(asset, months)


def read_pages(files: list[str], base_uri: str | None = None) -> pd.DataFrame:
    return PageFilesIOManager(base_uri=base_uri or storage_uri()).read_pages(files)


def pages(result, base_uri: str | None = None) -> pd.DataFrame:
    """The page rows behind a run's `paper_pages` manifests."""
    return read_pages(list(table(result, "paper_pages", "paper_pages")["pages_file"]), base_uri)
