"""Month-partitioned Delta tables (delta-rs: no JVM) of rows that belong to papers.

One write replaces the rows of some papers in some months, and nothing else, in one atomic
commit: two runs that write different papers of the same month both keep their rows, and a run
never removes a paper it did not decide about. Concurrent commits that touch the same rows are
detected by Delta's optimistic concurrency and retried here.

Reads go through delta-rs's own query engine (DataFusion), not a pyarrow dataset over Python
file handles: the latter aborted the interpreter at exit ("terminate called without an active
exception") in 5 of 20 runs here (deltalake 1.6.6, pyarrow 26)."""
from __future__ import annotations

import os
import random
import time
from pathlib import Path
from typing import Callable, Iterable, Sequence, TypeVar

import pandas as pd
import pyarrow as pa

PARTITION = "month"
_ATTEMPTS = 30
T = TypeVar("T")


class TableConflict(RuntimeError):
    """Commits kept conflicting with other writers' commits after every retry."""


def delta_uri(location: str | os.PathLike) -> str:
    """What delta-rs takes: an absolute path for local folders, the URI otherwise."""
    text = str(location)
    if "://" in text and not text.startswith("file://"):
        return text.rstrip("/")
    return str(Path(text.removeprefix("file://")).resolve())


def storage_options(uri: str) -> dict[str, str] | None:
    """delta-rs reads the standard AWS_* variables itself; it also needs to be told that a plain
    http endpoint (a local S3 API) is allowed, and takes the region under its newer name."""
    if not uri.startswith(("s3://", "s3a://")):
        return None
    options = {}
    if os.environ.get("AWS_ENDPOINT_URL", "").startswith("http://"):
        options["AWS_ALLOW_HTTP"] = "true"
    if "AWS_REGION" not in os.environ and os.environ.get("AWS_DEFAULT_REGION"):
        options["AWS_REGION"] = os.environ["AWS_DEFAULT_REGION"]
    return options


def sql_strings(values: Iterable[str]) -> str:
    """A SQL list of string literals."""
    return ", ".join("'" + str(v).replace("'", "''") + "'" for v in values)


def _open(uri: str):
    from deltalake import DeltaTable

    options = storage_options(uri)
    if not DeltaTable.is_deltatable(uri, storage_options=options):
        return None
    return DeltaTable(uri, storage_options=options)


def table_exists(location: str | os.PathLike) -> bool:
    return _open(delta_uri(location)) is not None


def read_rows(location: str | os.PathLike, where: str | None = None, columns: Sequence[str] | None = None
              ) -> pd.DataFrame | None:
    """The rows matching a SQL `where` (all rows without one); None when the table does not exist."""
    table = _open(delta_uri(location))
    return None if table is None else query_rows(table, where, columns)


def query_rows(table, where: str | None = None, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Rows of one version (snapshot) of an open table."""
    from deltalake import QueryBuilder

    order = [field.name for field in table.schema().fields]
    wanted = [c for c in (columns or order)]
    select = ", ".join(f'"{c}"' for c in wanted)
    query = f"SELECT {select} FROM t" + (f" WHERE {where}" if where else "")
    arrow = pa.table(QueryBuilder().register("t", table).execute(query).read_all())
    arrow = arrow.cast(pa.schema([_plain(field) for field in arrow.schema]))
    return arrow.to_pandas()


def _plain(field: pa.Field) -> pa.Field:
    """string_view (what DataFusion returns) as plain strings, for pandas and Parquet alike."""
    return field.with_type(_plain_type(field.type))


def _plain_type(kind: pa.DataType) -> pa.DataType:
    if pa.types.is_string_view(kind) or pa.types.is_large_string(kind):
        return pa.string()
    if pa.types.is_binary_view(kind) or pa.types.is_large_binary(kind):
        return pa.binary()
    if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_list_view(kind):
        return pa.list_(_plain_type(kind.value_type))
    return kind


def _as_arrow(rows: pd.DataFrame, existing: pa.Schema | None) -> pa.Table:
    """Rows as Arrow. No rows take the stored table's schema (they only delete); columns pandas
    cannot type (all empty) take the stored type, else string; the month is always a string."""
    if existing is not None and len(rows) == 0:
        return existing.empty_table()
    table = pa.Table.from_pandas(rows, preserve_index=False)
    fields = []
    for field in table.schema:
        if field.name == PARTITION:
            field = field.with_type(pa.string())
        elif pa.types.is_null(field.type):
            known = existing.field(field.name).type if existing is not None and field.name in existing.names else None
            field = field.with_type(known or pa.string())
        fields.append(field)
    return table.cast(pa.schema(fields))


def with_commit_retries(commit: Callable[[], T], what: str, attempts: int = _ATTEMPTS) -> T:
    """Runs `commit` again (re-reading the table) while another writer's commit conflicts with it."""
    from deltalake.exceptions import CommitFailedError

    for attempt in range(attempts):
        try:
            return commit()
        except CommitFailedError as exc:
            last = exc
        except OSError as exc:  # a concurrent first write: the table's version 0 already exists
            if "already exists" not in str(exc).lower():
                raise
            last = exc
        time.sleep(min(2.0, 0.02 * 2 ** attempt) * random.uniform(0.5, 1.5))
    raise TableConflict(f"{what}: still conflicting with concurrent writers after {attempts} attempts ({last})")


def create_table(location: str | os.PathLike, schema: pa.Schema):
    """An empty month-partitioned table (rows always arrive by a conditional write afterwards: two
    first writers must not both append the same rows to a table they both saw missing)."""
    from deltalake import DeltaTable, write_deltalake

    uri = delta_uri(location)
    options = storage_options(uri)
    try:
        write_deltalake(uri, schema.empty_table(), partition_by=[PARTITION], mode="ignore", storage_options=options)
    except Exception as exc:  # noqa: BLE001 - a concurrent creator won: its table is as good as ours
        if not DeltaTable.is_deltatable(uri, storage_options=options):
            raise exc
    return DeltaTable(uri, storage_options=options)


def replace_papers(location: str | os.PathLike, rows: pd.DataFrame, months: Sequence[str], papers: Iterable[str],
                   key: str = "paper_id") -> int:
    """Replaces, in one commit, every stored row of `papers` in `months` with `rows` (which must
    belong to those papers and months). Papers not named keep their rows. Returns the rows written."""
    from deltalake import write_deltalake

    uri = delta_uri(location)
    papers = sorted(set(papers) | set(rows[key]))
    months = sorted(set(months) | set(rows[PARTITION]))
    if (not papers or not months) and table_exists(uri):
        return 0
    predicate = f"{PARTITION} IN ({sql_strings(months) or 'NULL'}) AND {key} IN ({sql_strings(papers) or 'NULL'})"

    def commit() -> int:
        table = _open(uri) or create_table(uri, _as_arrow(rows, None).schema)
        if len(rows) and not table.file_uris():  # created empty, its column types guessed: take the real ones
            write_deltalake(table, _as_arrow(rows, None), mode="overwrite", schema_mode="overwrite")
            return len(rows)
        data = _as_arrow(rows, _arrow_schema(table))
        write_deltalake(table, data, mode="overwrite", predicate=predicate, schema_mode="merge")
        return len(rows)

    return with_commit_retries(commit, f"writing {len(papers)} papers to {uri}")


def _arrow_schema(table) -> pa.Schema:
    return pa.schema(table.schema().to_arrow())
