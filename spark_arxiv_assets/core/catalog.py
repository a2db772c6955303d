"""The paper catalog: one Delta table of every paper any source has listed, partitioned by month.

Sources add to it (upsert by paper id) and never take from it: a month's papers are the
catalog's papers of that month, whichever source a run reads. A paper leaves only by an
explicit act (`remove`: its file removed from a watched folder, a removal list), and is then
marked removed rather than deleted, so the reason stays readable. A paper keeps the month it
was first given for life; its version only goes up.

Each upsert is a MERGE on the paper id over the whole table, so two runs adding the same paper
at once conflict and one retries (with the other's row in view) instead of filing it twice."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterable, Sequence

import pandas as pd
import pyarrow as pa

from .delta_tables import (create_table, delta_uri, query_rows, read_rows, sql_strings, storage_options,
                           with_commit_retries)
from .metadata import METADATA_COLUMNS

# Columns whose value a source knows (or not); the paper's life in the catalog follows.
DESCRIPTIVE = ["title", "authors", "abstract", "categories", "primary_category", "update_date", "doi", "journal_ref"]
CATALOG_COLUMNS = METADATA_COLUMNS + ["local_pdf", "file_size", "file_mtime", "sources", "first_seen", "last_seen",
                                      "removed", "removed_reason"]
SOURCE_SEPARATOR = "|"


def folder_source(folder: str | os.PathLike) -> str:
    """The source name of a folder of PDFs: removing a file from it removes what it added."""
    return f"folder:{os.path.abspath(folder)}"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class UpsertReport:
    added: list[str] = field(default_factory=list)
    new_versions: list[str] = field(default_factory=list)  # the version went up: the PDF is fetched again
    revived: list[str] = field(default_factory=list)  # removed before, listed again
    kept_month: list[str] = field(default_factory=list)  # offered another month, kept its first one


@dataclass
class RemovalReport:
    removed: list[str] = field(default_factory=list)  # left the catalog
    kept_by_other_sources: list[str] = field(default_factory=list)  # the source let go, another still lists it


class PaperCatalog:
    def __init__(self, location: str | os.PathLike) -> None:
        self.uri = delta_uri(location)

    def papers(self, months: Sequence[str] | None = None, include_removed: bool = False,
               ids: Iterable[str] | None = None) -> pd.DataFrame:
        """Catalog rows (of `months`, or of `ids`), without removed papers unless asked."""
        clauses = []
        if months is not None:
            clauses.append(f"month IN ({sql_strings(months) or 'NULL'})")
        if ids is not None:
            clauses.append(f"paper_id IN ({sql_strings(ids) or 'NULL'})")
        if not include_removed:
            clauses.append("NOT removed")
        return _typed(read_rows(self.uri, " AND ".join(clauses) or None))

    @staticmethod
    def _rows_at(table, ids: Iterable[str]) -> pd.DataFrame:
        """The rows of `ids` in the snapshot a MERGE will commit against (a concurrent commit after
        it then conflicts, and the upsert is computed again)."""
        return _typed(query_rows(table, f"paper_id IN ({sql_strings(ids) or 'NULL'})"))

    def months_of(self, ids: Iterable[str]) -> dict[str, str]:
        """The month each known paper was filed under (removed ones included: a paper that comes
        back keeps it)."""
        rows = self.papers(ids=list(ids), include_removed=True)
        return dict(zip(rows["paper_id"], rows["month"]))

    def upsert(self, incoming: pd.DataFrame, source: str, authoritative: bool = True) -> UpsertReport:
        """Adds or refreshes papers (METADATA_COLUMNS, optionally local_pdf / file_size / file_mtime).
        `authoritative` sources (metadata snapshots, listings) overwrite descriptive fields; a folder
        of PDFs only fills fields that are empty (a file name is no title)."""
        if incoming.empty:
            return UpsertReport()
        incoming = incoming.drop_duplicates("paper_id", keep="last").reset_index(drop=True)

        def commit() -> UpsertReport:
            from deltalake import DeltaTable

            options = storage_options(self.uri)
            if DeltaTable.is_deltatable(self.uri, storage_options=options):
                table = DeltaTable(self.uri, storage_options=options)
            else:
                table = create_table(self.uri, _catalog_arrow(pd.DataFrame(columns=CATALOG_COLUMNS)).schema)
            existing = self._rows_at(table, incoming["paper_id"])
            rows, report = _merged(incoming, existing, source, authoritative)
            (table.merge(_catalog_arrow(rows), predicate="t.paper_id = s.paper_id", source_alias="s", target_alias="t")
             .when_matched_update_all().when_not_matched_insert_all().execute())
            return report

        return with_commit_retries(commit, f"upserting {len(incoming)} papers into the catalog")

    def remove(self, ids: Iterable[str], reason: str, source: str | None = None) -> RemovalReport:
        """Marks papers removed. With a `source`, only that source lets go of them: a paper another
        source still lists stays (without the file that source gave it)."""
        ids = sorted(set(ids))
        if not ids:
            return RemovalReport()

        def commit() -> RemovalReport:
            from deltalake import DeltaTable

            if not DeltaTable.is_deltatable(self.uri, storage_options=storage_options(self.uri)):
                return RemovalReport()
            table = DeltaTable(self.uri, storage_options=storage_options(self.uri))
            current = self._rows_at(table, ids).query("not removed")
            report = RemovalReport()
            rows = []
            for row in current.to_dict("records"):
                sources = [s for s in row["sources"].split(SOURCE_SEPARATOR) if s and s != source] if source else []
                if sources:
                    row.update(sources=SOURCE_SEPARATOR.join(sources), local_pdf=None, file_size=None, file_mtime=None)
                    report.kept_by_other_sources.append(row["paper_id"])
                else:
                    row.update(removed=True, removed_reason=reason, last_seen=_now())
                    report.removed.append(row["paper_id"])
                rows.append(row)
            if rows:
                (table.merge(_catalog_arrow(pd.DataFrame(rows)), predicate="t.paper_id = s.paper_id",
                             source_alias="s", target_alias="t").when_matched_update_all().execute())
            return report

        return with_commit_retries(commit, f"removing {len(ids)} papers from the catalog")


def _typed(rows: pd.DataFrame | None) -> pd.DataFrame:
    if rows is None:
        return pd.DataFrame(columns=CATALOG_COLUMNS).astype({"version": "Int64", "removed": bool})
    rows["version"] = rows["version"].astype("Int64")
    return rows.sort_values("paper_id", ignore_index=True)


def _merged(incoming: pd.DataFrame, existing: pd.DataFrame | None, source: str, authoritative: bool
            ) -> tuple[pd.DataFrame, UpsertReport]:
    report = UpsertReport()
    known = {row["paper_id"]: row for row in existing.to_dict("records")} if existing is not None else {}
    now = _now()
    rows = []
    for new in incoming.to_dict("records"):
        old = known.get(new["paper_id"])
        if old is None:
            rows.append({**{c: new.get(c) for c in CATALOG_COLUMNS}, "sources": source, "first_seen": now,
                         "last_seen": now, "removed": False, "removed_reason": None})
            report.added.append(new["paper_id"])
            continue
        row = dict(old)
        if new.get("month") and new["month"] != old["month"]:
            report.kept_month.append(new["paper_id"])
        for column in DESCRIPTIVE:
            value = new.get(column)
            if _given(value) and (authoritative or not _given(old.get(column))):
                row[column] = value
        versions = [v for v in (old.get("version"), new.get("version")) if _given(v)]
        row["version"] = max(int(v) for v in versions) if versions else None
        if versions and _given(old.get("version")) and row["version"] > int(old["version"]):
            report.new_versions.append(new["paper_id"])
        for column in ("local_pdf", "file_size", "file_mtime"):
            if _given(new.get(column)):
                row[column] = new[column]
        if old["removed"]:
            row.update(removed=False, removed_reason=None, sources=source)
            report.revived.append(new["paper_id"])
        else:
            sources = [s for s in (old.get("sources") or "").split(SOURCE_SEPARATOR) if s]
            row["sources"] = SOURCE_SEPARATOR.join(sorted(set(sources) | {source}))
        row["last_seen"] = now
        rows.append(row)
    return pd.DataFrame(rows, columns=CATALOG_COLUMNS), report


def _given(value: object) -> bool:
    return value is not None and value is not pd.NA and not (isinstance(value, float) and pd.isna(value)) and value != ""


_TYPES = {"version": pa.int64(), "file_size": pa.int64(), "file_mtime": pa.float64(), "removed": pa.bool_()}


def _catalog_arrow(rows: pd.DataFrame) -> pa.Table:
    """A fixed schema, so that every source's rows (and an all-empty column) match the table."""
    columns = {}
    for name in CATALOG_COLUMNS:
        values = [None if not _given(v) and name != "removed" else v for v in rows[name].tolist()]
        kind = _TYPES.get(name, pa.string())
        if kind == pa.int64():
            values = [int(v) if v is not None else None for v in values]
        columns[name] = pa.array(values, type=kind)
    return pa.table(columns)
