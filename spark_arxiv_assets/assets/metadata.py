"""`arxiv_metadata`: which papers the pipeline works on."""

from pathlib import Path
from typing import Literal

import pandas as pd
from dagster import AssetCheckResult, AssetExecutionContext, Config, MetadataValue, Output, asset, asset_check

from ..core.arxiv_ids import safe_name
from ..core.metadata import MetadataFilter, read_snapshot, rows_from_pdf_folder
from ..core.previews import counts_table, markdown_table
from ..core.sample_corpus import write_sample_corpus
from ..resources.kaggle import KaggleSnapshot
from ..settings import data_dir, sample_dir


class MetadataConfig(Config):
    source: Literal["sample", "file", "kaggle", "pdf_folder"] = "sample"
    path: str | None = None  # JSON-lines snapshot for "file", a folder of PDFs for "pdf_folder"
    categories: list[str] = []  # e.g. ["cs.CL", "cs.IR"]; a bare archive ("cs") matches all its categories
    date_from: str | None = None  # ISO date, on update_date
    date_to: str | None = None
    max_papers: int | None = None


@asset(group_name="ingest", io_manager_key="parquet_io_manager", compute_kind="python")
def arxiv_metadata(context: AssetExecutionContext, config: MetadataConfig, kaggle: KaggleSnapshot) -> Output[pd.DataFrame]:
    """arXiv metadata from the bundled sample, a local Kaggle snapshot, the Kaggle API, or a PDF folder."""
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
    categories = frame["primary_category"].replace("", "(none)")
    return Output(frame, metadata={
        "papers": len(frame),
        "source": config.source,
        "categories": MetadataValue.md(counts_table(categories, "primary category")),
        "preview": MetadataValue.md(markdown_table(frame[["paper_id", "title", "categories", "update_date"]])),
        **report_meta,
    })


@asset_check(asset=arxiv_metadata, description="Paper ids are unique and every row has a title.")
def metadata_ids_unique_and_titled(arxiv_metadata: pd.DataFrame) -> AssetCheckResult:
    duplicates = int(arxiv_metadata["paper_id"].duplicated().sum())
    untitled = int((arxiv_metadata["title"].str.len() == 0).sum())
    return AssetCheckResult(passed=duplicates == 0 and untitled == 0 and len(arxiv_metadata) > 0,
                            metadata={"duplicates": duplicates, "untitled": untitled, "rows": len(arxiv_metadata)})
