"""Token-aware chunking with LangChain splitters; every chunk keeps its page span and a
stable id derived from its paper and text (so re-runs and incremental indexing agree)."""
from __future__ import annotations

import bisect
import hashlib
from dataclasses import dataclass
from typing import Callable

from langchain_text_splitters import RecursiveCharacterTextSplitter

from .sections import SECTION_SEPARATOR, SectionStats, Unit, blocks_from_text, paper_units
from .table_text import is_row_group_label, table_outline

CHUNK_COLUMNS = ["chunk_id", "vector_id", "paper_id", "title", "page_start", "page_end", "chunk_index", "text",
                 "n_tokens", "chunk_type", "section", "figure_ref"]
MAX_CONTEXT_CHARS = 160  # ≈ 40 tokens of "title › section" in front of each chunk for the embedder


@dataclass(frozen=True)
class ChunkingOptions:
    chunk_tokens: int = 200  # all-MiniLM-L6-v2 truncates at 256 word pieces
    overlap_tokens: int = 30  # shared by consecutive chunks of one section
    min_chunk_chars: int = 40  # shorter fragments (stray captions, page numbers) are dropped
    max_embedded_tokens: int = 254  # what the embedder reads (256 with [CLS] and [SEP]): longer chunks are split


def contextual_text(title: str, section: str, text: str) -> str:
    """What is embedded and BM25-indexed: the passage under a short header naming the paper and
    section (contextual chunk headers), so "the learning rate" in an appendix table is found
    by a question naming the method. The chat shows `text` alone. A table stays Markdown here:
    as "column: value" rows (what the answering model is shown) its table/list questions
    scored lower in the retrieval benchmark's development set (BM25 MRR 0.54 vs 0.64)."""
    context = SECTION_SEPARATOR.join(part for part in (title, section) if part)
    if len(context) > MAX_CONTEXT_CHARS:
        context = context[:MAX_CONTEXT_CHARS - 1] + "…"
    return f"{context}\n{text}" if context else text


def embedded_text(title: str, section: str, text: str, chunk_type: str) -> str:
    """What the embedder reads: the contextual text, with a table replaced by its outline
    (caption, column names, row labels; see core.table_text.table_outline)."""
    return contextual_text(title, section, table_outline(text) if chunk_type == "table" else text)


def chunk_id_for(paper_id: str, text: str) -> str:
    return hashlib.sha1(f"{paper_id}\n{text}".encode("utf-8")).hexdigest()[:16]


def vector_id_for(chunk_id: str) -> int:
    """Stable positive int64 for FAISS, from the chunk id (60 bits of its hash)."""
    return int(chunk_id[:15], 16)


def make_splitter(tokenizer, options: ChunkingOptions) -> RecursiveCharacterTextSplitter:
    return RecursiveCharacterTextSplitter.from_huggingface_tokenizer(
        tokenizer,
        chunk_size=options.chunk_tokens,
        chunk_overlap=options.overlap_tokens,
        separators=["\n\n", "\n", ". ", "; ", ", ", " ", ""],
        keep_separator="end",
    )


def split_with_pages(pieces: list[tuple[int, str]], splitter: RecursiveCharacterTextSplitter
                     ) -> list[tuple[str, int, int]]:
    """`pieces` are (page, text) in order, joined by spaces (a paragraph may run across a page
    break); returns (chunk text, first page, last page)."""
    starts, numbers, parts = [], [], []
    offset = 0
    for number, text in pieces:
        starts.append(offset)
        numbers.append(number)
        parts.append(text)
        offset += len(text) + 1
    full_text = " ".join(parts)
    out, cursor = [], 0
    for piece in splitter.split_text(full_text):
        text = piece.strip()
        found = full_text.find(text, max(0, cursor - len(text)))
        start = found if found >= 0 else cursor  # the splitter keeps text verbatim, so this is a fallback
        cursor = start + len(text)
        first = numbers[max(0, bisect.bisect_right(starts, start) - 1)]
        last = numbers[max(0, bisect.bisect_right(starts, start + len(text) - 1) - 1)]
        out.append((text, first, last))
    return out


def _table_chunks(unit: Unit, splitter, tokenizer, budget: int) -> list[tuple[str, int, int]]:
    """Whole rows only, each chunk under the table's caption and column names and, when it
    starts inside a group of rows, under that group's label row ("| | | Tiny | |" in a table
    split into Tiny, Short and Long parts), so a chunk's numbers can be read on their own. A
    single row longer than the budget is the one thing split inside (by the text splitter)."""
    page = unit.pieces[0][0]
    count = lambda text: len(tokenizer.encode(text, add_special_tokens=False)) + 1  # noqa: E731  (+ newline)
    caption = unit.caption
    while caption and count(caption) > budget // 3:  # a long caption: keep its start, leave room for rows
        caption = caption[:int(len(caption) * 0.8)].rsplit(" ", 1)[0] + "…"
    body = unit.pieces[0][1].splitlines()
    sizes = [count(row) for row in body]  # each row tokenized once: this runs for every table in Spark tasks
    longest_row = min(budget, max(sizes, default=0))
    # Column names stay even where they leave no room for a row within the budget (Multi-
    # LexSum's Table 3: 16 columns, 185 tokens of names): a row of numbers without them says
    # nothing. Such a chunk is longer than the budget by what its caption and one row need; the
    # embedder reads a table's outline (core.table_text), not its grid. Only names longer than
    # the budget themselves are left out.
    with_names = [f"{caption}\n{unit.header}".strip(), unit.header.strip()]
    header = next((h for h in with_names if budget - count(h) >= longest_row), None)
    if header is None:
        header = with_names[0] if count(unit.header) <= budget else caption
    room = max(budget - count(header), longest_row)
    chunks: list[list[str]] = []
    rows, used, group, group_size = [], 0, "", 0
    for number, (row, size) in enumerate(zip(body, sizes)):
        if is_row_group_label(row):  # starts a chunk unless its first row fits beside it here
            group, group_size = row, size
            following = sizes[number + 1] if number + 1 < len(body) else 0
            if rows and used + size + following > room:
                chunks.append(rows)
                rows, used = [], 0
        elif rows and rows != [group] and used + size > room:  # a label keeps its first row
            chunks.append(rows)
            # the group's label row goes along, past the budget if it must: a few tokens
            rows, used = ([group], group_size) if group else ([], 0)
        if size > room:
            chunks += [[part] for part, _, _ in split_with_pages([(page, row)], splitter)]
            continue
        rows.append(row)
        used += size
    if rows or not chunks:
        chunks.append(rows)
    return [("\n".join([header, *lines]).strip(), page, page) for lines in chunks]


def fit_to_embedder(text: str, is_table: bool, tokens: Callable[[str], int], limit: int) -> list[str]:
    """`text` when what the embedder reads of it fits `limit` tokens, else smaller pieces that fit:
    a table is split between its rows, each part under the same caption and column names (the
    caption shortened only when with the names alone it is too long); other text between words.
    Nothing is left for the embedder to cut off silently."""
    if tokens(text) <= limit:
        return [text]
    lines = text.split("\n")
    if is_table:
        rule = next((i for i, line in enumerate(lines) if line.startswith("|") and not line.strip("|-: ")), -1)
        head, body = lines[:rule + 1], lines[rule + 1:]
        if len(body) > 1:
            half = len(body) // 2
            return [part for rows in (body[:half], body[half:])
                    for part in fit_to_embedder("\n".join(head + rows), True, tokens, limit)]
        caption = [line for line in head if not line.startswith("|")]
        words = " ".join(caption).split()
        if len(words) > 4:  # the caption keeps its start ("Table 3: ...")
            shorter = " ".join(words[:len(words) * 3 // 4]) + "…"
            rest = [line for line in head if line.startswith("|")] + body
            return fit_to_embedder("\n".join([shorter] + rest), True, tokens, limit)
        if body:
            words = body[0].split(" ")
            if len(words) > 1:
                half = len(words) // 2
                return [part for row in (" ".join(words[:half]), " ".join(words[half:]))
                        for part in fit_to_embedder("\n".join(head + [row]), True, tokens, limit)]
        return [text]
    words = text.split(" ")
    if len(words) < 2:
        return [text]  # one word longer than the limit: the chunk check reports it
    half = len(words) // 2
    return [part for piece in (" ".join(words[:half]), " ".join(words[half:]))
            for part in fit_to_embedder(piece, False, tokens, limit)]


def chunk_units(paper_id: str, title: str, units: list[Unit], splitter: RecursiveCharacterTextSplitter, tokenizer,
                options: ChunkingOptions, figure_source: str = "") -> list[dict]:
    """Units → chunk rows. `figure_source` names the page file holding the figure crops, so a
    figure caption's chunk can point at its image (`figure_ref` = "<file>#<page>:<image>")."""
    rows: list[dict] = []
    seen: set[str] = set()
    for unit in units:
        if unit.kind == "table":
            pieces = _table_chunks(unit, splitter, tokenizer, options.chunk_tokens)
        elif unit.kind == "figure_caption":  # one chunk: a caption longer than that keeps its start
            pieces = split_with_pages(unit.pieces, splitter)[:1]
        else:
            pieces = split_with_pages(unit.pieces, splitter)
        chunk_type = "text" if unit.kind == "reference" else unit.kind
        embedded_tokens = lambda text: len(tokenizer.encode(  # noqa: E731
            embedded_text(title, unit.section, text, chunk_type), add_special_tokens=False))
        pieces = [(part, first, last) for text, first, last in pieces
                  for part in fit_to_embedder(text, unit.kind == "table", embedded_tokens, options.max_embedded_tokens)]
        for text, first, last in pieces:
            if len(text) < options.min_chunk_chars and unit.kind not in ("table", "figure_caption"):
                continue
            chunk_id = chunk_id_for(paper_id, contextual_text(title, unit.section, text))
            if chunk_id in seen:  # identical text twice in one section: keep one
                continue
            seen.add(chunk_id)
            rows.append({
                "chunk_id": chunk_id, "vector_id": vector_id_for(chunk_id), "paper_id": paper_id, "title": title,
                "page_start": first, "page_end": last, "chunk_index": len(rows), "text": text,
                "n_tokens": embedded_tokens(text),
                "chunk_type": chunk_type, "section": unit.section,
                "figure_ref": f"{figure_source}#{unit.figure}" if unit.figure and figure_source else "",
            })
    return rows


def clean_and_chunk_paper(paper_id: str, title: str, pages: list[tuple[int, str, list[dict] | None]], splitter,
                          tokenizer, options: ChunkingOptions, drop_references: bool = True, figure_source: str = ""
                          ) -> tuple[list[dict], SectionStats]:
    """A paper's pages (page order; blocks from core.page_layout, or None for pages stored as
    text only) → cleaned, sectioned chunk rows, plus what cleaning removed and found."""
    units, stats = paper_units([(number, blocks if blocks else blocks_from_text(text))
                                for number, text, blocks in pages], drop_references)
    return chunk_units(paper_id, title, units, splitter, tokenizer, options, figure_source), stats
