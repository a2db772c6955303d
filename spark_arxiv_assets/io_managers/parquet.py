"""Tables (pandas DataFrames) as Parquet files, one per asset, written atomically."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from dagster import ConfigurableIOManager, InputContext, OutputContext

from ..settings import assets_dir
from .atomic import atomic_write


def table_path(asset_path: list[str]) -> Path:
    return assets_dir().joinpath(*asset_path).with_suffix(".parquet")


def write_table(frame: pd.DataFrame, path: Path) -> Path:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    return atomic_write(path, lambda tmp: pq.write_table(table, tmp, compression="zstd"))


def read_table(path: Path) -> pd.DataFrame:
    return pq.read_table(path).to_pandas()


def read_previous_table(asset_name: str) -> pd.DataFrame | None:
    """The last materialized value of an asset, for incremental work; None if there is none."""
    path = table_path([asset_name])
    return read_table(path) if path.exists() else None


class ParquetIOManager(ConfigurableIOManager):
    """Stores each asset at `$SPARK_ARXIV_DATA_DIR/assets/<asset key>.parquet`: one location,
    which the incremental assets also read their previous output from."""

    def _path(self, context: InputContext | OutputContext) -> Path:
        return table_path(list(context.asset_key.path))

    def handle_output(self, context: OutputContext, obj: pd.DataFrame) -> None:
        path = write_table(obj, self._path(context))
        context.add_output_metadata({"path": str(path), "rows": len(obj), "bytes": path.stat().st_size})

    def load_input(self, context: InputContext) -> pd.DataFrame:
        path = self._path(context)
        if not path.exists():
            raise FileNotFoundError(f"{context.asset_key.to_user_string()} has not been materialized yet ({path})")
        return read_table(path)
