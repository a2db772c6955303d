"""Whose failure is it: the document's or ours? Decided by where an exception was raised, not by
its type. PyMuPDF raises TypeError, IndexError or AssertionError for documents it cannot
handle (its table finder on odd pages, a bad outline), and our own heuristics can raise
ValueError or KeyError: a type says nothing about the culprit, the raising frame does."""
from __future__ import annotations

import functools
import importlib.util
import os

# Code that reads documents for us: an exception raised inside these packages is the document's.
DOCUMENT_LIBRARIES = ("pymupdf", "fitz", "rapidocr_onnxruntime", "onnxruntime")


@functools.lru_cache(maxsize=1)
def _library_dirs() -> tuple[str, ...]:
    dirs = []
    for name in DOCUMENT_LIBRARIES:
        spec = importlib.util.find_spec(name)
        for location in (spec.submodule_search_locations or []) if spec else []:
            dirs.append(os.path.realpath(location) + os.sep)
    return tuple(dirs)


def raising_file(exc: BaseException) -> str:
    """The source file of the innermost Python frame that raised `exc`."""
    tb = exc.__traceback__
    if tb is None:
        return ""
    while tb.tb_next is not None:
        tb = tb.tb_next
    return tb.tb_frame.f_code.co_filename


def raised_by_document_library(exc: BaseException) -> bool:
    """True when `exc` was raised inside a document library (the paper is quarantined); False
    when it was raised by our code, the standard library or the machine (the run fails).
    MemoryError is never the document's here: the per-paper memory cap reports it."""
    if isinstance(exc, MemoryError):
        return False
    return os.path.realpath(raising_file(exc)).startswith(_library_dirs())
