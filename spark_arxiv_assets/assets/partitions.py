"""Month partitions of the per-paper assets (metadata, PDFs, pages, quarantine, chunks).

Time-window partitions rather than static or dynamic ones: arXiv months from 1991-08 to the
current month are ~425 keys (Dagster advises at most ~100k per asset), the list grows by
itself every month, a paper's month is fixed by its id, and the UI offers ranges and
"missing only" backfills. A backfill runs as one run (one Spark job over all its months)."""
from __future__ import annotations

from typing import Callable, Mapping

import pandas as pd
from dagster import AssetExecutionContext, AutomationCondition, BackfillPolicy, MonthlyPartitionsDefinition

from ..core.months import FIRST_MONTH

MONTHS = MonthlyPartitionsDefinition(start_date=FIRST_MONTH, fmt="%Y-%m", end_offset=1)
ONE_RUN = BackfillPolicy.single_run()
# Assets that run Spark jobs share this concurrency pool: a limit on it (see README, "Scaling out")
# keeps concurrent runs from starting several Spark sessions on one machine.
SPARK_POOL = "spark"


def split_by_month(frame: pd.DataFrame, months: list[str]) -> dict[str, pd.DataFrame]:
    """One frame per partition of the run, empty ones included: a month without papers is done, not missing."""
    groups: Mapping[str, pd.DataFrame] = dict(tuple(frame.groupby("month", sort=False))) if len(frame) else {}
    stray = sorted(set(groups) - set(months))
    if stray:
        raise ValueError(f"rows for months outside this run's partitions {months[0]}..{months[-1]}: {stray[:5]}")
    return {m: groups[m].reset_index(drop=True) if m in groups else frame.iloc[0:0] for m in months}


# For the unpartitioned consumers of the months (index, QA rows): run after any month changed.
# Dagster's `eager()` also waits until no upstream partition is missing, which never happens here:
# most of the ~425 months hold none of a user's papers and are never materialized.
FOLLOWS_NEW_PARTITIONS = AutomationCondition.eager().without(~AutomationCondition.any_deps_missing())


def add_month_metadata(context: AssetExecutionContext, asset_key: str, frame: pd.DataFrame,
                       counts: Callable[[pd.DataFrame], dict]) -> None:
    """Per-month counts on each partition's materialization (the UI's partition view); the run's
    own metadata covers all its months together."""
    for month, rows in split_by_month(frame, context.partition_keys).items():
        context.add_asset_metadata(counts(rows), asset_key=asset_key, partition_key=month)
