"""Teacher generation for a set of chunks: requests not in the reply cache are sent in batches
(each batch cached as it finishes, so a killed run keeps its work), then every reply is parsed."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from .progress import Progress
from .qa_cache import ReplyCache
from .qa_prompts import PROMPT_VERSION, TeacherOutputError, build_requests, parse_reply, reply_shape

PAIR_COLUMNS = ["question", "answer", "kind", "context", "title", "paper_id", "chunk_id", "page_start", "page_end"]


@dataclass
class GenerationStats:
    requests: int = 0
    generated_now: int = 0
    failed_calls: int = 0
    unparseable_replies: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0


def spread_over_papers(chunks: pd.DataFrame, cap: int, seed: int) -> pd.DataFrame:
    """At most `cap` chunks, taken in turn from every paper (each paper's chunks in a seeded random
    order), so a cap never means "the first paper or two". A paper with fewer chunks than its share
    leaves the rest to the others. Deterministic for the same chunks and seed, so the teacher's
    reply cache is reused on the next run."""
    if len(chunks) <= cap:
        return chunks
    rng = np.random.default_rng(seed)
    queues = [list(rng.permutation(group.index)) for _, group in chunks.groupby("paper_id", sort=True)]
    picked: list = []
    while len(picked) < cap:
        for queue in queues:
            if queue and len(picked) < cap:
                picked.append(queue.pop())
    return chunks.loc[sorted(picked)]


def generate_pairs(chunks: pd.DataFrame, backend, cache: ReplyCache, strategy: str, questions_per_chunk: int,
                   batch_size: int, log: Callable[[str], None]) -> tuple[pd.DataFrame, GenerationStats]:
    """(question, answer, …) rows for `chunks` (title, text, chunk_id, paper_id, page span), from
    the cache where the same request was answered before, else from `backend`."""
    requests = build_requests(chunks["title"].tolist(), chunks["text"].tolist(), chunks["chunk_id"].tolist(),
                              strategy, questions_per_chunk)
    keys = [r.cache_key(backend.identity, strategy, questions_per_chunk) for r in requests]
    done = cache.keys()
    todo = [i for i, key in enumerate(keys) if key not in done]
    stats = GenerationStats(requests=len(requests), generated_now=len(todo))
    log(f"teacher {backend.identity} ({strategy}): {len(requests) - len(todo)} of {len(requests)} requests cached, "
        f"{len(todo)} to generate")
    progress = Progress("teacher generation", len(todo), log, unit="requests")
    for start in range(0, len(todo), batch_size):
        batch = todo[start:start + batch_size]
        replies = backend.generate([requests[i].messages for i in batch], reply_shape(strategy))
        cache.add([{"cache_key": keys[i], "chunk_id": requests[i].chunk_id, "prompt_version": PROMPT_VERSION,
                    "teacher": backend.identity, "raw_text": r.text, "error": r.error,
                    "completion_tokens": r.completion_tokens} for i, r in zip(batch, replies)])
        stats.completion_tokens += sum(r.completion_tokens for r in replies)
        progress.advance(len(batch))
    stats.seconds = progress.finish() if todo else 0.0

    rows = []
    for request, raw_text in zip(requests, cache.lookup(keys)["raw_text"]):
        if not isinstance(raw_text, str):
            stats.failed_calls += 1
            continue
        try:
            pairs = parse_reply(request, raw_text)[:questions_per_chunk]
        except TeacherOutputError:
            stats.unparseable_replies += 1
            continue
        chunk = chunks.iloc[request.row]
        rows += [{**pair, "context": chunk.text, "title": chunk.title, "paper_id": chunk.paper_id,
                  "chunk_id": chunk.chunk_id, "page_start": chunk.page_start, "page_end": chunk.page_end}
                 for pair in pairs]
    return pd.DataFrame(rows, columns=PAIR_COLUMNS), stats
