"""Page text as one Parquet file per (paper, PDF content, extractor), written by the Spark task
that extracted it; the `paper_pages` table lists the file of each paper.

The driver never holds the pages: tasks write them (by URI, so executors need no shared disk) and
return counts. A file's name says what it holds, so "already extracted" is a file that exists,
and a killed run keeps every paper it finished (each file is written atomically). A file is
deleted only when nothing points at it any more: not the table, not the published index's
figure thumbnails, and not a run that may still be writing it (see `remove_unreferenced_files`)."""
from __future__ import annotations

import hashlib

import pandas as pd
from dagster import InputContext
from upath import UPath

from ..core.arxiv_ids import safe_name
from ..core.page_extraction import PAGE_COLUMNS
from ..storage.tables import read_table
from ..storage.uris import children, relative_name
from .paper_tables import PaperTableIOManager

PAGES_ASSET = "paper_pages"
MANIFEST_ONLY = {"pages": "manifest"}  # AssetIn metadata: give me the file list, not the text


class PageFilesIOManager(PaperTableIOManager):
    """Stores `paper_pages` as its table of page files; loading returns the pages themselves.
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

    def remove_unreferenced_files(self, month: str, table: pd.DataFrame | None, removed: set[str],
                                  keep: set[str], started_at: float) -> int:
        """Deletes page files of `month` that no table row and nothing in `keep` (the published
        index's figures) references, when their paper was removed from the catalog (and the file
        is older than this run), or when the table points that paper at a newer file (re-extracted
        from a new version or with other options). A file of a paper the table does not list yet
        belongs to a run still in progress and stays."""
        table = table if table is not None else pd.DataFrame(columns=["paper_id", "pages_file"])
        listed = set(table["pages_file"])
        current = {safe_name(p): f for p, f in zip(table["paper_id"], table["pages_file"])}
        gone = {safe_name(p) for p in removed}
        files = self.existing_files(month)
        deleted = 0
        for name, path in files.items():
            if name in listed or name in keep:
                continue
            paper = path.name.rsplit("-", 2)[0]
            newer = current.get(paper)
            superseded = newer in files and _modified(files[newer]) > _modified(path)
            if superseded or (paper in gone and _modified(path) < started_at):
                path.unlink(missing_ok=True)
                deleted += 1
        return deleted

    def load_input(self, context: InputContext) -> pd.DataFrame:
        stored = self._stored(context)
        if (context.definition_metadata or {}).get("pages") == MANIFEST_ONLY["pages"]:
            return stored
        return self.expand(stored)

    def expand(self, stored: pd.DataFrame) -> pd.DataFrame:
        return self.read_pages(list(stored["pages_file"]))

    def _files_root(self, month: str) -> UPath:
        return self.assets_root / PAGES_ASSET / "files" / month


def _modified(path: UPath) -> float:
    """Last-modified time in Unix seconds, locally or in an object store."""
    info = path.fs.info(path.path)
    value = info.get("mtime") or info.get("LastModified") or info.get("created") or 0
    return value.timestamp() if hasattr(value, "timestamp") else float(value)
