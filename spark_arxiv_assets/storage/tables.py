"""Parquet files at any URI, written atomically, without Dagster: Spark tasks import this on executors."""
from __future__ import annotations

import os

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from upath import UPath

from .atomic import atomic_write
from .uris import as_upath, is_local, local_path


def table_location(base_uri: str, asset: str) -> UPath:
    """Where a per-paper asset's Delta table lives under a store's root."""
    return as_upath(base_uri) / "tables" / asset


def write_table(frame: pd.DataFrame, location: str | os.PathLike) -> UPath:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    return atomic_write(location, lambda tmp: pq.write_table(table, tmp, compression="zstd"))


def read_table(location: str | os.PathLike, columns: list[str] | None = None) -> pd.DataFrame:
    path = as_upath(location)
    if is_local(path):
        return pq.read_table(local_path(path), columns=columns).to_pandas()
    with path.open("rb") as handle:
        return pq.read_table(handle, columns=columns).to_pandas()
