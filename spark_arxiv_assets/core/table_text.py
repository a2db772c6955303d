"""Markdown tables as text a model reads well: each row's values named by their columns."""
from __future__ import annotations

import re

_CELL_BORDER = re.compile(r"(?<!\\)\|")  # a pipe that is not escaped inside a cell


def table_cells(line: str) -> list[str]:
    return [c.strip().replace("\\|", "|") for c in _CELL_BORDER.split(line.strip().strip("|"))]


def linearize_tables(passage: str) -> str:
    """Markdown table rows as "column: value; …" lines; other lines as they are. A small model
    reading a Markdown grid takes a number from the wrong column, and an embedder or BM25 sees a
    cell far from its column's name; each value named by its column fixes both. Readers still
    see the table (the chat renders the Markdown)."""
    lines, header = [], None
    for line in passage.splitlines():
        if not line.startswith("|"):
            lines.append(line)
            header = None
            continue
        cells = table_cells(line)
        if not "".join(cells).strip("-: "):
            continue  # the |---| rule under the header
        if header is None:
            header = cells
            continue
        lines.append("; ".join(f"{name}: {value}" if name else value for name, value in zip(header, cells) if value))
    return "\n".join(lines)
