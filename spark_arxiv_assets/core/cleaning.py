"""Cleaning page text before chunking: running headers/footers, hyphenation, whitespace,
and (optionally) the reference list, which costs embedding time and rarely answers questions."""
from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

_DIGITS = re.compile(r"\d+")
_HYPHEN_BREAK = re.compile(r"(\w)([-\u00ad])\n\s*([a-z]\w*)")
_WORD_BEFORE = re.compile(r"[\w\-]*$")  # the (possibly hyphenated) word that ends at a line-break hyphen
_WORD = re.compile(r"[\w\-]+")  # linear: no backtracking on long runs of letters
_SPACES = re.compile(r"\s+")
_REFERENCES_HEADING = re.compile(r"^\s*(?:\d+\.?\s*)?(references|bibliography|literature cited)\s*$", re.I)
_APPENDIX_HEADING = re.compile(r"^\s*(appendix\b|appendices\b|[A-H](?:\.\d+)?\s+[A-Z][A-Za-z]+(?: [A-Za-z\-]+){0,8}$)", re.I)
_EDGE_LINES = 2  # lines at the top and bottom of a page that may be running headers/footers


@dataclass
class CleaningStats:
    header_footer_lines_removed: int = 0
    reference_chars_dropped: int = 0


def _signature(line: str) -> str:
    """Digits and spaces ignored: page numbers change, and OCR often loses spaces."""
    return _DIGITS.sub("#", _SPACES.sub("", line.lower()))


def _nonempty_indices(lines: list[str]) -> list[int]:
    return [i for i, line in enumerate(lines) if line.strip()]


def remove_running_lines(pages: list[list[str]], stats: CleaningStats, min_share: float = 0.5) -> list[list[str]]:
    """Removes lines at page edges that recur (digits ignored) on at least `min_share` of pages,
    and bare page numbers."""
    edge_counts: Counter[str] = Counter()
    for lines in pages:
        idx = _nonempty_indices(lines)
        edges = set(idx[:_EDGE_LINES] + idx[-_EDGE_LINES:])
        edge_counts.update({_signature(lines[i]) for i in edges})
    threshold = max(2, int(min_share * len(pages) + 0.999))
    running = {sig for sig, n in edge_counts.items() if n >= threshold and len(pages) >= 2}
    cleaned = []
    for lines in pages:
        idx = _nonempty_indices(lines)
        edges = set(idx[:_EDGE_LINES] + idx[-_EDGE_LINES:])
        drop = {i for i in edges if _signature(lines[i]) in running or _signature(lines[i]) in {"#", "-#-", "page#"}}
        stats.header_footer_lines_removed += len(drop)
        cleaned.append([line for i, line in enumerate(lines) if i not in drop])
    return cleaned


_REFERENCE_LIKE = re.compile(r"^\s*\[\d+\]|\b(?:19|20)\d{2}[a-z]?\b|\bet al\b|arXiv|\bProc(?:eedings|\.)|\bdoi\b|https?://|\bpp\.|\bvol\.", re.I)


def _looks_like_reference_page(lines: list[str]) -> bool:
    content = [line for line in lines if line.strip()]
    if not content:
        return True
    return sum(bool(_REFERENCE_LIKE.search(line)) for line in content) / len(content) >= 0.25


def _is_appendix_start(lines: list[str], i: int) -> bool:
    line = lines[i].strip()
    if _APPENDIX_HEADING.match(line):
        return True
    # "A" on its own line followed by a title ("Multi-LexSum release")
    return bool(re.fullmatch(r"[A-H]", line)) and i + 1 < len(lines) and lines[i + 1][:1].isupper()


def drop_reference_list(pages: list[list[str]], stats: CleaningStats) -> list[list[str]]:
    """Drops the reference list: from a 'References' heading up to an appendix heading or the
    first later page that no longer reads like citations."""
    out: list[list[str]] = []
    in_refs = False
    for lines in pages:
        if in_refs and not _looks_like_reference_page(lines):
            in_refs = False
        kept = []
        for i, line in enumerate(lines):
            if not in_refs and _REFERENCES_HEADING.match(line):
                in_refs = True
            elif in_refs and _is_appendix_start(lines, i):
                in_refs = False
            if in_refs:
                stats.reference_chars_dropped += len(line) + 1
            else:
                kept.append(line)
        out.append(kept)
    return out


_NUMBERED_HEADING = re.compile(r"^(\s*(?:\d+(?:\.\d+)*|[A-H](?:\.\d+)*)\.?\s+[A-Z][\w\-]*(?:[ \t]+[\w\-]+){0,5})[ \t]*$", re.M)


def _join_line_break(match: re.Match, text: str, hyphenated: set[str]) -> str:
    """'exam-\\nple' → 'example', but a compound keeps its hyphen: 'state-of-the-\\nart' →
    'state-of-the-art', and so does any word written with that hyphen elsewhere in the text."""
    last, hyphen, tail = match.groups()
    if hyphen == "\u00ad":  # a soft hyphen only ever marks a break inside a word
        return last + tail
    head = _WORD_BEFORE.search(text, max(0, match.start() - 100), match.start() + 1).group()
    if "-" in head or f"{head}-{tail}".lower() in hyphenated:
        return f"{last}-{tail}"
    return last + tail


def normalise_text(text: str) -> str:
    """NFKC (ligatures), joins words hyphenated across line breaks, ends numbered section
    headings with a period (so '2 Setup' does not run into the next sentence), collapses
    whitespace."""
    text = unicodedata.normalize("NFKC", text)
    if _HYPHEN_BREAK.search(text):
        hyphenated = {word.lower() for word in _WORD.findall(text) if "-" in word.strip("-")}
        text = _HYPHEN_BREAK.sub(lambda m: _join_line_break(m, text, hyphenated), text)
    text = _NUMBERED_HEADING.sub(r"\1.", text)
    return _SPACES.sub(" ", text).strip()


def clean_pages(page_texts: list[str], drop_references: bool = True) -> tuple[list[str], CleaningStats]:
    """Cleans the pages of one paper (in page order); returns one string per page. The pipeline
    now cleans page blocks (core.sections, which reuses `remove_running_lines` and
    `normalise_text`); this plain-text path is what it did before, kept as the retrieval
    benchmark's "flat" baseline."""
    stats = CleaningStats()
    pages = [text.splitlines() for text in page_texts]
    pages = remove_running_lines(pages, stats)
    if drop_references:
        pages = drop_reference_list(pages, stats)
    return [normalise_text("\n".join(lines)) for lines in pages], stats
