"""Pluggable OCR for pages without a usable text layer.

`rapidocr` (default) ships ONNX models inside its wheel, so it works offline right after
`pip install`. `tesseract` goes through PyMuPDF and needs the system `tesseract-ocr`.
"""
from __future__ import annotations

import functools
from typing import Protocol

import numpy as np
import pymupdf


class OcrEngine(Protocol):
    name: str

    def page_text(self, page: pymupdf.Page, dpi: int) -> str: ...


def order_boxes(boxes: list[tuple[float, float, float, float, str]], page_width: float) -> str:
    """Reading order for OCR boxes (x0, y0, x1, y1, text) on one- or two-column pages.

    Boxes wider than 55% of the page (titles, full-width figures) split the page into
    bands; inside a band the left column is read before the right one.
    """
    if not boxes:
        return ""
    mid = page_width / 2
    bands: list[list] = [[]]
    for box in sorted(boxes, key=lambda b: (b[1], b[0])):
        if box[2] - box[0] > 0.55 * page_width:
            bands.append([box])
            bands.append([])
        else:
            bands[-1].append(box)
    lines: list[str] = []
    for band in bands:
        left = [b for b in band if (b[0] + b[2]) / 2 < mid]
        right = [b for b in band if (b[0] + b[2]) / 2 >= mid]
        for column in (left, right):
            lines.extend(b[4] for b in sorted(column, key=lambda b: (round(b[1] / 4), b[0])))
    return "\n".join(line for line in lines if line.strip())


class RapidOcrEngine:
    name = "rapidocr"

    def __init__(self) -> None:
        from rapidocr_onnxruntime import RapidOCR  # heavy import: only when OCR is needed

        self._ocr = RapidOCR()

    def page_text(self, page: pymupdf.Page, dpi: int) -> str:
        pix = page.get_pixmap(dpi=dpi, colorspace=pymupdf.csRGB, alpha=False)
        image = np.frombuffer(pix.samples, dtype=np.uint8).reshape(pix.height, pix.width, 3)
        result, _ = self._ocr(image)
        boxes = []
        for points, text, _score in result or []:
            xs = [p[0] for p in points]
            ys = [p[1] for p in points]
            boxes.append((min(xs), min(ys), max(xs), max(ys), text))
        return order_boxes(boxes, pix.width)


class TesseractEngine:
    name = "tesseract"

    def __init__(self, language: str = "eng") -> None:
        self.language = language
        self.tessdata = pymupdf.get_tessdata()  # raises when tesseract is not installed

    def page_text(self, page: pymupdf.Page, dpi: int) -> str:
        textpage = page.get_textpage_ocr(dpi=dpi, full=True, language=self.language, tessdata=self.tessdata)
        return page.get_text("text", textpage=textpage)


class NoOcrEngine:
    """Disables OCR: image-only pages yield no text and are reported as such."""

    name = "none"

    def page_text(self, page: pymupdf.Page, dpi: int) -> str:
        return ""


OCR_ENGINES = {"rapidocr": RapidOcrEngine, "tesseract": TesseractEngine, "none": NoOcrEngine}


class LazyOcrEngine:
    """The named engine, created on first use in the process that uses it: OCR runtimes hold
    thread pools that do not survive a fork, so each forked extraction builds its own."""

    def __init__(self, name: str) -> None:
        if name not in OCR_ENGINES:
            raise ValueError(f"unknown OCR engine {name!r}; choose one of {sorted(OCR_ENGINES)}")
        self.name = name
        self._engine: OcrEngine | None = None

    def page_text(self, page: pymupdf.Page, dpi: int) -> str:
        if self._engine is None:
            self._engine = OCR_ENGINES[self.name]()
        return self._engine.page_text(page, dpi)


@functools.lru_cache(maxsize=4)
def get_ocr_engine(name: str) -> OcrEngine:
    """One engine per process (a Spark executor's Python worker loads its models once)."""
    if name not in OCR_ENGINES:
        raise ValueError(f"unknown OCR engine {name!r}; choose one of {sorted(OCR_ENGINES)}")
    return OCR_ENGINES[name]()
