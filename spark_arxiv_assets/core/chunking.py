"""Token-aware chunking with LangChain splitters; every chunk keeps its page span and a
stable id derived from its paper and text (so re-runs and incremental indexing agree)."""
from __future__ import annotations

import bisect
import hashlib
from dataclasses import dataclass

from langchain_text_splitters import RecursiveCharacterTextSplitter

from .cleaning import CleaningStats, clean_pages

CHUNK_COLUMNS = ["chunk_id", "vector_id", "paper_id", "title", "page_start", "page_end",
                 "chunk_index", "text", "n_tokens"]


@dataclass(frozen=True)
class ChunkingOptions:
    chunk_tokens: int = 200  # all-MiniLM-L6-v2 truncates at 256 word pieces
    overlap_tokens: int = 30
    min_chunk_chars: int = 40  # shorter fragments (stray captions, page numbers) are dropped


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


def chunk_paper(paper_id: str, title: str, pages: list[tuple[int, str]], splitter: RecursiveCharacterTextSplitter,
                tokenizer, options: ChunkingOptions) -> list[dict]:
    """`pages` are (page number, cleaned text). A chunk's page span is the range of pages its
    characters come from."""
    starts: list[int] = []
    numbers: list[int] = []
    parts: list[str] = []
    offset = 0
    for number, text in pages:
        if not text:
            continue
        starts.append(offset)
        numbers.append(number)
        parts.append(text)
        offset += len(text) + 1
    full_text = " ".join(parts)  # chunks may run across a page break, as sentences do
    rows: list[dict] = []
    seen: set[str] = set()
    cursor = 0
    for piece in splitter.split_text(full_text):
        text = piece.strip()
        found = full_text.find(text, max(0, cursor - len(text)))
        start = found if found >= 0 else cursor  # the splitter keeps text verbatim, so this is a fallback
        cursor = start + len(text)
        if len(text) < options.min_chunk_chars:
            continue
        first = numbers[max(0, bisect.bisect_right(starts, start) - 1)]
        last = numbers[max(0, bisect.bisect_right(starts, start + len(text) - 1) - 1)]
        chunk_id = chunk_id_for(paper_id, text)
        if chunk_id in seen:  # identical text twice in one paper: keep one
            continue
        seen.add(chunk_id)
        rows.append({
            "chunk_id": chunk_id, "vector_id": vector_id_for(chunk_id), "paper_id": paper_id, "title": title,
            "page_start": first, "page_end": last, "chunk_index": len(rows), "text": text,
            "n_tokens": len(tokenizer.encode(text, add_special_tokens=False)),
        })
    return rows


def clean_and_chunk_paper(paper_id: str, title: str, pages: list[tuple[int, str]], splitter, tokenizer,
                          options: ChunkingOptions, drop_references: bool = True) -> tuple[list[dict], CleaningStats]:
    """Raw page texts of one paper (page order) → cleaned, chunked rows, plus cleaning stats."""
    cleaned, stats = clean_pages([text for _, text in pages], drop_references=drop_references)
    return chunk_paper(paper_id, title, [(number, text) for (number, _), text in zip(pages, cleaned)],
                       splitter, tokenizer, options), stats
