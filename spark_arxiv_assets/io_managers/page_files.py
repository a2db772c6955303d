"""Page text as one Parquet file per (paper, PDF content, extractor), written by the Spark task
that extracted it; each month's `paper_pages` table lists the files of its papers.

The driver never holds the pages: tasks write them (by URI, so executors need no shared disk) and
return counts. A file's name says what it holds, so "already extracted" is a file that exists,
and a killed run keeps every paper it finished (each file is written atomically)."""
from __future__ import annotations

import hashlib

import pandas as pd
from dagster import InputContext
from upath import UPath

from ..core.arxiv_ids import safe_name
from ..core.page_extraction import PAGE_COLUMNS
from .parquet import ParquetIOManager
from .tables import read_table
from .uris import as_upath, children, relative_name

PAGES_ASSET = "paper_pages"
MANIFEST_ONLY = {"pages": "manifest"}  # AssetIn metadata: give me the file list, not the text


def read_figure(assets_root: str | UPath, figure_ref: str) -> bytes | None:
    """The PNG crop a figure caption's chunk points at ("<pages file>#<page>:<image>", see
    core.chunking); None when its page file is gone (re-extracted since the index was built)."""
    pages_file, _, where = figure_ref.partition("#")
    page, _, image = where.partition(":")
    path = as_upath(assets_root) / pages_file
    if not pages_file or not path.exists():
        return None
    pages = read_table(path, columns=["page", "figures"])
    figures = pages.loc[pages["page"] == int(page), "figures"]
    if figures.empty or int(image) >= len(figures.iloc[0]):
        return None
    return bytes(figures.iloc[0][int(image)])


class PageFilesIOManager(ParquetIOManager):
    """Stores `paper_pages` as its per-month manifest; loading returns the pages themselves.
    It also names, reads and prunes the page files, so their layout has one owner."""

    def page_file(self, month: str, paper_id: str, pdf_sha256: str, extractor: str) -> UPath:
        options = hashlib.sha256(extractor.encode()).hexdigest()[:12]
        return self._files_root(month) / f"{safe_name(paper_id)}-{pdf_sha256[:16]}-{options}.parquet"

    def stored_name(self, path: str | UPath) -> str:
        """What a manifest records: the path under the assets root, so a store that is moved or
        copied keeps its manifests valid."""
        return relative_name(path, self.assets_root)

    def read_pages(self, files: list[str], columns: list[str] | None = None) -> pd.DataFrame:
        """`files` as the manifest stores them."""
        frames = [read_table(self.assets_root / f, columns) for f in files]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns or PAGE_COLUMNS)

    def existing_files(self, month: str) -> dict[str, UPath]:
        """The month's page files by stored name: one listing, not a request per paper."""
        return {self.stored_name(p): p for p in children(self._files_root(month)) if p.name.endswith(".parquet")}

    def remove_unlisted_files(self, month: str, listed: set[str]) -> int:
        """Page files of this month no manifest lists any more (re-extracted with other options, PDF
        replaced, paper dropped); called after the new manifest is committed."""
        unlisted = [path for name, path in self.existing_files(month).items() if name not in listed]
        for path in unlisted:
            path.unlink(missing_ok=True)
        return len(unlisted)

    def load_input(self, context: InputContext) -> pd.DataFrame:
        if (context.definition_metadata or {}).get("pages") == MANIFEST_ONLY["pages"]:
            return self._load(context, expand=False)
        return self._load(context, expand=True)

    def expand(self, stored: pd.DataFrame) -> pd.DataFrame:
        return self.read_pages(list(stored["pages_file"]))

    def _files_root(self, month: str) -> UPath:
        return self.assets_root / PAGES_ASSET / "files" / month
