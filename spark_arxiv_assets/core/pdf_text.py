"""Text of every page of one PDF with PyMuPDF; OCR for pages without a text layer.

Never raises for a bad document: it returns a quarantine reason instead, so one bad
paper cannot fail a Spark task (and with it the whole run). Whether an exception is the
document's is decided by where it was raised (core.failure_origin): inside PyMuPDF or the OCR
runtime, the paper is quarantined; in our own code, it raises and fails the run.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pymupdf

from .failure_origin import raised_by_document_library
from .ocr import OcrEngine
from .page_layout import PageLayout, RawBlock, body_font_size, document_outline, page_layout, raw_blocks
from .pdf_validation import pdf_file_problem
from .sections import blocks_from_text

EXTRACTOR_VERSION = "pymupdf-layout-5"  # bump when extraction changes: cached pages are redone


OcrEngineName = Literal["rapidocr", "tesseract", "none"]


@dataclass(frozen=True)
class ExtractionOptions:
    ocr_engine: OcrEngineName = "rapidocr"  # for pages without a usable text layer; tesseract needs the system package
    ocr_dpi: int = 200  # for vector-only pages; scanned images are read at their native resolution
    min_text_chars: int = 25  # fewer characters than this on a page means "no usable text layer"
    max_pages: int = 500  # a longer PDF is quarantined
    max_page_chars: int = 200_000  # ~50 dense pages' worth: more on one page is a text bomb or invisible junk
    max_ocr_megapixels: float = 12.0  # pages are rendered for OCR at a dpi that keeps within this
    paper_timeout_s: float = 600.0  # wall-clock limit per paper, enforced inside the Spark task
    max_memory_mb: int = 4096  # address space one paper's extraction may add to its worker
    find_tables: bool = True  # tables as Markdown on pages with a table caption (PyMuPDF's layout model)

    def extractor_id(self) -> str:
        """Names everything that shapes the extracted text (not the time and memory limits, which
        only decide whether a paper finishes): pages extracted under another id are redone."""
        return (f"{EXTRACTOR_VERSION}+{self.ocr_engine}+dpi{self.ocr_dpi}+min{self.min_text_chars}"
                f"+mp{self.max_ocr_megapixels:g}+pages{self.max_pages}+chars{self.max_page_chars}"
                f"{'' if self.find_tables else '+notables'}")


@dataclass
class PageText:
    page: int  # 1-based
    text: str  # the blocks as plain text, in reading order
    method: str  # "text" | "ocr" | "empty"
    blocks: list[dict] = field(default_factory=list)  # see core.page_layout
    figures: list[bytes] = field(default_factory=list)  # PNG crops, referenced by figure blocks


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


def ocr_dpi_for(page: pymupdf.Page, default_dpi: int, max_megapixels: float = 12.0) -> int:
    """A scan is best read at its own resolution: resampling glues or splits words.
    Uses the largest image's native dpi (clamped to 100..300), else `default_dpi`, lowered
    so that the rendered page stays within `max_megapixels` (a poster-sized page would
    otherwise render to gigabytes)."""
    best = None
    for info in page.get_image_info():
        width_in = (info["bbox"][2] - info["bbox"][0]) / 72
        if width_in > 0 and (best is None or width_in > best[0]):
            best = (width_in, info["width"] / width_in)
    dpi = int(min(300, max(100, best[1]))) if best else default_dpi
    area_in2 = max(1e-6, page.rect.width * page.rect.height / 72 ** 2)
    return max(1, min(dpi, int((max_megapixels * 1e6 / area_in2) ** 0.5)))


def _raise_unless_documents(exc: Exception) -> None:
    """Re-raises an exception our code (or the machine) raised; returns for one PyMuPDF or the
    OCR runtime raised while reading the document."""
    if not raised_by_document_library(exc):
        raise exc


def _corrupt(what: str, exc: Exception) -> str:
    return f"corrupt PDF: {what} ({type(exc).__name__}: {exc})"[:300]


def extract_pdf(path: str, options: ExtractionOptions, ocr: OcrEngine | None) -> PdfExtraction:
    problem = pdf_file_problem(path)
    if problem:
        return PdfExtraction(problem=problem)
    try:
        doc = pymupdf.open(path, filetype="pdf")
    except Exception as exc:  # PyMuPDF raises several types for broken files
        _raise_unless_documents(exc)
        return PdfExtraction(problem=_corrupt("cannot be opened", exc))
    with doc:
        if doc.needs_pass or doc.is_encrypted:
            return PdfExtraction(problem="encrypted PDF: a password is required to read it")
        if doc.page_count == 0:
            return PdfExtraction(problem="PDF has no pages")
        if doc.page_count > options.max_pages:
            return PdfExtraction(problem=f"PDF has {doc.page_count} pages, above max_pages={options.max_pages}",
                                 page_count=doc.page_count)
        result = PdfExtraction(page_count=doc.page_count)
        use_ocr = ocr is not None and ocr.name != "none"
        ocr_pages = 0
        layer: dict[int, list[RawBlock]] = {}  # page → text blocks, for pages read from the text layer
        for number in range(1, doc.page_count + 1):
            try:
                page = doc.load_page(number - 1)
                blocks = raw_blocks(page)
                text = "\n".join(b.text for b in blocks)
                needs_ocr = use_ocr and _page_needs_ocr(page, text, options.min_text_chars)
                dpi = ocr_dpi_for(page, options.ocr_dpi, options.max_ocr_megapixels) if needs_ocr else 0
            except Exception as exc:
                _raise_unless_documents(exc)
                return PdfExtraction(problem=_corrupt(f"failed on page {number}", exc), page_count=doc.page_count)
            if needs_ocr:
                try:
                    text = ocr.page_text(page, dpi)
                except Exception as exc:
                    _raise_unless_documents(exc)
                    return PdfExtraction(problem=f"OCR failed on page {number} ({ocr.name} at {dpi} dpi: "
                                                 f"{type(exc).__name__}: {exc})"[:300], page_count=doc.page_count)
                ocr_pages += 1
                text = clean_unicode(text)
                result.pages.append(PageText(number, text, "ocr" if text.strip() else "empty", blocks_from_text(text)))
            else:
                layer[number] = blocks
                result.pages.append(PageText(number, "", "text"))
            if len(text) > options.max_page_chars:
                return PdfExtraction(problem=f"page {number} has {len(text):,} characters of text, above "
                                             f"max_page_chars={options.max_page_chars:,} (a text bomb?)",
                                     page_count=doc.page_count)
        problem = _lay_out_pages(doc, result, layer, ocr if use_ocr else None, options.find_tables)
        if problem:
            return PdfExtraction(problem=problem, page_count=doc.page_count)
    if not any(p.text.strip() for p in result.pages):
        note = f"OCR of {ocr_pages} image page(s) found nothing" if ocr_pages else "no text layer, nothing to OCR"
        result.problem = f"no extractable text on any of {result.page_count} page(s) ({note})"
    return result


def _lay_out_pages(doc: pymupdf.Document, result: PdfExtraction, layer: dict[int, list[RawBlock]], ocr,
                   find_tables: bool) -> str | None:
    """Second pass over text-layer pages, once the body font size of the whole paper is known.
    Returns a quarantine reason, or None."""
    body_size = body_font_size(list(layer.values()))
    try:
        outline = document_outline(doc)
    except Exception as exc:
        _raise_unless_documents(exc)
        return _corrupt("its outline (table of contents) cannot be read", exc)
    for page_text in result.pages:
        if page_text.page not in layer:
            continue
        try:
            layout: PageLayout = page_layout(doc.load_page(page_text.page - 1), layer[page_text.page], body_size,
                                             outline.get(page_text.page, []), page_text.page == 1, ocr,
                                             find_tables)
        except Exception as exc:
            _raise_unless_documents(exc)
            return _corrupt(f"layout failed on page {page_text.page}", exc)
        for block in layout.blocks:
            for key in ("text", "caption", "figure_text"):
                if key in block:
                    block[key] = clean_unicode(block[key])
        page_text.text, page_text.blocks, page_text.figures = clean_unicode(layout.text), layout.blocks, layout.figures
        page_text.method = "text" if page_text.text.strip() else "empty"
    return None
