"""The structure of a PDF page: headings, paragraphs in reading order, lists, tables as Markdown,
and figures with their captions, from PyMuPDF's text dict, table finder and drawings.

Why here and not in chunking: only the PDF knows fonts, positions and ruled lines. What leaves
this module is plain data (`blocks`: JSON-ready dicts, `figures`: PNG bytes), so the Spark task
stores it in the page file and chunking needs no PDF.

Block kinds: `heading` (with `level`), `text`, `list`, `table` (Markdown, `rows`, `cols`, `label`,
`caption`), `figure` (`label`, `caption`, `figure_text`, `image`: index into the page's figures).
The paper title is a `title` block. Headings come from the PDF's outline when it has one (LaTeX
papers with hyperref do), else from font size and weight."""
from __future__ import annotations

import itertools
import re
from collections import Counter
from dataclasses import dataclass, field

import pymupdf

from .sections import THIN_CAPTION_WORDS
from .table_grid import cell_text, table_markdown, table_rows

CAPTION = re.compile(r"^\s*(fig(?:ure)?|table|tab)\.?\s*([A-Z]?\d+|[IVX]+)\s*[:.|]", re.I)
BULLET = re.compile(r"^\s*(?:[•◦▪‣∙●■□➢►\-–—*]|\(?\d{1,2}[.)]|\([a-z]\)|\([ivx]+\))\s+\S")
NUMBERED_HEADING = re.compile(r"^\s*((?:\d+|[A-H])(?:\.\d+)*)\.?\s+\S")
KNOWN_HEADINGS = {"abstract", "introduction", "conclusion", "conclusions", "references", "bibliography",
                  "acknowledgments", "acknowledgements", "related work", "discussion", "methods", "results",
                  "materials and methods", "appendix", "background", "limitations", "literature cited"}
MIN_GRAPHIC_SIDE = 24.0  # points: smaller images and drawings are rules, dots or icons, not figures
THUMBNAIL_PX = 480  # longest side of a stored figure image

Rect = tuple[float, float, float, float]


@dataclass
class RawLine:
    text: str
    size: float
    bold: bool


@dataclass
class RawBlock:
    """A text block as PyMuPDF found it, before it is classified."""
    bbox: Rect
    lines: list[RawLine]

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines).strip()

    @property
    def size(self) -> float:
        chars = sum(len(line.text) for line in self.lines) or 1
        return sum(line.size * len(line.text) for line in self.lines) / chars

    @property
    def bold(self) -> bool:
        return all(line.bold for line in self.lines if line.text.strip())


@dataclass
class PageLayout:
    blocks: list[dict] = field(default_factory=list)
    figures: list[bytes] = field(default_factory=list)  # PNG, referenced by figure blocks' `image`

    @property
    def text(self) -> str:
        """The page as plain text in reading order (tables as Markdown, figures by caption)."""
        return "\n\n".join(block_text(b) for b in self.blocks if block_text(b))


def block_text(block: dict) -> str:
    if block["kind"] == "figure":
        return block.get("caption", "")
    if block["kind"] == "table":
        return "\n".join(part for part in (block.get("caption", ""), block["text"]) if part)
    return block["text"]


def _is_bold(span: dict) -> bool:
    return bool(span["flags"] & 16) or "bold" in span["font"].lower()


def raw_blocks(page: pymupdf.Page) -> list[RawBlock]:
    """Horizontal text only: rotated margin stamps (arXiv's identifier) are not body text. A
    table caption starts a block of its own: PyMuPDF may put it in the block of the table's last rows
    (CiteSee's Tables 1 and 2), where it is neither seen as a caption nor set apart from the cells."""
    blocks = []
    for block in page.get_text("dict", flags=pymupdf.TEXTFLAGS_TEXT)["blocks"]:
        parts: list[list[tuple[RawLine, Rect]]] = [[]]
        for line in block.get("lines", []):
            if abs(line["dir"][0] - 1.0) > 0.01:
                continue
            spans = [s for s in line["spans"] if s["text"].strip()]
            if not spans:
                continue
            text = "".join(s["text"] for s in line["spans"]).strip()
            size = sum(s["size"] * len(s["text"]) for s in spans) / max(1, sum(len(s["text"]) for s in spans))
            box = tuple(line["bbox"])
            if parts[-1] and _is_table_caption(text) and not _continues_paragraph(parts[-1][-1][1], box):
                parts.append([])
            parts[-1].append((RawLine(text, size, all(_is_bold(s) for s in spans)), box))
        for part in filter(None, parts):
            bbox = tuple(block["bbox"]) if len(parts) == 1 else _union([box for _, box in part])
            blocks.append(RawBlock(bbox, [raw_line for raw_line, _ in part]))
    return blocks


def body_font_size(pages: list[list[RawBlock]]) -> float:
    sizes: Counter[float] = Counter()
    for blocks in pages:
        for block in blocks:
            for line in block.lines:
                sizes[round(line.size, 1)] += len(line.text)
    return sizes.most_common(1)[0][0] if sizes else 10.0


def _center_inside(box: Rect, area: Rect, margin: float = 2.0) -> bool:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return area[0] - margin <= cx <= area[2] + margin and area[1] - margin <= cy <= area[3] + margin


def _continues_paragraph(previous: Rect, line: Rect) -> bool:
    """A line starting "Table 10." right under a full line with the same left edge is a wrapped
    sentence ("… is shown in / Table 10. The …"); under a table's cells, it starts the caption."""
    return abs(previous[0] - line[0]) <= 2 and previous[2] - previous[0] >= 0.9 * (line[2] - line[0])


def _is_table_caption(text: str) -> bool:
    return bool((match := CAPTION.match(text)) and match.group(1).lower().startswith("tab"))


def _union(boxes: list[Rect]) -> Rect:
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def _overlaps_x(a: Rect, b: Rect) -> bool:
    return min(a[2], b[2]) - max(a[0], b[0]) > 0.3 * min(a[2] - a[0], b[2] - b[0])


def _tables(page: pymupdf.Page) -> list[dict]:
    """Ruled tables found by PyMuPDF's table finder: at least 2 rows and 2 columns that hold
    text. A frame with one column of text (a boxed example, Multi-LexSum's three summaries) is
    not a grid: its lines stay paragraphs."""
    found = []
    tables = page.find_tables().tables
    words = page.get_text("words") if tables else []
    for table in tables:
        rows = table_rows(table, words)
        filled = [r for r in rows if any(r)]
        columns = len({c for row in filled for c, cell in enumerate(row) if cell_text(cell)})
        if len(filled) >= 2 and columns >= 2:
            found.append({"kind": "table", "bbox": tuple(table.bbox), "text": table_markdown(rows),
                          "rows": len(filled), "cols": max(len(r) for r in rows), "label": "", "caption": ""})
    return found


def _graphics(page: pymupdf.Page, tables: list[dict]) -> list[Rect]:
    """Images and clusters of vector drawings big enough to be figures, outside tables."""
    boxes = [tuple(info["bbox"]) for info in page.get_image_info()]
    try:
        boxes += [tuple(rect) for rect in page.cluster_drawings()]
    except (ValueError, RuntimeError):  # a page whose drawings PyMuPDF cannot cluster: images only
        pass
    return [b for b in boxes if b[2] - b[0] >= MIN_GRAPHIC_SIDE and b[3] - b[1] >= MIN_GRAPHIC_SIDE
            and not any(_center_inside(b, t["bbox"]) for t in tables)]


def _figure_region(caption: Rect, graphics: list[Rect], page_height: float) -> Rect | None:
    """The graphics right above the caption (else right below) that share its column."""
    for above in (True, False):
        near = [g for g in graphics if _overlaps_x(g, caption)
                and (0 <= caption[1] - g[3] < 0.45 * page_height if above else 0 <= g[1] - caption[3] < 0.45 * page_height)]
        if near:
            edge = max(g[3] for g in near) if above else min(g[1] for g in near)
            band = [g for g in near if (g[3] >= edge - 0.45 * page_height if above else g[1] <= edge + 0.45 * page_height)]
            return _union(band)
    return None


def match_captions(captions: list[Rect], tables: list[Rect], page_height: float) -> dict[int, int]:
    """caption index → table index, chosen together: stacked tables (table, caption, table,
    caption) leave the middle caption as close to the table below as to its own, and only the
    best assignment of all captions tells them apart. A caption further than 15% of the page
    from every table, or not sharing its columns, stays unmatched."""
    limit = 0.15 * page_height

    def gap(c: Rect, t: Rect) -> float:
        if not _overlaps_x(c, t):
            return float("inf")
        return min(abs(t[3] - c[1]), abs(c[3] - t[1]))

    slots = list(range(len(tables))) + [None] * len(captions)  # None: no table for this caption
    best: tuple[float, dict[int, int]] = (float("inf"), {})
    if len(captions) > 6 or len(tables) > 6:  # rare: nearest table, one caption at a time
        taken: dict[int, int] = {}
        for ci, c in enumerate(captions):
            free = [(gap(c, t), ti) for ti, t in enumerate(tables) if ti not in taken.values()]
            near = min(free, default=(float("inf"), None))
            if near[0] <= limit:
                taken[ci] = near[1]
        return taken
    for choice in set(itertools.permutations(slots, len(captions))):
        cost = sum(limit if ti is None else gap(captions[ci], tables[ti]) for ci, ti in enumerate(choice))
        if cost < best[0]:
            best = (cost, {ci: ti for ci, ti in enumerate(choice) if ti is not None})
    return {ci: ti for ci, ti in best[1].items() if gap(captions[ci], tables[ti]) <= limit}


def _heading_level(block: RawBlock, body_size: float, outline: list[tuple[int, str]]) -> int:
    """0 when the block is not a heading. With an outline, only its titles are headings."""
    text = " ".join(line.text for line in block.lines)
    if len(block.lines) > 3 or len(text.split()) > 16 or not re.search(r"[A-Za-z]{2}", text):
        return 0
    key = _title_key(text)
    if outline:
        level = next((level for level, title in outline if key and _title_key(title) == key), 0)
        if level or key not in KNOWN_HEADINGS:  # "Abstract" and "References" are often left out of outlines
            return level
    if text.rstrip().endswith((".", ",", ";")) and not NUMBERED_HEADING.match(text) or CAPTION.match(text):
        return 0
    larger = block.size >= body_size * 1.12
    emphasised = block.bold and block.size >= body_size * 0.95
    if not (larger or emphasised):
        return 0
    numbered = NUMBERED_HEADING.match(text)
    if numbered:
        return numbered.group(1).count(".") + 1
    if key in KNOWN_HEADINGS or (larger and block.size >= body_size * 1.3):
        return 1
    return 2 if len(block.lines) <= 2 and not text.rstrip().endswith((".", ":", ",", ";")) else 0


def _title_key(text: str) -> str:
    """Outline titles and page text agree once numbering, case and spacing are ignored."""
    text = re.sub(r"^\s*(?:(?:\d+|[A-H])(?:\.\d+)*\.?)\s+", "", text.strip())
    return re.sub(r"[^a-z0-9]+", "", text.lower())


def _title_block(blocks: list[RawBlock], body_size: float, page_height: float) -> RawBlock | None:
    """The topmost block in large type in the top third of the first page."""
    large = [b for b in blocks if b.size >= body_size * 1.25 and b.bbox[1] < page_height / 3 and len(b.text) > 8]
    return min(large, key=lambda b: b.bbox[1], default=None)


def reading_order(blocks: list[dict], page_width: float) -> list[dict]:
    """Two-column pages: full-width blocks cut the page into bands; in each band the left column
    is read before the right one. A single-column page reads top to bottom."""
    middle = page_width / 2

    def side(b: dict) -> str:
        x0, _, x1, _ = b["bbox"]
        return "left" if x1 <= middle + 8 else "right" if x0 >= middle - 8 else "full"

    sides = Counter(side(b) for b in blocks if b["kind"] in ("text", "list"))
    if sides["left"] < 2 or sides["right"] < 2:
        return sorted(blocks, key=lambda b: (round(b["bbox"][1]), b["bbox"][0]))
    ordered, band = [], []
    for block in sorted(blocks, key=lambda b: b["bbox"][1]):
        if side(block) == "full":
            ordered += sorted(band, key=lambda b: (side(b) == "right", b["bbox"][1]))
            ordered.append(block)
            band = []
        else:
            band.append(block)
    return ordered + sorted(band, key=lambda b: (side(b) == "right", b["bbox"][1]))


def _figure_png(page: pymupdf.Page, region: Rect) -> bytes:
    rect = pymupdf.Rect(region)
    dpi = max(36, min(150, int(THUMBNAIL_PX * 72 / max(rect.width, rect.height, 1))))
    return page.get_pixmap(clip=rect, dpi=dpi).tobytes("png")


def _ocr_region(page: pymupdf.Page, region: Rect, ocr) -> str:
    """OCR of one figure: the region becomes a page of its own, so any engine can read it."""
    rect = pymupdf.Rect(region)
    scratch = pymupdf.open()
    sheet = scratch.new_page(width=rect.width, height=rect.height)
    sheet.show_pdf_page(sheet.rect, page.parent, page.number, clip=rect)
    return re.sub(r"\s+", " ", ocr.page_text(sheet, 200)).strip()


def page_layout(page: pymupdf.Page, blocks: list[RawBlock], body_size: float, outline: list[tuple[int, str]],
                is_first_page: bool, ocr=None, find_tables: bool = True) -> PageLayout:
    """Classifies one page's raw blocks; `outline` holds (level, title) of headings on this page."""
    # The table finder runs PyMuPDF's layout model (≈0.25 s a page on a CPU core): only pages with
    # a table caption pay for it. A table without a caption is read as text.
    has_table_caption = any(_is_table_caption(b.text) for b in blocks)
    tables = _tables(page) if find_tables and has_table_caption else []
    graphics = _graphics(page, tables)
    out: list[dict] = list(tables)
    layout = PageLayout()
    captions = []
    title = _title_block(blocks, body_size, page.rect.height) if is_first_page else None
    for raw in blocks:
        if any(_center_inside(raw.bbox, t["bbox"]) for t in tables):
            continue  # the table's cells, already in its Markdown
        text = raw.text
        caption = CAPTION.match(text)
        if caption:
            captions.append((raw, caption))
            continue
        block = {"bbox": raw.bbox, "text": text}
        level = _heading_level(raw, body_size, outline)
        if raw is title:
            block["kind"] = "title"
        elif level:
            block.update(kind="heading", level=level, text=" ".join(line.text for line in raw.lines))
        elif BULLET.match(text):
            block["kind"] = "list"
        else:
            block["kind"] = "text"
        out.append(block)
    table_captions = [raw for raw, match in captions if match.group(1).lower().startswith("tab")]
    matched = match_captions([c.bbox for c in table_captions], [t["bbox"] for t in tables], page.rect.height)
    for raw, match in captions:
        label = f"{'Table' if match.group(1).lower().startswith('tab') else 'Figure'} {match.group(2)}"
        caption_text = re.sub(r"\s+", " ", raw.text)
        if label.startswith("Table"):
            table_index = matched.get(table_captions.index(raw))
            if table_index is not None:
                tables[table_index].update(label=label, caption=caption_text)
            else:
                out.append({"kind": "text", "bbox": raw.bbox, "text": raw.text})  # a table we could not find
            continue
        region = _figure_region(raw.bbox, graphics, page.rect.height)
        figure = {"kind": "figure", "bbox": region or raw.bbox, "label": label, "caption": caption_text,
                  "figure_text": "", "image": -1}
        if region:
            inside = [b for b in out if b["kind"] in ("text", "list") and _center_inside(b["bbox"], region)]
            out = [b for b in out if not any(b is i for i in inside)]
            figure["figure_text"] = re.sub(r"\s+", " ", " ".join(b["text"] for b in inside)).strip()
            if len(caption_text.split()) < THIN_CAPTION_WORDS and not figure["figure_text"] and ocr is not None:
                figure["figure_text"] = _ocr_region(page, region, ocr)
            figure["image"] = len(layout.figures)
            layout.figures.append(_figure_png(page, region))
        out.append(figure)
    for block in out:  # bboxes go to JSON as lists of rounded numbers
        block["bbox"] = [round(v, 1) for v in block["bbox"]]
    layout.blocks = reading_order(out, page.rect.width)
    return layout


def document_outline(doc: pymupdf.Document) -> dict[int, list[tuple[int, str]]]:
    """(level, title) of the outline's entries by page; empty when the outline is missing or is
    only the document title (then headings come from fonts)."""
    toc = doc.get_toc(simple=True)
    if len(toc) < 3:
        return {}
    by_page: dict[int, list[tuple[int, str]]] = {}
    for level, title, page in toc:
        by_page.setdefault(page, []).append((level, title))
    return by_page
