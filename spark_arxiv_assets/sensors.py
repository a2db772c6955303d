"""Sensors that materialize the graph when PDFs appear in a watched folder or arXiv lists new
papers. A run covers the whole graph: extraction, the index and the teacher skip work already
done (page cache by content hash, index by chunk id, teacher cache by request), while the
student is retrained and the evaluation rerun on every such run (no partitions yet)."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from dagster import DefaultSensorStatus, RunRequest, SensorEvaluationContext, SkipReason, sensor

from .resources.arxiv_listing import ArxivListing
from .settings import data_dir

JOB_NAME = "materialize_everything"


def watched_folder() -> Path:
    return Path(os.environ.get("SPARK_ARXIV_WATCH_DIR", data_dir() / "inbox"))


def folder_state(folder: Path) -> dict[str, list[float]]:
    return {p.name: [p.stat().st_mtime, p.stat().st_size] for p in sorted(folder.glob("*.pdf"))}


def folder_run_config(folder: Path) -> dict:
    return {"ops": {"arxiv_metadata": {"config": {"source": "pdf_folder", "path": str(folder)}}}}


@sensor(job_name=JOB_NAME, minimum_interval_seconds=30, default_status=DefaultSensorStatus.STOPPED,
        description="Runs the pipeline on $SPARK_ARXIV_WATCH_DIR (default data/inbox) when PDFs are added or changed.")
def new_pdfs_sensor(context: SensorEvaluationContext):
    folder = watched_folder()
    if not folder.is_dir():
        return SkipReason(f"{folder} does not exist yet: create it and drop PDFs in")
    state = folder_state(folder)
    previous = json.loads(context.cursor) if context.cursor else {}
    changed = sorted(name for name, stamp in state.items() if previous.get(name) != stamp)
    removed = sorted(set(previous) - set(state))
    if not changed and not removed:
        return SkipReason(f"no new or changed PDFs in {folder}")
    context.update_cursor(json.dumps(state))
    context.log.info(f"new/changed: {changed}; removed: {removed}")
    digest = hashlib.sha1(json.dumps(state, sort_keys=True).encode()).hexdigest()[:16]
    return RunRequest(run_key=f"{folder}:{digest}", run_config=folder_run_config(folder),
                      tags={"trigger": "new_pdfs_sensor", "changed_pdfs": str(len(changed))})


def listing_file() -> Path:
    return data_dir() / "listing" / "metadata.jsonl"


def listing_run_config(path: Path) -> dict:
    return {"ops": {"arxiv_metadata": {"config": {"source": "file", "path": str(path)}},
                    "arxiv_pdfs": {"config": {"source": "arxiv"}}}}


@sensor(job_name=JOB_NAME, minimum_interval_seconds=6 * 3600, default_status=DefaultSensorStatus.STOPPED,
        description="Polls arXiv's OAI-PMH listing for new papers in the configured set, appends them to "
                    "data/listing/metadata.jsonl and materializes the graph (downloads only the new PDFs).")
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
    context.log.info(f"{len(new)} new papers listed since {since}")
    return RunRequest(run_key=f"listing:{since}:{len(lines)}", run_config=listing_run_config(path),
                      tags={"trigger": "arxiv_listing_sensor", "new_papers": str(len(new))})


def listing_cursor(raw: str | None) -> dict | None:
    """{"from": date, "token": resumption token or None}; a bare date is the older cursor form."""
    if not raw:
        return None
    return json.loads(raw) if raw.startswith("{") else {"from": raw, "token": None}
