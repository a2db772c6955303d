"""Tables (pandas DataFrames) as Parquet files, written atomically: one file per asset, or one
per month partition (`<asset>/<YYYY-MM>.parquet`)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
from dagster import ConfigurableIOManager, InputContext, OutputContext

from ..settings import assets_dir
from .tables import read_table, write_table


def table_path(asset_path: list[str], partition: str | None = None) -> Path:
    base = assets_dir().joinpath(*asset_path)
    return base / f"{partition}.parquet" if partition else base.with_suffix(".parquet")


class ParquetIOManager(ConfigurableIOManager):
    """Stores each asset at `$SPARK_ARXIV_DATA_DIR/assets/<asset key>.parquet`, or for a
    month-partitioned asset one file per month. A run over several months (a backfill) hands
    over a dict {month: frame}; loading several months concatenates them, skipping months
    never materialized (an unpartitioned consumer asks for all ~425)."""

    def handle_output(self, context: OutputContext, obj: pd.DataFrame | dict[str, pd.DataFrame]) -> None:
        asset_path = list(context.asset_key.path)
        if not context.has_asset_partitions:
            path = write_table(obj, table_path(asset_path))
            context.add_output_metadata({"path": str(path), "rows": len(obj), "bytes": path.stat().st_size})
            return
        keys = context.asset_partition_keys
        frames = obj if isinstance(obj, dict) else {keys[0]: obj} if len(keys) == 1 else None
        if frames is None or set(frames) != set(keys):
            raise TypeError(f"{context.asset_key.to_user_string()}: a run over partitions {keys[0]}..{keys[-1]} "
                            "must return a dict with one frame per partition")
        rows = 0
        for key in keys:
            write_table(frames[key], table_path(asset_path, key))
            rows += len(frames[key])
        context.add_output_metadata({"path": str(table_path(asset_path, keys[0]).parent), "rows": rows,
                                     "partitions_written": len(keys)})

    def load_input(self, context: InputContext) -> pd.DataFrame:
        asset_path = list(context.asset_key.path)
        if not context.has_asset_partitions:
            path = table_path(asset_path)
            if not path.exists():
                raise FileNotFoundError(f"{context.asset_key.to_user_string()} has not been materialized yet ({path})")
            return self.expand(read_table(path))
        paths = [table_path(asset_path, key) for key in context.asset_partition_keys]
        frames = [self.expand(read_table(p)) for p in paths if p.exists()]
        if not frames:
            raise FileNotFoundError(f"{context.asset_key.to_user_string()} has no materialized partition "
                                    f"({paths[0].parent})")
        return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]

    def expand(self, stored: pd.DataFrame) -> pd.DataFrame:
        """What a stored table stands for; the table itself, except where it only lists files."""
        return stored
