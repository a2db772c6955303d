"""A sensor that materializes the graph when PDFs appear or change in a watched folder.
Every stage skips work already done (page cache by content hash, index by chunk id, teacher
cache by request), so a run triggered by one new paper only processes that paper."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from dagster import DefaultSensorStatus, RunRequest, SensorEvaluationContext, SkipReason, sensor

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
