"""Tables (pandas DataFrames) as Parquet files at a configured URI, written atomically: one file per
asset, or one per month partition (`assets/<asset>/<YYYY-MM>.parquet`)."""
from __future__ import annotations

import pandas as pd
from dagster import ConfigurableIOManager, InputContext, OutputContext
from upath import UPath

from .tables import read_table, write_table
from .uris import as_upath, children


class ParquetIOManager(ConfigurableIOManager):
    """Stores each asset at `<base_uri>/assets/<asset key>.parquet`, or for a month-partitioned asset
    one file per month. A run over several months (a backfill) hands over a dict {month: frame};
    loading several months concatenates them, skipping months never materialized (an unpartitioned
    consumer asks for all ~425). Assets that update incrementally read their previous
    materialization through `load_stored`, so storage has one owner."""

    base_uri: str  # a folder or an fsspec URI such as s3://bucket/prefix

    @property
    def assets_root(self) -> UPath:
        return as_upath(self.base_uri) / "assets"

    def table_path(self, asset: str, partition: str | None = None) -> UPath:
        base = self.assets_root / asset
        return base / f"{partition}.parquet" if partition else base.with_suffix(".parquet")

    def load_stored(self, asset: str, partition: str | None = None) -> pd.DataFrame | None:
        """The table as last written (for a partition: that month's), or None if never materialized."""
        path = self.table_path(asset, partition)
        return read_table(path) if path.exists() else None

    def stored_partitions(self, asset: str) -> set[str]:
        return {p.name[:-len(".parquet")] for p in children(self.assets_root / asset) if p.name.endswith(".parquet")}

    def handle_output(self, context: OutputContext, obj: pd.DataFrame | dict[str, pd.DataFrame]) -> None:
        asset = context.asset_key.to_user_string()
        if not context.has_asset_partitions:
            path = write_table(obj, self.table_path(asset))
            context.add_output_metadata({"path": str(path), "rows": len(obj), "bytes": path.stat().st_size})
            return
        keys = context.asset_partition_keys
        frames = obj if isinstance(obj, dict) else {keys[0]: obj} if len(keys) == 1 else None
        if frames is None or set(frames) != set(keys):
            raise TypeError(f"{asset}: a run over partitions {keys[0]}..{keys[-1]} "
                            "must return a dict with one frame per partition")
        rows = 0
        for key in keys:
            write_table(frames[key], self.table_path(asset, key))
            rows += len(frames[key])
        context.add_output_metadata({"path": str(self.table_path(asset, keys[0]).parent), "rows": rows,
                                     "partitions_written": len(keys)})

    def load_input(self, context: InputContext) -> pd.DataFrame:
        return self._load(context, expand=True)

    def _load(self, context: InputContext, expand: bool) -> pd.DataFrame:
        asset = context.asset_key.to_user_string()
        unpack = self.expand if expand else (lambda frame: frame)
        if not context.has_asset_partitions:
            stored = self.load_stored(asset)
            if stored is None:
                raise FileNotFoundError(f"{asset} has not been materialized yet ({self.table_path(asset)})")
            return unpack(stored)
        stored = self.stored_partitions(asset)  # one listing, not a request per month
        frames = [unpack(read_table(self.table_path(asset, key)))
                  for key in context.asset_partition_keys if key in stored]
        if not frames:
            raise FileNotFoundError(f"{asset} has no materialized partition ({self.assets_root / asset})")
        return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]

    def expand(self, stored: pd.DataFrame) -> pd.DataFrame:
        """What a stored table stands for; the table itself, except where it only lists files."""
        return stored
