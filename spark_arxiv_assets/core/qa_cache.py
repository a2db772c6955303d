"""Teacher replies cached by request (chunk id, prompt version, teacher, strategy, answer):
new papers add rows without regenerating old ones, and a killed run keeps finished batches.

The cache is a folder of Parquet parts, one per finished batch, so a checkpoint writes only
that batch; many parts are compacted into one when the cache is opened."""
from __future__ import annotations

import os
import time

import pandas as pd

from ..storage.tables import read_table, write_table
from ..storage.uris import children

CACHE_COLUMNS = ["cache_key", "chunk_id", "prompt_version", "teacher", "raw_text", "error", "completion_tokens"]
COMPACT_ABOVE = 64  # parts


class ReplyCache:
    def __init__(self, directory: os.PathLike) -> None:
        """`directory`: a pathlib.Path or a UPath (any URI)."""
        self.directory = directory
        parts = sorted((p for p in children(directory) if p.name.startswith("part-") and p.name.endswith(".parquet")),
                       key=lambda p: p.name)
        frames = [read_table(p) for p in parts]
        self.frame = (pd.concat(frames, ignore_index=True).drop_duplicates("cache_key", keep="last")
                      if frames else pd.DataFrame(columns=CACHE_COLUMNS))
        if len(parts) > COMPACT_ABOVE:
            self._write_part(self.frame)  # sorts after every old part, so it wins if removal is cut short
            for part in parts:
                part.unlink()

    def _write_part(self, frame: pd.DataFrame) -> None:
        write_table(frame, self.directory / f"part-{time.time_ns():020d}.parquet")

    def keys(self) -> set[str]:
        # failed calls (no text) are retried on the next run
        return set(self.frame.loc[self.frame["raw_text"].notna(), "cache_key"])

    def add(self, rows: list[dict]) -> None:
        new = pd.DataFrame(rows, columns=CACHE_COLUMNS)
        self._write_part(new)
        self.frame = pd.concat([self.frame[~self.frame["cache_key"].isin(new["cache_key"])], new], ignore_index=True)

    def lookup(self, keys: list[str]) -> pd.DataFrame:
        return self.frame.set_index("cache_key").reindex(keys)
