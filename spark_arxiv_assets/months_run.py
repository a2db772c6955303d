"""Materializing a range of months in one run, as the UI's single-run backfill does."""
from __future__ import annotations

from typing import Sequence

from dagster import materialize

from .assets.partitions import MONTHS


def month_range_tags(first: str | None = None, last: str | None = None) -> dict[str, str]:
    """Run tags that make a run cover months first..last (default: every month so far)."""
    return {"dagster/asset_partition_range_start": first or MONTHS.get_first_partition_key(),
            "dagster/asset_partition_range_end": last or MONTHS.get_last_partition_key()}


def materialize_months(assets: Sequence, first: str | None = None, last: str | None = None, **kwargs):
    """`dagster.materialize` over months first..last; unpartitioned assets in the selection run once."""
    tags = {**month_range_tags(first, last), **kwargs.pop("tags", {})}
    return materialize(assets, tags=tags, **kwargs)
