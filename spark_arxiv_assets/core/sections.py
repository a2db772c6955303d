"""A paper's page blocks (core.page_layout) → units to chunk, each with its section path:
runs of paragraphs, runs of list items, tables and figures. Running headers and footers are
dropped here (they recur across pages, which no single page can tell), and so is the reference
list, detected by its heading, when asked."""
from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

from .cleaning import CleaningStats, normalise_text, remove_running_lines

_REFERENCES = re.compile(r"^\s*(?:\d+\.?\s*)?(references?|bibliography|literature cited|works cited)\s*$", re.I)
_LEAF_HEADINGS = re.compile(r"^\s*(abstract|summary|keywords|acknowledge?ments?)\s*$", re.I)  # never a parent
_BULLET_START = re.compile(r"\n(?=\s*(?:[•◦▪‣∙●■□➢►\-–—*]|\(?\d{1,2}[.)]|\([a-z]\)|\([ivx]+\))\s)")
SECTION_SEPARATOR = " › "
FRONT_MATTER = "Front matter"  # the section of what comes before the first heading
THIN_CAPTION_WORDS = 12  # a shorter caption is indexed with its figure's own text (OCR'd if it has none)


@dataclass
class Unit:
    kind: str  # text | list | table | figure_caption | reference
    section: str
    pieces: list[tuple[int, str]] = field(default_factory=list)  # (page, normalised text)
    figure: str = ""  # "page:image" of a figure unit's stored crop
    header: str = ""  # a table's Markdown header row, repeated in each of its chunks
    caption: str = ""  # a table's caption, likewise


@dataclass
class SectionStats(CleaningStats):
    headings: int = 0
    reference_entries: int = 0
    tables: int = 0
    figures: int = 0


def _edge_blocks(blocks: list[dict]) -> list[int]:
    body = [i for i, b in enumerate(blocks) if b["kind"] in ("text", "heading", "list")]
    return sorted(set(body[:2] + body[-2:]))


def drop_running_blocks(pages: list[tuple[int, list[dict]]], stats: CleaningStats) -> list[tuple[int, list[dict]]]:
    """The page-edge blocks whose text recurs (digits ignored) on half the pages, and bare page
    numbers, through the same rule as plain-text cleaning."""
    edges = [[blocks[i]["text"] for i in _edge_blocks(blocks)] for _, blocks in pages]
    kept = remove_running_lines(edges, CleaningStats())
    out = []
    for (number, blocks), before, after in zip(pages, edges, kept):
        gone = Counter(before) - Counter(after)
        edge = set(_edge_blocks(blocks))
        remaining = []
        for i, block in enumerate(blocks):
            if i in edge and gone[block["text"]] > 0:
                gone[block["text"]] -= 1
                stats.header_footer_lines_removed += 1
                continue
            remaining.append(block)
        out.append((number, remaining))
    return out


def _list_text(text: str) -> str:
    """One normalised item per line."""
    return "\n".join(normalise_text(item) for item in _BULLET_START.split(text) if item.strip())


def _table_text(markdown: str) -> str:
    return "\n".join(re.sub(r"[ \t]+", " ", unicodedata.normalize("NFKC", line)).strip()
                     for line in markdown.splitlines())


def paper_units(pages: list[tuple[int, list[dict]]], drop_references: bool = True
                ) -> tuple[list[Unit], SectionStats]:
    """`pages` are (page number, blocks) in page order."""
    stats = SectionStats()
    pages = drop_running_blocks(pages, stats)
    units: list[Unit] = []
    path: list[tuple[int, str]] = []  # (level, heading) from the top
    run: Unit | None = None
    in_references = False

    def section() -> str:
        return SECTION_SEPARATOR.join(title for _, title in path) or FRONT_MATTER

    for number, blocks in pages:
        for block in blocks:
            kind, text = block["kind"], block.get("text", "")
            heading = kind == "heading" or (kind == "text" and _REFERENCES.match(text))
            if heading:
                level = block.get("level", 1)
                title = re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip()
                if in_references and level > 1 and not _REFERENCES.match(text):
                    pass  # a sub-heading inside the reference list
                else:
                    in_references = bool(_REFERENCES.match(text))
                    path = [p for p in path if p[0] < level and not _LEAF_HEADINGS.match(p[1])] + [(level, title)]
                    stats.headings += 1
                    run = None
                    continue
            if kind == "title":
                continue
            if in_references:
                stats.reference_entries += 1
                stats.reference_chars_dropped += len(text) if drop_references else 0
                if drop_references:
                    continue
            if kind == "table":
                stats.tables += 1
                caption = normalise_text(block.get("caption", ""))
                lines = _table_text(text).splitlines()
                units.append(Unit("table", section(), [(number, "\n".join(lines[2:]))], header="\n".join(lines[:2]),
                                  caption=caption))
                continue
            if kind == "figure":
                stats.figures += 1
                caption = normalise_text(block.get("caption", ""))
                extra = normalise_text(block.get("figure_text", ""))
                body = f"{caption}\nFigure text: {extra}" if extra and len(caption.split()) < THIN_CAPTION_WORDS else caption
                units.append(Unit("figure_caption", section(), [(number, body)],
                                  figure=f"{number}:{block['image']}" if block.get("image", -1) >= 0 else ""))
                continue
            unit_kind = "reference" if in_references else "list" if kind == "list" else "text"
            cleaned = _list_text(text) if unit_kind == "list" else normalise_text(text)
            if not cleaned:
                continue
            if run is None or run.kind != unit_kind or run.section != section():
                run = Unit(unit_kind, section())
                units.append(run)
            run.pieces.append((number, cleaned))
    if not stats.headings:  # a paper without headings has no sections, not one called "front matter"
        for unit in units:
            unit.section = ""
    file_floats_where_mentioned(units)
    return units, stats


_FLOAT_LABEL = re.compile(r"^\s*(Table|Tab\.|Figure|Fig\.)\s*(\d+)\b", re.I)


def _mention(label: re.Match) -> re.Pattern:
    kind = "Tab(?:le|\\.)" if label.group(1).lower().startswith("tab") else "Fig(?:ure|\\.)"
    return re.compile(rf"\b{kind}\s*{label.group(2)}\b", re.I)


def file_floats_where_mentioned(units: list[Unit], pages_apart: int = 1) -> None:
    """A table or figure floats: LaTeX sets it at the top of a page, often before the heading of
    the section that discusses it (Multi-LexSum's Tables 8 and 9 stand above "E Multi-LexSum
    train-test split", under the previous appendix). It is filed under the section of the first
    passage that mentions it ("Table 8", "Fig. 8") on its page or the next or previous one."""
    passages = [u for u in units if u.kind in ("text", "list")]
    for unit in units:
        text = unit.caption if unit.kind == "table" else unit.pieces[0][1] if unit.kind == "figure_caption" else ""
        label = _FLOAT_LABEL.match(text)
        if not label:
            continue
        page, mentioned = unit.pieces[0][0], _mention(label)
        unit.section = next((p.section for p in passages for number, piece in p.pieces
                             if abs(number - page) <= pages_apart and mentioned.search(piece)), unit.section)


def blocks_from_text(text: str) -> list[dict]:
    """A page known only as text (OCR'd, or stored before structure-aware extraction): one text
    block per line, so a running header is a block of its own; consecutive lines are joined
    again when chunked."""
    return [{"kind": "text", "text": line.strip()} for line in text.splitlines() if line.strip()]
