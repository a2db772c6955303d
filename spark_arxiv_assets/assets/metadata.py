"""`arxiv_metadata`: the paper catalog's papers of each month. A run adds what its source lists
to the catalog and takes nothing away that another source added."""

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

import pandas as pd
from dagster import (AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, AssetExecutionContext, Config, MetadataValue,
                     Output, ResourceParam, asset)
from upath import UPath

from ..core.arxiv_ids import safe_name
from ..core.catalog import PaperCatalog, folder_source
from ..core.metadata import MetadataFilter, pdf_file_identity, read_snapshot, rows_from_pdf_folder
from ..core.previews import counts_table, markdown_table
from ..core.sample_corpus import write_sample_corpus
from ..io_managers.paper_tables import CatalogIOManager, paper_catalog
from ..resources.kaggle import KaggleSnapshot
from ..settings import data_dir, sample_dir
from .partitions import MONTHS, ONE_RUN, add_month_metadata
from .usage import reports_usage


@dataclass
class Listing:
    """What a source lists: rows for the catalog, the name it records as their source, whether it
    speaks for its papers' months (a snapshot) or only adds (a folder), what reading it found, and the
    papers whose file left the source (a folder's deleted PDFs), which leave the catalog."""
    frame: pd.DataFrame
    source: str
    authoritative: bool
    report: dict
    gone: Callable[[PaperCatalog, list[str]], list[str]] = lambda catalog, months: []
    gone_reason: str = ""


def _snapshot(context: AssetExecutionContext, config: "MetadataConfig", snapshot: UPath | Path,
              local_pdfs: Path | None) -> Listing:
    """A Kaggle-format JSON-lines snapshot's rows and what parsing it found (bad lines, duplicates)."""
    context.log.info(f"reading {snapshot}")
    flt = MetadataFilter(config.categories, config.date_from, config.date_to, config.max_papers)
    with snapshot.open("rb") as stream:
        frame, report = read_snapshot(stream, flt)
    frame["local_pdf"] = [str(local_pdfs / f"{safe_name(p)}.pdf") if local_pdfs else None for p in frame["paper_id"]]
    for number, reason in report.bad_lines[:20]:
        context.log.warning(f"skipped line {number}: {reason}")
    return Listing(frame, config.source, True, {
        "lines_read": report.rows_read,
        "bad_lines": len(report.bad_lines),
        "bad_line_examples": MetadataValue.md(markdown_table(pd.DataFrame(report.bad_lines, columns=["line", "reason"]))),
        "duplicate_ids_dropped": MetadataValue.json(report.duplicate_ids[:50]),
        "filtered_out": report.filtered_out,
        "source_file": str(snapshot),
    })


def _sample(context, config, catalog, kaggle) -> Listing:
    return _snapshot(context, config, *write_sample_corpus(sample_dir()))


def _file(context, config, catalog, kaggle) -> Listing:
    if not config.path:
        raise ValueError("source='file' needs `path` (a Kaggle arXiv JSON-lines snapshot)")
    return _snapshot(context, config, UPath(config.path), None)


def _kaggle(context, config, catalog, kaggle) -> Listing:
    return _snapshot(context, config, kaggle.download(data_dir() / "kaggle", log=context.log.warning), None)


def _pdf_folder(context, config, catalog, kaggle) -> Listing:
    """A folder's PDFs; files the catalog knows keep their month and are not opened again."""
    if not config.path:
        raise ValueError("source='pdf_folder' needs `path` (a folder of PDFs)")
    folder = Path(config.path).resolve()
    if not folder.is_dir():
        raise FileNotFoundError(f"source='pdf_folder': {folder} is not a folder")
    known = catalog.papers(ids=[pdf_file_identity(p).paper_id for p in folder.glob("*.pdf")], include_removed=True)
    frame = rows_from_pdf_folder(folder, {r["paper_id"]: r for r in known.to_dict("records")}).head(config.max_papers)
    notes = frame.dropna(subset=["month_note"])
    for row in notes.itertuples():
        context.log.warning(f"{row.local_pdf}: {row.month_note}")
    return Listing(frame, folder_source(folder), False, {
        "pdf_folder": str(folder), "files": len(frame),
        "month_notes": MetadataValue.md(markdown_table(notes[["paper_id", "month_note"]], max_chars=140))},
        gone=lambda catalog, months: _files_gone(catalog, folder, months), gone_reason=f"file removed from {folder}")


# The metadata sources: a new source is a function returning its `Listing`, and an entry here.
SOURCES: dict[str, Callable[..., Listing]] = {"sample": _sample, "file": _file, "kaggle": _kaggle,
                                              "pdf_folder": _pdf_folder}


class MetadataConfig(Config):
    source: Literal[tuple(SOURCES)] = "sample"  # type: ignore[valid-type]  # the bundled sample, a snapshot file, the Kaggle API, a folder of PDFs
    path: str | None = None  # JSON-lines snapshot (a path or URI) for "file", a folder of PDFs for "pdf_folder"
    categories: list[str] = []  # e.g. ["cs.CL", "cs.IR"]; a bare archive ("cs") matches all its categories
    date_from: str | None = None  # ISO date, on update_date
    date_to: str | None = None  # ISO date, on update_date (inclusive)
    max_papers: int | None = None  # at most this many papers from the source
    remove_papers: list[str] = []  # paper ids to take out of the catalog (the only way, besides a folder's file)


def _files_gone(catalog: PaperCatalog, folder: Path, months: list[str]) -> list[str]:
    """Papers of these months that this folder added and whose file is no longer there."""
    source = folder_source(folder)
    listed = catalog.papers(months)
    from_folder = listed[listed["sources"].fillna("").str.split("|").map(lambda s: source in s)]
    return sorted(p for p, f in zip(from_folder["paper_id"], from_folder["local_pdf"]) if not f or not Path(f).exists())


@asset(group_name="ingest", io_manager_key="catalog_io_manager", kinds={"python", "deltalake"},
       partitions_def=MONTHS, backfill_policy=ONE_RUN,
       check_specs=[AssetCheckSpec("metadata_ids_unique_and_titled", asset="arxiv_metadata",
                                   description="Paper ids are unique and every row has a title.")])
@reports_usage
def arxiv_metadata(context: AssetExecutionContext, config: MetadataConfig, kaggle: KaggleSnapshot,
                   catalog_io_manager: ResourceParam[CatalogIOManager]):
    """Adds the papers a source lists for the run's months to the paper catalog (the sample, a
    Kaggle snapshot file or the Kaggle API, a folder of PDFs) and yields the catalog's papers of
    those months, whichever source added them. A paper leaves the catalog only when its file
    leaves the folder that added it, or by `remove_papers`."""
    catalog = paper_catalog(catalog_io_manager.base_uri)
    months = context.partition_keys
    listing = SOURCES[config.source](context, config, catalog, kaggle)
    frame = listing.frame
    if listing.authoritative:  # a paper the catalog already knows keeps its month
        known_months = catalog.months_of(frame["paper_id"])
        frame["month"] = [known_months.get(p, m) for p, m in zip(frame["paper_id"], frame["month"])]
    in_run = frame["month"].isin(months)
    upsert = catalog.upsert(frame[in_run], listing.source, listing.authoritative)
    removed = catalog.remove(listing.gone(catalog, months), listing.gone_reason, listing.source).removed
    if config.remove_papers:
        removed += catalog.remove(list(config.remove_papers), "in remove_papers").removed
    papers = catalog.papers(months)
    add_month_metadata(context, "arxiv_metadata", papers, lambda m: {"month_papers": len(m)})
    yield Output(papers, metadata={**_catalog_metadata(papers, listing, in_run, upsert, removed), **listing.report})
    yield _ids_unique_and_titled(papers)


def _catalog_metadata(papers: pd.DataFrame, listing: Listing, in_run: pd.Series, upsert, removed: list[str]) -> dict:
    categories = papers["primary_category"].fillna("").replace("", "(none)")
    return {
        "papers": len(papers),
        "source": listing.source,
        "listed_by_source": int(in_run.sum()),
        "listed_in_other_months": int((~in_run).sum()),
        "added_to_catalog": len(upsert.added),
        "new_versions": MetadataValue.json(upsert.new_versions[:50]),
        "revived": MetadataValue.json(upsert.revived[:50]),
        "removed_from_catalog": MetadataValue.json(removed),
        "papers_by_source": MetadataValue.md(counts_table(papers["sources"].fillna(""), "sources")),
        "months_with_papers": int(papers["month"].nunique()),
        "categories": MetadataValue.md(counts_table(categories, "primary category")),
        "preview": MetadataValue.md(markdown_table(papers[["paper_id", "version", "title", "sources", "first_seen"]])),
    }


def _ids_unique_and_titled(frame: pd.DataFrame) -> AssetCheckResult:
    """A run whose months hold none of the selection only warns: a filter that matches nothing
    is worth a look, but an empty month is normal."""
    duplicates = int(frame["paper_id"].duplicated().sum())
    untitled = int((frame["title"].fillna("").str.len() == 0).sum())
    valid = duplicates == 0 and untitled == 0
    return AssetCheckResult(check_name="metadata_ids_unique_and_titled", passed=valid and len(frame) > 0,
                            severity=AssetCheckSeverity.ERROR if not valid else AssetCheckSeverity.WARN,
                            metadata={"duplicates": duplicates, "untitled": untitled, "rows": len(frame)})
