"""Where page files live under a store's root, and reading back what the chat shows from the store:
a figure crop by its `figure_ref`, a paper's PDF (to highlight a quote on its page)."""
from __future__ import annotations

from upath import UPath

from ..core.delta_tables import read_rows, sql_strings
from .tables import read_table, table_location
from .uris import as_upath


def page_files_root(base_uri: str) -> UPath:
    """Where page files (and the figure crops in them) live under a store's root; figure_refs
    are relative to it."""
    return as_upath(base_uri) / "assets"


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


def read_pdf(base_uri: str, paper_id: str) -> bytes | None:
    """The PDF `arxiv_pdfs` recorded for a paper (a local path or a URI in the store); None when it
    has none or the file is gone."""
    rows = read_rows(table_location(base_uri, "arxiv_pdfs"), f"paper_id IN ({sql_strings([paper_id])})",
                     columns=["pdf_path", "status"])
    if rows is None:
        return None
    for location in rows.loc[rows["status"] != "failed", "pdf_path"].dropna():
        path = as_upath(location)
        if path.exists():
            return path.read_bytes()
    return None
