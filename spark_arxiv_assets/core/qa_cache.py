"""Teacher replies cached by request (chunk id, prompt version, teacher, strategy, answer):
new papers add rows without regenerating old ones, and a killed run keeps finished batches."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

CACHE_COLUMNS = ["cache_key", "chunk_id", "prompt_version", "teacher", "raw_text", "error", "completion_tokens"]


class ReplyCache:
    def __init__(self, path: Path) -> None:
        from ..io_managers.parquet import read_table

        self.path = path
        self.frame = read_table(path) if path.exists() else pd.DataFrame(columns=CACHE_COLUMNS)

    def keys(self) -> set[str]:
        # failed calls (no text) are retried on the next run
        return set(self.frame.loc[self.frame["raw_text"].notna(), "cache_key"])

    def add(self, rows: list[dict]) -> None:
        from ..io_managers.parquet import write_table

        new = pd.DataFrame(rows, columns=CACHE_COLUMNS)
        self.frame = pd.concat([self.frame[~self.frame["cache_key"].isin(new["cache_key"])], new], ignore_index=True)
        write_table(self.frame, self.path)

    def lookup(self, keys: list[str]) -> pd.DataFrame:
        return self.frame.set_index("cache_key").reindex(keys)
