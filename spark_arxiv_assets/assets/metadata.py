"""`arxiv_metadata`: which papers the pipeline works on, split by the month of their id."""

from pathlib import Path
from typing import Literal

import pandas as pd
from dagster import (AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, AssetExecutionContext, Config, MetadataValue,
                     Output, asset)

from ..core.arxiv_ids import safe_name
from ..core.metadata import MetadataFilter, read_snapshot, rows_from_pdf_folder
from ..core.previews import counts_table, markdown_table
from ..core.sample_corpus import write_sample_corpus
from ..resources.kaggle import KaggleSnapshot
from ..settings import data_dir, sample_dir
from .partitions import MONTHS, ONE_RUN, add_month_metadata, split_by_month


class MetadataConfig(Config):
    source: Literal["sample", "file", "kaggle", "pdf_folder"] = "sample"
    path: str | None = None  # JSON-lines snapshot for "file", a folder of PDFs for "pdf_folder"
    categories: list[str] = []  # e.g. ["cs.CL", "cs.IR"]; a bare archive ("cs") matches all its categories
    date_from: str | None = None  # ISO date, on update_date
    date_to: str | None = None
    max_papers: int | None = None


@asset(group_name="ingest", io_manager_key="parquet_io_manager", compute_kind="python", partitions_def=MONTHS,
       backfill_policy=ONE_RUN,
       check_specs=[AssetCheckSpec("metadata_ids_unique_and_titled", asset="arxiv_metadata",
                                   description="Paper ids are unique and every row has a title.")])
def arxiv_metadata(context: AssetExecutionContext, config: MetadataConfig, kaggle: KaggleSnapshot):
    """arXiv metadata from the bundled sample, a local Kaggle snapshot, the Kaggle API, or a PDF folder;
    each run keeps the papers of its months (a backfill reads the source once for all of them)."""
    flt = MetadataFilter(config.categories, config.date_from, config.date_to, config.max_papers)
    local_pdfs: Path | None = None
    if config.source == "pdf_folder":
        if not config.path:
            raise ValueError("source='pdf_folder' needs `path` (a folder of PDFs)")
        frame = rows_from_pdf_folder(Path(config.path)).head(config.max_papers)
        report_meta = {}
    else:
        if config.source == "sample":
            snapshot, local_pdfs = write_sample_corpus(sample_dir())
        elif config.source == "kaggle":
            snapshot = kaggle.download(data_dir() / "kaggle")
        else:
            if not config.path:
                raise ValueError("source='file' needs `path` (a Kaggle arXiv JSON-lines snapshot)")
            snapshot = Path(config.path)
        context.log.info(f"reading {snapshot}")
        with open(snapshot, "rb") as stream:
            frame, report = read_snapshot(stream, flt)
        frame["local_pdf"] = [str(local_pdfs / f"{safe_name(p)}.pdf") if local_pdfs else None for p in frame["paper_id"]]
        for number, reason in report.bad_lines[:20]:
            context.log.warning(f"skipped line {number}: {reason}")
        report_meta = {
            "lines_read": report.rows_read,
            "bad_lines": len(report.bad_lines),
            "bad_line_examples": MetadataValue.md(markdown_table(pd.DataFrame(report.bad_lines, columns=["line", "reason"]))),
            "duplicate_ids_dropped": MetadataValue.json(report.duplicate_ids[:50]),
            "filtered_out": report.filtered_out,
            "source_file": str(snapshot),
        }
    months = context.partition_keys
    in_run = frame["month"].isin(months)
    frame = frame[in_run].reset_index(drop=True)
    categories = frame["primary_category"].replace("", "(none)")
    add_month_metadata(context, "arxiv_metadata", frame, lambda m: {"month_papers": len(m)})
    yield Output(split_by_month(frame, months), metadata={
        "papers": len(frame),
        "papers_in_other_months": int((~in_run).sum()),
        "months_with_papers": int(frame["month"].nunique()),
        "source": config.source,
        "categories": MetadataValue.md(counts_table(categories, "primary category")),
        "preview": MetadataValue.md(markdown_table(frame[["paper_id", "title", "categories", "update_date"]])),
        **report_meta,
    })
    yield _ids_unique_and_titled(frame)


def _ids_unique_and_titled(frame: pd.DataFrame) -> AssetCheckResult:
    """A run whose months hold none of the selection only warns: a filter that matches nothing
    is worth a look, but an empty month is normal."""
    duplicates = int(frame["paper_id"].duplicated().sum())
    untitled = int((frame["title"].str.len() == 0).sum())
    valid = duplicates == 0 and untitled == 0
    return AssetCheckResult(check_name="metadata_ids_unique_and_titled", passed=valid and len(frame) > 0,
                            severity=AssetCheckSeverity.ERROR if not valid else AssetCheckSeverity.WARN,
                            metadata={"duplicates": duplicates, "untitled": untitled, "rows": len(frame)})
