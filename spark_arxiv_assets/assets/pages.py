"""`paper_pages` (+ `quarantined_papers`): page text extracted inside Spark tasks, per month.

Each task writes its papers' pages to Parquet files itself and returns only counts, so the
driver's memory does not grow with the corpus; the `paper_pages` table lists those files."""

import time
from dataclasses import dataclass

import pandas as pd
from dagster import (AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, AssetExecutionContext, AssetOut, Config,
                     MetadataValue, Output, ResourceParam, multi_asset)
from dagster_pyspark import LazyPySparkResource

from ..core.options import options_from
from ..core.pdf_text import ExtractionOptions, OcrEngineName
from ..core.previews import counts_table, markdown_table
from ..io_managers.page_files import PageFilesIOManager
from ..io_managers.paper_tables import PaperRows, paper_catalog
from ..spark_tasks.extraction import page_summary, run_extraction
from ..storage.index_store import published_page_files
from .partitions import MONTHS, ONE_RUN, SPARK_POOL, add_month_metadata
from .usage import reports_usage

MANIFEST_COLUMNS = ["paper_id", "month", "pdf_sha256", "extractor", "pages_file", "n_pages", "n_chars",
                    "ocr_pages", "empty_pages", "numbered_without_gaps", "extracted_now"]
QUARANTINE_COLUMNS = ["paper_id", "month", "stage", "reason", "pdf_path", "pdf_sha256"]


class PagesConfig(Config):
    """Extraction options (each documented in `core/pdf_text.ExtractionOptions`) and how the run spreads them."""
    ocr_engine: OcrEngineName = ExtractionOptions.ocr_engine
    ocr_dpi: int = ExtractionOptions.ocr_dpi
    min_text_chars: int = ExtractionOptions.min_text_chars
    max_pages: int = ExtractionOptions.max_pages
    max_page_chars: int = ExtractionOptions.max_page_chars  # more text on one page quarantines the paper (text bomb)
    max_ocr_megapixels: float = ExtractionOptions.max_ocr_megapixels
    paper_timeout_s: float = ExtractionOptions.paper_timeout_s  # per paper, enforced inside the Spark task
    max_memory_mb: int = ExtractionOptions.max_memory_mb  # address space one paper's extraction may add
    find_tables: bool = ExtractionOptions.find_tables  # tables as Markdown where a page has a table caption
    max_quarantined_share: float = 0.5  # the quarantine check fails (ERROR) above this share of papers
    papers_per_task: int = 8  # at most; never fewer than 4 tasks per core (OCR-heavy papers spread, progress)
    reuse_previous: bool = True  # keep pages of PDFs already extracted (same sha256 and extraction options)


def _previous_manifests(store: PageFilesIOManager, months: list[str]) -> dict[str, dict]:
    """The stored table rows of these months by pages file: a reused paper's counts come from
    there, not from reading its pages again on every run."""
    rows = store.load_months("paper_pages", months)
    return {row["pages_file"]: row for row in rows.to_dict("records")} if rows is not None else {}


def _reused_summary(store: PageFilesIOManager, paper_id: str, month: str, sha: str, extractor: str, name: str,
                    previous: dict) -> dict:
    if name in previous:
        counts = {k: previous[name][k] for k in MANIFEST_COLUMNS[5:-1]}
    else:  # a pages file without a manifest row (its run was killed after the file was written)
        counts = page_summary(store.read_pages([name], columns=["page", "method", "n_chars"]))
    return {"paper_id": paper_id, "month": month, "pdf_sha256": sha, "extractor": extractor, "pages_file": name,
            **counts, "extracted_now": False}


@multi_asset(
    outs={
        "paper_pages": AssetOut(io_manager_key="page_files_io_manager", group_name="extract",
                                kinds={"pyspark", "deltalake"},
                                description="Text of every page of every readable paper, with OCR where needed "
                                            "(one Parquet file per paper, listed per month)."),
        "quarantined_papers": AssetOut(io_manager_key="paper_table_io_manager", group_name="extract",
                                       kinds={"deltalake"},
                                       description="Papers left out, and why (download or extraction)."),
    },
    pool=SPARK_POOL,
    partitions_def=MONTHS,
    backfill_policy=ONE_RUN,
    check_specs=[AssetCheckSpec("no_readable_paper_without_text", asset="paper_pages"),
                 AssetCheckSpec("pages_numbered_without_gaps", asset="paper_pages",
                                description="Each paper's pages are numbered 1..N without gaps."),
                 AssetCheckSpec("quarantine_has_reasons", asset="quarantined_papers",
                                description="Every quarantined paper has a reason, and no more than "
                                            "max_quarantined_share of the papers is quarantined.")],
)
@reports_usage
def paper_pages(context: AssetExecutionContext, config: PagesConfig, arxiv_pdfs: pd.DataFrame,
                pyspark: LazyPySparkResource, page_files_io_manager: ResourceParam[PageFilesIOManager]):
    """Extracts only papers whose (id, PDF sha256, extraction options) has no pages file yet; a
    paper that failed is tried again on the next run. Writes the rows of the papers in
    `arxiv_pdfs` only, so a concurrent run's papers keep theirs; afterwards deletes the page files
    that nothing references any more."""
    started_at, store = time.time(), page_files_io_manager
    options = options_from(ExtractionOptions, config)
    plan = _plan(store, arxiv_pdfs, context.partition_keys, options.extractor_id(), config.reuse_previous)
    context.log.info(f"{len(plan.reused)} papers already extracted, {len(plan.todo)} to extract in "
                     f"{len(context.partition_keys)} month(s) on {pyspark.spark_context.master}")
    started = time.perf_counter()
    rows = run_extraction(pyspark.spark_context, plan.todo, options, config.papers_per_task, context.log.info)
    seconds = time.perf_counter() - started
    manifest, quarantine = _manifest(store, plan, rows), _quarantine(arxiv_pdfs, plan, rows)
    for row in quarantine.itertuples():
        context.log.warning(f"quarantined {row.paper_id} ({row.stage}): {row.reason}")
    add_month_metadata(context, "paper_pages", manifest, lambda m: {
        "month_papers_done": len(m), "month_papers_extracted_now": int(m["extracted_now"].sum()),
        "month_pages": int(m["n_pages"].sum())})
    add_month_metadata(context, "quarantined_papers", quarantine, lambda q: {"month_papers_failed": len(q)})
    papers = set(arxiv_pdfs["paper_id"])
    yield Output(PaperRows.of(manifest, papers), output_name="paper_pages",
                 metadata=_pages_metadata(manifest, rows, config, plan.extractor, pyspark.spark_context.master, seconds))
    pruned = prune_page_files(store, context.partition_keys, started_at)
    yield Output(PaperRows.of(quarantine, papers), output_name="quarantined_papers",
                 metadata=_quarantine_metadata(quarantine, pruned))
    yield _text_check(manifest)
    yield _numbering_check(manifest)
    yield _quarantine_check(quarantine, len(arxiv_pdfs), config.max_quarantined_share)


@dataclass(frozen=True)
class _ExtractionPlan:
    extractor: str
    reused: list[dict]  # manifest rows of papers whose pages file exists
    todo: list[tuple[str, str, str, str]]  # (paper_id, PDF URI, sha256, pages file URI to write)
    month_of: dict[str, str]
    sha_of: dict[str, str]


def _plan(store: PageFilesIOManager, arxiv_pdfs: pd.DataFrame, months: list[str], extractor: str,
          reuse_previous: bool) -> _ExtractionPlan:
    """Which downloaded papers already have a pages file for these extraction options (one listing per
    month), and which are to extract."""
    ready = arxiv_pdfs[arxiv_pdfs["status"] != "failed"]
    previous = _previous_manifests(store, months) if reuse_previous else {}
    existing = {name for m in set(ready["month"]) for name in store.existing_files(m)} if reuse_previous else set()
    reused, todo = [], []
    for paper_id, month, pdf, sha in zip(ready["paper_id"], ready["month"], ready["pdf_path"], ready["sha256"]):
        target = store.page_file(month, paper_id, sha, extractor)
        name = store.stored_name(target)
        if name in existing:
            reused.append(_reused_summary(store, paper_id, month, sha, extractor, name, previous))
        else:
            todo.append((paper_id, pdf, sha, str(target)))
    return _ExtractionPlan(extractor, reused, todo, dict(zip(ready["paper_id"], ready["month"])),
                           dict(zip(ready["paper_id"], ready["sha256"])))


def _manifest(store: PageFilesIOManager, plan: _ExtractionPlan, rows: list[dict]) -> pd.DataFrame:
    extracted = [{"paper_id": r["paper_id"], "month": plan.month_of[r["paper_id"]],
                  "pdf_sha256": plan.sha_of[r["paper_id"]], "extractor": plan.extractor,
                  **{k: r[k] for k in MANIFEST_COLUMNS[5:-1]},
                  "pages_file": store.stored_name(r["pages_file"]), "extracted_now": True}
                 for r in rows if r["kind"] == "paper"]
    return pd.DataFrame(plan.reused + extracted, columns=MANIFEST_COLUMNS).sort_values("paper_id", ignore_index=True)


def _quarantine(arxiv_pdfs: pd.DataFrame, plan: _ExtractionPlan, rows: list[dict]) -> pd.DataFrame:
    """Papers whose download failed, then papers the extraction quarantined, each with its reason."""
    extract_failures = pd.DataFrame([{**r, "month": plan.month_of[r["paper_id"]], "stage": "extract"}
                                     for r in rows if r["kind"] == "quarantine"], columns=QUARANTINE_COLUMNS)
    download_failures = arxiv_pdfs[arxiv_pdfs["status"] == "failed"].rename(
        columns={"error": "reason", "sha256": "pdf_sha256"}).assign(stage="download")[QUARANTINE_COLUMNS]
    return pd.concat([download_failures, extract_failures], ignore_index=True)


def _pages_metadata(manifest: pd.DataFrame, rows: list[dict], config: PagesConfig, extractor: str, master: str,
                    seconds: float) -> dict:
    now = manifest["extracted_now"]
    pages_now = int(manifest.loc[now, "n_pages"].sum())
    return {
        "papers": len(manifest),
        "pages": int(manifest["n_pages"].sum()),
        "papers_extracted_now": int(now.sum()),
        "papers_reused": int((~now).sum()),
        "ocr_pages": int(manifest["ocr_pages"].sum()),
        "empty_pages": int(manifest["empty_pages"].sum()),
        "spark_master": master,
        "extractor": extractor,
        "per_paper_limits": MetadataValue.json({"paper_timeout_s": config.paper_timeout_s,
                                                "max_memory_mb": config.max_memory_mb,
                                                "max_page_chars": config.max_page_chars,
                                                "max_ocr_megapixels": config.max_ocr_megapixels}),
        "spark_tasks": len({r["spark_task_attempt"] for r in rows}),
        "seconds": round(seconds, 2),
        "pages_per_second": round(pages_now / seconds, 2) if seconds > 0 and pages_now else 0.0,
        "papers_per_month": MetadataValue.md(counts_table(manifest["month"], "month")),
        "preview": MetadataValue.md(markdown_table(manifest[["paper_id", "month", "n_pages", "n_chars", "ocr_pages",
                                                             "extracted_now"]])),
    }


def _quarantine_metadata(quarantine: pd.DataFrame, pruned: int) -> dict:
    return {
        "quarantined": len(quarantine),
        "over_a_per_paper_limit": int(quarantine["reason"].str.startswith("extraction limit").sum()),
        "reasons": MetadataValue.md(markdown_table(quarantine[["paper_id", "month", "stage", "reason"]], max_rows=50,
                                                   max_chars=120)),
        "page_files_deleted": pruned,
    }


def prune_page_files(store: PageFilesIOManager, months: list[str], started_at: float) -> int:
    """After the table is written: page files of papers the catalog removed, and files a newer
    file of the same paper replaced, unless the published index still shows their figures. Only
    months that hold papers are listed (a backfill covers ≈425, most of them empty)."""
    table = store.load_months("paper_pages", months)
    catalog = paper_catalog(store.base_uri).papers(months, include_removed=True)
    held = set(catalog["month"]) | (set(table["month"]) if table is not None else set())
    if not held:
        return 0
    removed, in_index = set(catalog.loc[catalog["removed"], "paper_id"]), published_page_files(store.base_uri)
    return sum(store.remove_unreferenced_files(month, table, removed, in_index, started_at) for month in sorted(held))


def _text_check(manifest: pd.DataFrame) -> AssetCheckResult:
    textless = sorted(manifest.loc[manifest["n_chars"] == 0, "paper_id"])
    return AssetCheckResult(check_name="no_readable_paper_without_text", asset_key="paper_pages",
                            passed=not textless, metadata={"papers_without_text": MetadataValue.json(textless)})


def _numbering_check(manifest: pd.DataFrame) -> AssetCheckResult:
    bad = sorted(manifest.loc[~manifest["numbered_without_gaps"].astype(bool), "paper_id"])
    return AssetCheckResult(check_name="pages_numbered_without_gaps", asset_key="paper_pages", passed=not bad,
                            metadata={"papers_with_gaps": MetadataValue.json(bad)})


def _quarantine_check(quarantine: pd.DataFrame, papers: int, max_share: float) -> AssetCheckResult:
    """An ERROR, not a warning: a run in which most papers fail is broken, whatever it produced."""
    without_reason = int((quarantine["reason"].fillna("") == "").sum())
    share = len(quarantine) / max(1, papers)
    return AssetCheckResult(check_name="quarantine_has_reasons", asset_key="quarantined_papers",
                            passed=without_reason == 0 and share <= max_share, severity=AssetCheckSeverity.ERROR,
                            metadata={"without_reason": without_reason, "share_quarantined": round(share, 3),
                                      "max_quarantined_share": max_share})
