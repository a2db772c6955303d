"""Evidence-first answers: quotes are slices of their passages, the student picks the sentence that
holds the answer, and the quote is placed and highlighted on its PDF page (or said not to be)."""
from __future__ import annotations

import pymupdf
import pytest

from spark_arxiv_assets.core.evidence import Quote, candidate_quotes, choose_quote, is_verbatim, sentence_spans
from spark_arxiv_assets.core.highlight import locate_quote, render_highlighted

TABLE_PASSAGE = ("Table 2: Latency per query.\n| Method | Recall@10 | Latency (ms) |\n|---|---|---|\n"
                 "| BM25 | 0.49 | 0.74 |\n| Dense | 0.58 | 3.1 |")
PROSE = "We study fusion. Fusion with the constant k set to 60 improves MRR from 0.52 to 0.61. See Table 2."


def test_sentences_and_table_rows_are_verbatim_slices():
    spans = sentence_spans(PROSE + "\n" + TABLE_PASSAGE)
    texts = [(PROSE + "\n" + TABLE_PASSAGE)[s:e] for s, e in spans]
    assert texts[:3] == ["We study fusion.", "Fusion with the constant k set to 60 improves MRR from 0.52 to 0.61.",
                         "See Table 2."]
    assert "|---|---|---|" not in texts and "| BM25 | 0.49 | 0.74 |" in texts
    quotes = candidate_quotes([PROSE, TABLE_PASSAGE])
    assert all(is_verbatim(q, [PROSE, TABLE_PASSAGE]) for q in quotes)
    bm25 = next(q for q in quotes if q.text.startswith("| BM25"))
    assert bm25.passage == 2 and bm25.header == "| Method | Recall@10 | Latency (ms) |"
    assert bm25.context == "Method: BM25; Recall@10: 0.49; Latency (ms): 0.74"  # the row read with its header
    assert all(len(q.text.split()) >= 3 for q in quotes)
    forged = Quote(1, 0, 16, "We study fusion!", "")
    assert not is_verbatim(forged, [PROSE]) and not is_verbatim(Quote(3, 0, 1, "W", ""), [PROSE])


@pytest.fixture(scope="module")
def student():
    from spark_arxiv_assets.core.causal_lm import load_student

    return load_student(None, "SmolLM2-135M-Instruct", device="cpu")


def test_the_student_quotes_the_sentence_that_answers(student):
    model, tokenizer = student
    passages = ["Dense retrieval alone reached an MRR of 0.52 on the held-out queries. " + PROSE,
                "OCR at 200 dots per inch recovered 94 percent of the words. Each page took five seconds.",
                TABLE_PASSAGE]
    quote = choose_quote(model, tokenizer, "What value of k did reciprocal rank fusion use?", passages)
    assert quote is not None and is_verbatim(quote, passages) and "k set to 60" in quote.text
    latency = choose_quote(model, tokenizer, "What was the latency of BM25 in milliseconds?", passages)
    assert latency.text == "| BM25 | 0.49 | 0.74 |"
    assert choose_quote(model, tokenizer, "Anything?", ["Too short.", ""]) is None


def _pdf(tmp_path, text: str, width: int = 300) -> bytes:
    doc = pymupdf.open()
    page = doc.new_page(width=width, height=400)
    page.insert_textbox(pymupdf.Rect(20, 20, width - 20, 380), text, fontsize=11)
    return doc.tobytes()


def test_a_quote_is_highlighted_on_its_page_word_for_word(tmp_path):
    pdf = _pdf(tmp_path, "Introduction. We find that fusion with the constant k set to 60 improves the mean "
                         "reciprocal rank, and the crawler will subse-\nquently start new sessions.")
    placement = locate_quote(pdf, "fusion with the constant k set to 60 improves the mean reciprocal rank", range(1, 2))
    assert placement is not None and placement.page == 1 and placement.matched == 1.0
    with pymupdf.open(stream=pdf, filetype="pdf") as doc:
        words = [w[4] for w in doc[0].get_text("words") if any(pymupdf.Rect(w[:4]).intersects(pymupdf.Rect(b))
                                                              for b in placement.boxes)]
    assert words[0] == "fusion" and words[-1] == "rank," and "60" in words and "Introduction." not in words
    # de-hyphenated in the chunk, broken over a line on the page: both parts are highlighted
    hyphenated = locate_quote(pdf, "the crawler will subsequently start new sessions.", range(1, 2))
    assert hyphenated is not None and len(hyphenated.boxes) == 8  # seven words, one of them in two parts
    png = render_highlighted(pdf, placement)
    assert png.startswith(b"\x89PNG")
    pixmap = pymupdf.Pixmap(png)
    x0, y0, x1, y1 = placement.boxes[0]
    scale = pixmap.width / 300
    r, g, b = pixmap.pixel(int((x0 + x1) / 2 * scale), int((y0 + 1) * scale))[:3]
    assert r > 200 and g > 150 and b < 120  # yellow under the first quoted word, not white


def test_a_quote_that_is_not_on_the_page_is_not_placed(tmp_path):
    pdf = _pdf(tmp_path, "Fusion with the constant k set to 60 improves the mean reciprocal rank.")
    assert locate_quote(pdf, "OCR at 200 dots per inch recovered 94 percent of the words.", range(1, 2)) is None
    assert locate_quote(pdf, "Fusion with the constant k set to 60", range(2, 4)) is None  # pages it does not have
    image_only = pymupdf.open()
    blank = pymupdf.Pixmap(pymupdf.csRGB, (0, 0, 8, 8), 0)
    image_only.new_page().insert_image(pymupdf.Rect(0, 0, 100, 100), pixmap=blank)
    assert locate_quote(image_only.tobytes(), "Fusion with the constant k", range(1, 2)) is None  # no text layer
