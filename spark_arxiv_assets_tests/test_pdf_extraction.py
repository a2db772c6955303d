"""Real PDFs from ../shared/corpora: every good one yields text, every bad one a clear reason."""
import pymupdf
import pytest

from spark_arxiv_assets.core.answer_metrics import word_recall
from spark_arxiv_assets.core.cleaning import normalise_text
from spark_arxiv_assets.core.ocr import get_ocr_engine, order_boxes
from spark_arxiv_assets.core.pdf_text import ExtractionOptions, extract_pdf

GOOD = ["1903.10676-p-table.pdf", "2206.10883v3.pdf", "2302.07302v1.pdf", "2305.03393v1-p9.pdf", "2501.10120v1.pdf",
        "biorxiv-2022.03.19.484946.pdf", "layout-code_and_formula.pdf", "layout-multi_page.pdf",
        "layout-normal_4pages.pdf", "layout-picture_classification.pdf", "layout-skipped_1page.pdf"]
BAD_REASONS = {
    "corrupted.pdf": "not a PDF",
    "empty_page.pdf": "no extractable text",
    "encrypted-2501.10120v1.pdf": "encrypted",
    "truncated-2302.07302v1.pdf": "truncated",
    "html-served-as-pdf.pdf": "HTML",
    "zero-bytes.pdf": "empty file",
}


def test_corpus_lists_are_complete(corpora):
    assert sorted(GOOD + ["scanned-2501.10120v1-p1-2.pdf"]) == sorted(p.name for p in (corpora / "pdfs").glob("*.pdf"))
    assert sorted(BAD_REASONS) == sorted(p.name for p in (corpora / "bad").iterdir())


@pytest.mark.parametrize("name", GOOD)
def test_good_pdfs_extract_text_on_every_page_count(corpora, name):
    result = extract_pdf(str(corpora / "pdfs" / name), ExtractionOptions(ocr_engine="none"), get_ocr_engine("none"))
    assert result.problem is None
    assert len(result.pages) == result.page_count >= 1
    assert sum(len(p.text.strip()) for p in result.pages) > 500


@pytest.mark.parametrize("name,expected", sorted(BAD_REASONS.items()))
def test_bad_pdfs_are_quarantined_with_a_clear_reason(corpora, name, expected):
    result = extract_pdf(str(corpora / "bad" / name), ExtractionOptions(), get_ocr_engine("rapidocr"))
    assert result.problem and expected.lower() in result.problem.lower()


def test_scanned_pages_are_recovered_by_ocr(corpora):
    options = ExtractionOptions(ocr_engine="rapidocr", ocr_dpi=200)
    scanned = extract_pdf(str(corpora / "pdfs" / "scanned-2501.10120v1-p1-2.pdf"), options, get_ocr_engine("rapidocr"))
    assert [p.method for p in scanned.pages] == ["ocr", "ocr"]
    with pymupdf.open(corpora / "pdfs" / "2501.10120v1.pdf") as original:
        for page in scanned.pages:
            reference = normalise_text(original[page.page - 1].get_text())
            assert word_recall(reference, normalise_text(page.text)) >= 0.80


def test_text_layer_matches_reference_markdown(corpora):
    """PyMuPDF's text for pages with a reference rendering recovers most of its words."""
    for name in ["2305.03393v1-p9", "layout-normal_4pages", "layout-multi_page"]:
        result = extract_pdf(str(corpora / "pdfs" / f"{name}.pdf"), ExtractionOptions(ocr_engine="none"), None)
        reference = (corpora / "reference" / f"{name}.md").read_text()
        assert word_recall(reference, " ".join(p.text for p in result.pages)) >= 0.85, name


def test_two_column_ocr_boxes_are_read_column_by_column():
    boxes = [(10, 0, 190, 10, "Title across the page"),
             (10, 20, 90, 30, "left one"), (110, 20, 190, 30, "right one"),
             (10, 40, 90, 50, "left two"), (110, 40, 190, 50, "right two")]
    assert order_boxes(boxes, page_width=200).split("\n") == ["Title across the page", "left one", "left two",
                                                              "right one", "right two"]


def test_page_cache_key_names_every_option_that_shapes_the_text():
    base = ExtractionOptions()
    changed = [ExtractionOptions(ocr_engine="none"), ExtractionOptions(ocr_dpi=300), ExtractionOptions(min_text_chars=5),
               ExtractionOptions(max_ocr_megapixels=20), ExtractionOptions(max_pages=100),
               ExtractionOptions(max_page_chars=1000)]
    assert len({base.extractor_id(), *(o.extractor_id() for o in changed)}) == 1 + len(changed)
    # limits on time and memory decide whether a paper finishes, not what its pages say
    assert ExtractionOptions(paper_timeout_s=5, max_memory_mb=100).extractor_id() == base.extractor_id()
