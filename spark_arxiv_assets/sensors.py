"""Sensors: new PDFs in a watched folder and new arXiv listings request runs of `ingest_papers`
for exactly the months they touched; the index and the QA rows follow new chunk partitions
through their automation condition; the student is retrained when enough new QA rows exist.
A sensor only decides: the longest thing a tick does is fetch one listing page within a budget.

Inside a month, work already done is skipped (pages files by content hash and extraction
options, the index by chunk id, the teacher by request), so a new paper costs its own work."""
from __future__ import annotations

import hashlib
import json
import os
import time
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
from dagster import (AssetKey, AssetSelection, AutomationConditionSensorDefinition, DefaultSensorStatus, RunRequest,
                     SensorEvaluationContext, SkipReason, sensor)
from upath import UPath

from .core.arxiv_ids import InvalidArxivId, parse_arxiv_id
from .core.metadata import file_month, pdf_file_identity
from .core.months import arxiv_month
from .io_managers.paper_tables import paper_catalog
from .resources.arxiv_listing import ArxivListing
from .settings import data_dir, storage_uri
from .storage.atomic import atomic_write
from .storage.uris import as_upath

INGEST_JOB = "ingest_papers"
TRAIN_JOB = "train_and_evaluate"


def watched_folder() -> Path:
    return Path(os.environ.get("SPARK_ARXIV_WATCH_DIR", data_dir() / "inbox"))


def folder_state(folder: Path, known_months: dict[str, str], now: float | None = None) -> dict[str, list]:
    """name → [mtime, size, month]: a file the catalog knows keeps its month (a touched file does
    not move); the month is kept in the cursor so a removed file's partition is known."""
    state = {}
    for pdf in sorted(folder.glob("*.pdf")):
        stat = pdf.stat()
        month, _ = file_month(pdf_file_identity(pdf), stat.st_mtime, known_months, now)
        state[pdf.name] = [stat.st_mtime, stat.st_size, month]
    return state


def folder_run_config(folder: Path) -> dict:
    return {"ops": {"arxiv_metadata": {"config": {"source": "pdf_folder", "path": str(folder)}}}}


@sensor(job_name=INGEST_JOB, minimum_interval_seconds=30, default_status=DefaultSensorStatus.STOPPED,
        description="Ingests $SPARK_ARXIV_WATCH_DIR (default data/inbox): one run per month whose PDFs were "
                    "added, changed or removed; no other month is touched, and no other source's papers are.")
def new_pdfs_sensor(context: SensorEvaluationContext):
    folder = watched_folder()
    if not folder.is_dir():
        return SkipReason(f"{folder} does not exist yet: create it and drop PDFs in")
    ids = [pdf_file_identity(pdf).paper_id for pdf in folder.glob("*.pdf")]
    state = folder_state(folder, paper_catalog(storage_uri()).months_of(ids))
    previous = json.loads(context.cursor) if context.cursor else {}
    changed = sorted(name for name, stamp in state.items() if previous.get(name, [])[:2] != stamp[:2])
    removed = sorted(set(previous) - set(state))
    if not changed and not removed:
        return SkipReason(f"no new or changed PDFs in {folder}")
    months = sorted({state[n][2] for n in changed} | {previous[n][2] for n in removed if len(previous[n]) > 2})
    context.update_cursor(json.dumps(state))
    context.log.info(f"new/changed: {changed}; removed: {removed}; months: {months}")
    digest = hashlib.sha1(json.dumps(state, sort_keys=True).encode()).hexdigest()[:16]
    return [RunRequest(run_key=f"{folder}:{month}:{digest}", partition_key=month, run_config=folder_run_config(folder),
                       tags={"trigger": "new_pdfs_sensor", "changed_pdfs": str(len(changed))}) for month in months]


LISTING_POLL_S = 6 * 3600  # between complete listings; a listing in progress goes on at every tick


def listing_page_location(from_date: str, page: int) -> UPath:
    """Where a fetched listing page is kept: in the artifact store, which every run can read."""
    return as_upath(storage_uri()) / "listing" / from_date / f"page-{page:05d}.jsonl"


def listing_run_config(location: str) -> dict:
    return {"ops": {"arxiv_metadata": {"config": {"source": "file", "path": location}}}}


def _new_or_newer(records: list[dict], catalog_rows) -> list[dict]:
    """Records the catalog lacks, or lists with an older version; a record whose id does not
    parse is kept (the metadata asset reports it as a bad line)."""
    known = dict(zip(catalog_rows["paper_id"], catalog_rows["version"]))
    fresh = []
    for record in records:
        versions = [int(v["version"][1:]) for v in record.get("versions") or [] if str(v.get("version", ""))[1:].isdigit()]
        try:
            paper_id = parse_arxiv_id(record["id"]).base
        except InvalidArxivId:
            fresh.append(record)
            continue
        stored = known.get(paper_id)
        if paper_id not in known or (versions and (stored is None or pd.isna(stored) or max(versions) > int(stored))):
            fresh.append(record)
    return fresh


def _months_of(records: list[dict]) -> list[str]:
    months = set()
    for record in records:
        try:
            months.add(arxiv_month(record["id"]))
        except InvalidArxivId:
            pass  # the metadata asset reports it as a bad line
    return sorted(months)


@sensor(job_name=INGEST_JOB, minimum_interval_seconds=60, default_status=DefaultSensorStatus.STOPPED,
        description="Polls arXiv's OAI-PMH listing for the configured set: one page per tick (within a time "
                    "budget), written to the artifact store under listing/, the cursor advanced per page; "
                    "requests a run for each month of papers the catalog lacks or holds in an older version. "
                    "A complete listing is polled again after 6 hours.")
def arxiv_listing_sensor(context: SensorEvaluationContext, arxiv_listing: ArxivListing):
    cursor = listing_cursor(context.cursor) or {"from": (date.today() - timedelta(days=1)).isoformat(), "token": None,
                                                "page": 0, "next_poll": 0.0}
    if not cursor["token"] and time.time() < cursor.get("next_poll", 0.0):
        return SkipReason(f"listing complete up to {cursor['from']}; next poll in "
                          f"{cursor['next_poll'] - time.time():.0f} s")
    since, page_number = cursor["from"], cursor.get("page", 0) + 1
    page = arxiv_listing.list_page(since, cursor["token"])
    location = listing_page_location(since, page_number)
    if page.records:
        lines = "\n".join(json.dumps(r, ensure_ascii=False) for r in page.records) + "\n"
        atomic_write(location, lambda tmp: tmp.write_text(lines, encoding="utf-8"))
    if page.resumption_token:  # the window goes on: keep its start, resume from the token next tick
        context.update_cursor(json.dumps({"from": since, "token": page.resumption_token, "page": page_number,
                                          "next_poll": 0.0}))
    else:
        newest = max([since] + [r["datestamp"] for r in page.records if r["datestamp"]])
        context.update_cursor(json.dumps({"from": newest, "token": None, "page": 0,
                                          "next_poll": time.time() + LISTING_POLL_S}))
    ids = [r["id"] for r in page.records]
    fresh = _new_or_newer(page.records, paper_catalog(storage_uri()).papers(ids=_bases(ids), include_removed=True))
    if not fresh:
        return SkipReason(f"page {page_number} of the listing since {since}: {len(page.records)} records, "
                          "none new to the catalog")
    months = _months_of(fresh)
    context.log.info(f"page {page_number} since {since}: {len(fresh)} new or newer papers, in months {months}")
    return [RunRequest(run_key=f"listing:{location}:{month}", partition_key=month,
                       run_config=listing_run_config(str(location)),
                       tags={"trigger": "arxiv_listing_sensor", "new_papers": str(len(fresh))}) for month in months]


def _bases(ids: list[str]) -> list[str]:
    bases = []
    for raw in ids:
        try:
            bases.append(parse_arxiv_id(raw).base)
        except InvalidArxivId:
            pass
    return bases


def listing_cursor(raw: str | None) -> dict | None:
    """{"from": date, "token": resumption token or None, "page": pages of this window so far,
    "next_poll": Unix time}; a bare date is the oldest cursor form."""
    if not raw:
        return None
    cursor = json.loads(raw) if raw.startswith("{") else {"from": raw, "token": None}
    return {"page": 0, "next_poll": 0.0, **cursor}


index_follows_new_papers = AutomationConditionSensorDefinition(
    "index_follows_new_papers", target=AssetSelection.assets("chunk_index", "qa_pairs", "qa_dataset"),
    default_status=DefaultSensorStatus.RUNNING, minimum_interval_seconds=30,
    description="After a month of paper_chunks changes: updates chunk_index, that month's qa_pairs and qa_dataset. "
                "Only new chunks are embedded and only new chunks are sent to the teacher.")


def retrain_threshold() -> int:
    return int(os.environ.get("SPARK_ARXIV_RETRAIN_MIN_NEW_ROWS", "200"))


def _latest_metadata(context: SensorEvaluationContext, asset: str) -> tuple[int | None, dict]:
    records = context.instance.fetch_materializations(AssetKey(asset), limit=1).records
    if not records:
        return None, {}
    metadata = {k: v.value for k, v in records[0].asset_materialization.metadata.items()}
    return records[0].storage_id, metadata


@sensor(job_name=TRAIN_JOB, minimum_interval_seconds=3600, default_status=DefaultSensorStatus.STOPPED,
        description="Retrains the student (and re-runs the evaluation) once qa_dataset has at least "
                    "$SPARK_ARXIV_RETRAIN_MIN_NEW_ROWS (default 200) more training rows than the current adapter "
                    "was trained on. New papers alone never retrain.")
def retrain_when_enough_new_rows(context: SensorEvaluationContext):
    qa_id, qa = _latest_metadata(context, "qa_dataset")
    if qa_id is None:
        return SkipReason("qa_dataset has not been materialized yet")
    _, adapter = _latest_metadata(context, "student_adapter")
    trained_on = int(adapter.get("train_examples", 0))
    new_rows = int(qa.get("train_rows", 0)) - trained_on
    if new_rows < retrain_threshold():
        return SkipReason(f"{new_rows} new training rows since the adapter was trained; retraining at "
                          f"{retrain_threshold()}")
    return RunRequest(run_key=f"retrain:{qa_id}", tags={"trigger": "retrain_when_enough_new_rows",
                                                        "new_training_rows": str(new_rows)})
