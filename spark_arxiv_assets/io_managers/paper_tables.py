"""The per-paper, per-month assets as Delta tables (`<base_uri>/tables/<asset>`), and
`arxiv_metadata` as the paper catalog's view of its months.

An asset returns `PaperRows`: its rows and the papers it decided about. Storing them replaces
those papers' rows in the run's months (and drops papers the catalog has removed), in one
commit; every other paper keeps its rows. So two runs of one month, each naming its own papers,
both keep theirs, and a run that reads another source never erases what that source added."""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
from dagster import ConfigurableIOManager, InputContext, OutputContext
from upath import UPath

from ..core.catalog import PaperCatalog
from ..core.delta_tables import read_rows, replace_papers, sql_strings
from ..storage.tables import table_location
from ..storage.uris import as_upath


@dataclass(frozen=True)
class PaperRows:
    """`rows` (with `paper_id` and `month`) of the papers in `papers`; a paper named without rows
    has none now (quarantined, no chunks), and loses the rows it had."""

    rows: pd.DataFrame
    papers: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(cls, rows: pd.DataFrame, papers) -> "PaperRows":
        return cls(rows.reset_index(drop=True), frozenset(papers) | frozenset(rows["paper_id"]))


def catalog_location(base_uri: str) -> UPath:
    return as_upath(base_uri) / "catalog" / "papers"


def paper_catalog(base_uri: str) -> PaperCatalog:
    return PaperCatalog(catalog_location(base_uri))


class PaperTableIOManager(ConfigurableIOManager):
    """Month-partitioned per-paper tables; loading several months reads them in one query."""

    base_uri: str  # a folder or an fsspec URI such as s3://bucket/prefix

    @property
    def assets_root(self) -> UPath:
        """Where files that sit beside the tables live (the page files)."""
        return as_upath(self.base_uri) / "assets"

    def location(self, asset: str) -> UPath:
        return table_location(self.base_uri, asset)

    def load_months(self, asset: str, months: list[str]) -> pd.DataFrame | None:
        """The stored rows of these months (None if the asset was never materialized)."""
        return read_rows(self.location(asset), f"month IN ({sql_strings(months) or 'NULL'})")

    def handle_output(self, context: OutputContext, obj: PaperRows) -> None:
        asset = context.asset_key.to_user_string()
        if not isinstance(obj, PaperRows):
            raise TypeError(f"{asset} must return PaperRows (its rows and the papers they are for), not {type(obj)}")
        months = list(context.asset_partition_keys)
        stray = sorted(set(obj.rows["month"]) - set(months))
        if stray:
            raise ValueError(f"{asset}: rows for months outside this run's partitions: {stray[:5]}")
        removed = set(paper_catalog(self.base_uri).papers(months, include_removed=True).query("removed")["paper_id"])
        written = replace_papers(self.location(asset), obj.rows, months, obj.papers | removed)
        context.add_output_metadata({"table": str(self.location(asset)), "rows": written,
                                     "papers_written": len(obj.papers), "removed_papers_dropped": len(removed)})

    def load_input(self, context: InputContext) -> pd.DataFrame:
        return self.expand(self._stored(context))

    def _stored(self, context: InputContext) -> pd.DataFrame:
        asset = context.asset_key.to_user_string()
        rows = self.load_months(asset, list(context.asset_partition_keys))
        if rows is None:
            raise FileNotFoundError(f"{asset} has not been materialized yet ({self.location(asset)})")
        return rows

    def expand(self, stored: pd.DataFrame) -> pd.DataFrame:
        """What a stored table stands for; the table itself, except where it only lists files."""
        return stored


class CatalogIOManager(ConfigurableIOManager):
    """`arxiv_metadata` of some months is the catalog's papers of those months: the asset
    writes to the catalog itself (upserts, removals); loading reads it as it is now."""

    base_uri: str  # a folder or an fsspec URI such as s3://bucket/prefix

    def handle_output(self, context: OutputContext, obj: pd.DataFrame) -> None:
        context.add_output_metadata({"catalog": str(catalog_location(self.base_uri))})

    def load_input(self, context: InputContext) -> pd.DataFrame:
        return paper_catalog(self.base_uri).papers(list(context.asset_partition_keys))
