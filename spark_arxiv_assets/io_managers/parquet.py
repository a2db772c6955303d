"""Whole-corpus tables (pandas DataFrames) as one Parquet file per asset at a configured URI
(`<base_uri>/assets/<asset>.parquet`), written atomically. The per-paper, per-month assets are
Delta tables instead (paper_tables.py)."""
from __future__ import annotations

import pandas as pd
from dagster import ConfigurableIOManager, InputContext, OutputContext
from upath import UPath

from ..storage.tables import read_table, write_table
from ..storage.uris import as_upath


class ParquetIOManager(ConfigurableIOManager):
    base_uri: str  # a folder or an fsspec URI such as s3://bucket/prefix

    def table_path(self, asset: str) -> UPath:
        return (as_upath(self.base_uri) / "assets" / asset).with_suffix(".parquet")

    def handle_output(self, context: OutputContext, obj: pd.DataFrame) -> None:
        if context.has_asset_partitions:
            raise TypeError(f"{context.asset_key.to_user_string()} is partitioned: store it with a paper table")
        path = write_table(obj, self.table_path(context.asset_key.to_user_string()))
        context.add_output_metadata({"path": str(path), "rows": len(obj), "bytes": path.stat().st_size})

    def load_input(self, context: InputContext) -> pd.DataFrame:
        path = self.table_path(context.asset_key.to_user_string())
        if not path.exists():
            raise FileNotFoundError(f"{context.asset_key.to_user_string()} has not been materialized yet ({path})")
        return read_table(path)
