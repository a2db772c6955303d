"""Sensors: new PDFs in a watched folder and new arXiv listings request runs of `ingest_papers`
for exactly the months they touched; the index and the QA rows follow new chunk partitions
through their automation condition; the student is retrained when enough new QA rows exist.

Inside a month, work already done is skipped (pages files by content hash and extraction
options, the index by chunk id, the teacher by request), so a new paper costs its own work."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from dagster import (AssetKey, AssetSelection, AutomationConditionSensorDefinition, DefaultSensorStatus, RunRequest,
                     SensorEvaluationContext, SkipReason, sensor)

from .core.arxiv_ids import InvalidArxivId
from .core.metadata import pdf_file_identity
from .core.months import arxiv_month
from .resources.arxiv_listing import ArxivListing
from .settings import data_dir

INGEST_JOB = "ingest_papers"
TRAIN_JOB = "train_and_evaluate"


def watched_folder() -> Path:
    return Path(os.environ.get("SPARK_ARXIV_WATCH_DIR", data_dir() / "inbox"))


def folder_state(folder: Path) -> dict[str, list]:
    """name → [mtime, size, month]: the month is kept so a removed file's partition is known."""
    state = {}
    for pdf in sorted(folder.glob("*.pdf")):
        stat = pdf.stat()
        state[pdf.name] = [stat.st_mtime, stat.st_size, pdf_file_identity(pdf).month]
    return state


def folder_run_config(folder: Path) -> dict:
    return {"ops": {"arxiv_metadata": {"config": {"source": "pdf_folder", "path": str(folder)}}}}


@sensor(job_name=INGEST_JOB, minimum_interval_seconds=30, default_status=DefaultSensorStatus.STOPPED,
        description="Ingests $SPARK_ARXIV_WATCH_DIR (default data/inbox): one run per month whose PDFs were "
                    "added, changed or removed; no other month is touched.")
def new_pdfs_sensor(context: SensorEvaluationContext):
    folder = watched_folder()
    if not folder.is_dir():
        return SkipReason(f"{folder} does not exist yet: create it and drop PDFs in")
    state = folder_state(folder)
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


def listing_file() -> Path:
    return data_dir() / "listing" / "metadata.jsonl"


def listing_run_config(path: Path) -> dict:
    return {"ops": {"arxiv_metadata": {"config": {"source": "file", "path": str(path)}},
                    "arxiv_pdfs": {"config": {"source": "arxiv"}}}}


def _months_of(records: list[dict]) -> list[str]:
    months = set()
    for record in records:
        try:
            months.add(arxiv_month(record["id"]))
        except InvalidArxivId:
            pass  # the metadata asset reports it as a bad line
    return sorted(months)


@sensor(job_name=INGEST_JOB, minimum_interval_seconds=6 * 3600, default_status=DefaultSensorStatus.STOPPED,
        description="Polls arXiv's OAI-PMH listing for new papers in the configured set, appends them to "
                    "data/listing/metadata.jsonl and ingests the months of the new papers (downloads only new PDFs).")
def arxiv_listing_sensor(context: SensorEvaluationContext, arxiv_listing: ArxivListing):
    from datetime import date, timedelta

    from .io_managers.atomic import atomic_write

    cursor = listing_cursor(context.cursor) or {"from": (date.today() - timedelta(days=1)).isoformat(), "token": None}
    since = cursor["from"]
    page = arxiv_listing.list_records(since, cursor["token"])
    records = page.records
    path = listing_file()
    known: dict[str, str] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            known[record["id"]] = line
    new = [r for r in records if r["id"] and r["id"] not in known]
    lines = list(known.values()) + [json.dumps(r, ensure_ascii=False) for r in new]
    if new:
        atomic_write(path, lambda tmp: tmp.write_text("\n".join(lines) + "\n", encoding="utf-8"))
    if page.resumption_token:
        # Not done with this window: keep its start date and resume from the token next tick, so no
        # record past the page cap is skipped by a cursor that moved on.
        context.log.warning(f"listing since {since} goes on past {arxiv_listing.max_pages} pages; "
                            "resuming from its token at the next tick")
        context.update_cursor(json.dumps({"from": since, "token": page.resumption_token}))
    else:
        newest = max([since] + [r["datestamp"] for r in records if r["datestamp"]])
        context.update_cursor(json.dumps({"from": newest, "token": None}))
    if not new:
        return SkipReason(f"no new papers listed since {since}")
    months = _months_of(new)
    context.log.info(f"{len(new)} new papers listed since {since}, in months {months}")
    return [RunRequest(run_key=f"listing:{since}:{len(lines)}:{month}", partition_key=month,
                       run_config=listing_run_config(path),
                       tags={"trigger": "arxiv_listing_sensor", "new_papers": str(len(new))}) for month in months]


def listing_cursor(raw: str | None) -> dict | None:
    """{"from": date, "token": resumption token or None}; a bare date is the older cursor form."""
    if not raw:
        return None
    return json.loads(raw) if raw.startswith("{") else {"from": raw, "token": None}


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
