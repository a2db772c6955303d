"""Where page files live under a store's root, and reading a figure crop back from one (the chat
shows figures by their `figure_ref`)."""
from __future__ import annotations

from upath import UPath

from .tables import read_table
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
