"""Where a quote stands on its PDF page, and the page rendered with the quoted words highlighted.

The quote is matched word by word against the page's text layer (PyMuPDF's words with their boxes),
not searched as a string: extraction de-hyphenates ("subse- quently" on the page is "subsequently"
in a chunk or the other way round), joins lines and linearizes tables, so the same words rarely form
the same string. A placement needs `MIN_MATCHED` of the quote's words, in order, within a stretch of
the page not much longer than the quote; otherwise there is none, and the reader is told so rather
than shown some other words. Image-only (OCR) pages have no text layer, so nothing is placed there.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path

MIN_MATCHED = 0.8  # share of the quote's words found in order on the page
HIGHLIGHT_RGB = (1.0, 0.85, 0.0)  # yellow, as a reader's marker
Rect = tuple[float, float, float, float]  # x0, y0, x1, y1 in PDF points


@dataclass(frozen=True)
class Placement:
    page: int  # 1-based
    boxes: list[Rect]  # one per matched word
    matched: float  # share of the quote's words matched


def _normal(word: str) -> str:
    """Lower case, letters and digits only, ligatures spelled out (a PDF's "ﬁnd" is "find")."""
    return re.sub(r"[^\w]", "", unicodedata.normalize("NFKC", word).lower())


def _page_words(page) -> tuple[list[str], list[Rect]]:
    """The page's words, normalized, a word broken by a hyphen at a line end joined again (its box
    covering both parts)."""
    words, boxes = [], []
    pending: tuple[str, Rect] | None = None
    for x0, y0, x1, y1, text, *_ in page.get_text("words"):
        if pending is not None:
            head, box = pending
            words.append(head + _normal(text))
            boxes.append(box)
            boxes.append((x0, y0, x1, y1))
            words.append("")  # the tail keeps its own box, matched through the joined word
            pending = None
            continue
        if text.endswith("-") and len(text) > 1:
            pending = (_normal(text), (x0, y0, x1, y1))
            continue
        words.append(_normal(text))
        boxes.append((x0, y0, x1, y1))
    if pending is not None:
        words.append(pending[0])
        boxes.append(pending[1])
    return words, boxes


def _quote_words(quote: str) -> list[str]:
    """The quote's words as the page's are normalized; "subse- quently" in a chunk joined as well."""
    text = re.sub(r"(\w)- (\w)", r"\1\2", quote)
    return [w for w in (_normal(t) for t in text.split()) if w]


def locate_on_page(page, quote: str) -> tuple[list[Rect], float]:
    """The boxes of the longest in-order match of the quote's words on one page, and the share matched."""
    wanted = _quote_words(quote)
    words, boxes = _page_words(page)
    if not wanted or not words:
        return [], 0.0
    best: tuple[int, list[int]] = (0, [])
    span = int(len(wanted) * 1.5) + 2
    firsts = set(wanted[:3])  # a match starts at one of the quote's first words
    for start in (i for i, w in enumerate(words) if w in firsts):
        window = words[start:start + span]
        blocks = SequenceMatcher(None, wanted, window, autojunk=False).get_matching_blocks()
        hits = [start + b.b + j for b in blocks for j in range(b.size)]
        if len(hits) > best[0]:
            best = (len(hits), hits)
    matched = best[0] / len(wanted)
    chosen = set(best[1])
    chosen |= {i + 1 for i in best[1] if i + 1 < len(words) and words[i + 1] == ""}  # a hyphenated word's tail
    return [boxes[i] for i in sorted(chosen)], matched


def _open(pdf: bytes | str | Path):
    import pymupdf

    return pymupdf.open(stream=pdf, filetype="pdf") if isinstance(pdf, bytes) else pymupdf.open(pdf)


def locate_quote(pdf: bytes | str | Path, quote: str, pages: range) -> Placement | None:
    """The page of `pages` (1-based) where most of the quote's words are matched; None where no page
    matches `MIN_MATCHED` of them."""
    with _open(pdf) as doc:
        best: Placement | None = None
        for number in pages:
            if not 1 <= number <= doc.page_count:
                continue
            boxes, matched = locate_on_page(doc[number - 1], quote)
            if matched >= MIN_MATCHED and (best is None or matched > best.matched):
                best = Placement(number, boxes, matched)
        return best


def render_highlighted(pdf: bytes | str | Path, placement: Placement, dpi: int = 96) -> bytes:
    """The placed page as PNG, the quoted words under a yellow highlight annotation."""
    import pymupdf

    with _open(pdf) as doc:
        page = doc[placement.page - 1]
        annot = page.add_highlight_annot([pymupdf.Rect(box) for box in placement.boxes])
        annot.set_colors(stroke=HIGHLIGHT_RGB)
        annot.update()
        return page.get_pixmap(dpi=dpi, annots=True).tobytes("png")
