"""Cleaning and chunking inside Spark tasks: each task reads its papers' page files by URI and
returns their chunks, so the driver never loads page text and chunking spreads over executors."""
from __future__ import annotations

import json
from dataclasses import asdict
from typing import Iterator

from ..core.chunking import ChunkingOptions, clean_and_chunk_paper, make_splitter
from ..storage.tables import read_table
from ..storage.uris import as_upath
from .collect import collect_tasks


def _chunk_task(items: list[tuple[str, str, str]], assets_root: str, tokenizer_name: str, options: ChunkingOptions,
                drop_references: bool) -> Iterator[dict]:
    """`items` are (paper_id, title, pages file under `assets_root`); yields one row per chunk and
    one `stats` row per paper."""
    from transformers import AutoTokenizer

    from ..core.embedding_model import resolve_embedding_model

    if not items:
        return
    tokenizer = AutoTokenizer.from_pretrained(resolve_embedding_model(tokenizer_name))
    splitter = make_splitter(tokenizer, options)
    for paper_id, title, pages_file in items:
        pages = read_table(as_upath(assets_root) / pages_file, columns=["page", "text", "blocks"]).sort_values("page")
        rows, stats = clean_and_chunk_paper(paper_id, title, list(zip(pages["page"], pages["text"],
                                                                      map(json.loads, pages["blocks"]))),
                                            splitter, tokenizer, options, drop_references, figure_source=pages_file)
        yield {"kind": "stats", "paper_id": paper_id, **asdict(stats)}
        for row in rows:
            yield {"kind": "chunk", **row}


def run_chunking(spark_context, items: list[tuple[str, str, str]], assets_root: str, tokenizer_name: str,
                 options: ChunkingOptions, drop_references: bool, log) -> list[dict]:
    slices = max(1, min(len(items), 4 * spark_context.defaultParallelism))
    return collect_tasks(spark_context, items, slices,
                         lambda _, it: _chunk_task(list(it), assets_root, tokenizer_name, options, drop_references),
                         "chunking tasks", log)
