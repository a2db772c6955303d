"""Cheap checks on raw bytes, before a PDF parser sees them (downloads, folders)."""
from __future__ import annotations

from pathlib import Path

_HEAD = 1024
_TAIL = 2048


def pdf_bytes_problem(head: bytes, tail: bytes, size: int) -> str | None:
    """Returns why these bytes are not a complete PDF, or None when they look fine."""
    if size == 0:
        return "empty file (0 bytes)"
    if b"%PDF-" not in head[:_HEAD]:
        lowered = head[:_HEAD].lower()
        if b"<html" in lowered or b"<!doctype html" in lowered or b"<head" in lowered:
            return "not a PDF: the body is an HTML page (an error page served as PDF?)"
        return "not a PDF: no %PDF- header"
    if b"%%EOF" not in tail[-_TAIL:]:
        return "truncated PDF: no %%EOF marker at the end (incomplete download?)"
    return None


def pdf_file_problem(path: str | Path) -> str | None:
    path = Path(path)
    if not path.is_file():
        return f"file not found: {path}"
    size = path.stat().st_size
    with path.open("rb") as handle:
        head = handle.read(_HEAD)
        handle.seek(max(0, size - _TAIL))
        tail = handle.read(_TAIL)
    return pdf_bytes_problem(head, tail, size)


def pdf_data_problem(data: bytes) -> str | None:
    return pdf_bytes_problem(data[:_HEAD], data[-_TAIL:], len(data))
