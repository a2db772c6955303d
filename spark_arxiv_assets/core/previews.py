"""Small markdown renderings for Dagster asset metadata."""
from __future__ import annotations

import base64

import pandas as pd
import pymupdf


def markdown_table(frame: pd.DataFrame, max_rows: int = 10, max_chars: int = 80) -> str:
    if frame.empty:
        return "_(no rows)_"
    shown = frame.head(max_rows).copy()
    for column in shown.columns:
        shown[column] = shown[column].map(lambda v: _cell(v, max_chars))
    header = "| " + " | ".join(map(str, shown.columns)) + " |"
    rule = "| " + " | ".join("---" for _ in shown.columns) + " |"
    body = ["| " + " | ".join(row) + " |" for row in shown.astype(str).values.tolist()]
    more = [f"\n_{len(frame) - max_rows} more rows_"] if len(frame) > max_rows else []
    return "\n".join([header, rule, *body, *more])


def _cell(value: object, max_chars: int) -> str:
    text = "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"


def counts_table(series: pd.Series, label: str, max_rows: int = 15) -> str:
    counts = series.value_counts().head(max_rows)
    return markdown_table(pd.DataFrame({label: counts.index, "count": counts.values}), max_rows=max_rows)


def thumbnail_png(png: bytes, max_width: int) -> bytes:
    """`png` halved until it is at most `max_width` pixels wide: metadata is stored in the event
    log with every materialization, so the crops (≤ 480 px) are not embedded at full size."""
    pixmap = pymupdf.Pixmap(png)
    while pixmap.width > max_width:
        pixmap.shrink(1)
    return pixmap.tobytes("png")


def figure_gallery(figures: list[tuple[bytes, str, str]], max_width: int = 160, max_chars: int = 120) -> str:
    """(PNG, caption, where) per figure as a Markdown table of inline thumbnails, which the Dagster
    UI renders like the evaluation's charts."""
    if not figures:
        return "_(no figures)_"
    rows = ["| figure | caption | paper, page |", "| --- | --- | --- |"]
    for png, caption, where in figures:
        data = base64.b64encode(thumbnail_png(png, max_width)).decode()
        rows.append(f"| ![figure](data:image/png;base64,{data}) | {_cell(caption, max_chars)} | {_cell(where, 40)} |")
    return "\n".join(rows)
