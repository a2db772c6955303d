"""Text of every page of one PDF with PyMuPDF; OCR for pages without a text layer.

Never raises for a bad document: it returns a quarantine reason instead, so one bad
paper cannot fail a Spark task (and with it the whole run).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pymupdf

from .ocr import OcrEngine
from .pdf_validation import pdf_file_problem

EXTRACTOR_VERSION = "pymupdf-1"  # bump when extraction changes: cached pages are redone


@dataclass(frozen=True)
class ExtractionOptions:
    ocr_engine: str = "rapidocr"
    ocr_dpi: int = 200  # for vector-only pages; scanned images are read at their native resolution
    min_text_chars: int = 25  # fewer characters than this on a page means "no usable text layer"
    max_pages: int = 500


@dataclass
class PageText:
    page: int  # 1-based
    text: str
    method: str  # "text" | "ocr" | "empty"


@dataclass
class PdfExtraction:
    pages: list[PageText] = field(default_factory=list)
    problem: str | None = None  # set when the paper is quarantined
    page_count: int = 0


def clean_unicode(text: str) -> str:
    """Drops NULs and unpaired surrogates that break Parquet/UTF-8 writers."""
    return text.replace("\x00", "").encode("utf-8", errors="replace").decode("utf-8")


def _page_needs_ocr(page: pymupdf.Page, text: str, min_chars: int) -> bool:
    if len(text.strip()) >= min_chars:
        return False
    return bool(page.get_images(full=False)) or bool(page.get_drawings())


def ocr_dpi_for(page: pymupdf.Page, default_dpi: int) -> int:
    """A scan is best read at its own resolution: resampling glues or splits words.
    Uses the largest image's native dpi (clamped to 100..300), else `default_dpi`."""
    best = None
    for info in page.get_image_info():
        width_in = (info["bbox"][2] - info["bbox"][0]) / 72
        if width_in > 0 and (best is None or width_in > best[0]):
            best = (width_in, info["width"] / width_in)
    return int(min(300, max(100, best[1]))) if best else default_dpi


def extract_pdf(path: str, options: ExtractionOptions, ocr: OcrEngine | None) -> PdfExtraction:
    problem = pdf_file_problem(path)
    if problem:
        return PdfExtraction(problem=problem)
    try:
        doc = pymupdf.open(path, filetype="pdf")
    except Exception as exc:  # PyMuPDF raises several types for broken files
        return PdfExtraction(problem=f"corrupt PDF: cannot be opened ({type(exc).__name__}: {exc})"[:300])
    with doc:
        if doc.needs_pass or doc.is_encrypted:
            return PdfExtraction(problem="encrypted PDF: a password is required to read it")
        if doc.page_count == 0:
            return PdfExtraction(problem="PDF has no pages")
        if doc.page_count > options.max_pages:
            return PdfExtraction(problem=f"PDF has {doc.page_count} pages, above max_pages={options.max_pages}",
                                 page_count=doc.page_count)
        result = PdfExtraction(page_count=doc.page_count)
        ocr_pages = 0
        try:
            for index, page in enumerate(doc):
                text = page.get_text("text")
                method = "text"
                if _page_needs_ocr(page, text, options.min_text_chars) and ocr is not None and ocr.name != "none":
                    text, method = ocr.page_text(page, ocr_dpi_for(page, options.ocr_dpi)), "ocr"
                    ocr_pages += 1
                text = clean_unicode(text)
                if not text.strip():
                    method = "empty"
                result.pages.append(PageText(page=index + 1, text=text, method=method))
        except Exception as exc:
            return PdfExtraction(problem=f"corrupt PDF: failed on page {len(result.pages) + 1} "
                                         f"({type(exc).__name__}: {exc})"[:300], page_count=doc.page_count)
    if not any(p.text.strip() for p in result.pages):
        note = f"OCR of {ocr_pages} image page(s) found nothing" if ocr_pages else "no text layer, nothing to OCR"
        result.problem = f"no extractable text on any of {result.page_count} page(s) ({note})"
    return result
