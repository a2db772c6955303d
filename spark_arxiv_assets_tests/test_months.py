"""Months that hold: an arXiv paper's month is its id's; a file without an arXiv id is filed under
the month it is first seen, kept in the catalog for life (touching the file does not move it); a
timestamp outside the partitions (an archive's 1985, a clock in the future) gets the current month
and a note, and no sensor requests a partition key that does not exist."""
from __future__ import annotations

import os
import shutil

from dagster import DagsterInstance, build_sensor_context

from spark_arxiv_assets.assets.partitions import MONTHS
from spark_arxiv_assets.core.months import current_month, first_seen_month
from spark_arxiv_assets.definitions import build_defs, build_resources
from spark_arxiv_assets.io_managers.paper_tables import paper_catalog
from spark_arxiv_assets.sensors import INGEST_JOB, new_pdfs_sensor
from spark_arxiv_assets.settings import storage_uri

from .months import LOCAL_MONTH, stamp_local_pdfs, stored

NOW = 1_780_000_000.0  # 2026-05-28
PAPER = "notes-from-an-old-archive"


def test_first_seen_month_keeps_timestamps_inside_the_partitions():
    assert first_seen_month(1_716_000_000.0, NOW) == ("2024-05", None)
    month, note = first_seen_month(489_000_000.0, NOW)  # 1985
    assert month == "2026-05" and "before the first partition 1991-08" in note
    month, note = first_seen_month(NOW + 400 * 86400, NOW)
    assert month == "2026-05" and "in the future" in note
    assert current_month(NOW) == "2026-05"


def _run(request) -> dict:
    job = build_defs(build_resources()).resolve_job_def(INGEST_JOB)
    result = job.execute_in_process(run_config={**request.run_config, "ops": {
        **request.run_config["ops"], "paper_pages": {"config": {"ocr_engine": "none"}}}},
        partition_key=request.partition_key, instance=DagsterInstance.ephemeral())
    assert result.success
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == "arxiv_metadata"]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def test_a_file_keeps_the_month_it_was_first_filed_under(data_dir, corpora, monkeypatch):
    inbox = data_dir / "inbox"
    inbox.mkdir(parents=True)
    monkeypatch.setenv("SPARK_ARXIV_WATCH_DIR", str(inbox))
    shutil.copy(corpora / "pdfs" / "layout-normal_4pages.pdf", inbox / f"{PAPER}.pdf")
    os.utime(inbox / f"{PAPER}.pdf", (489_000_000.0, 489_000_000.0))  # unpacked from an archive of 1985

    context = build_sensor_context()
    [request] = new_pdfs_sensor(context)
    filed = request.partition_key
    assert filed == current_month() and filed in MONTHS.get_partition_keys()  # a key that exists
    metadata = _run(request)
    assert "before the first partition 1991-08" in metadata["month_notes"]
    assert paper_catalog(storage_uri()).months_of([PAPER]) == {PAPER: filed}

    stamp_local_pdfs(inbox)  # the file is touched: its modification time now says 2024-05
    [again] = new_pdfs_sensor(build_sensor_context(cursor=context.cursor))
    assert again.partition_key == filed  # the catalog's month, not the new timestamp's
    _run(again)
    assert paper_catalog(storage_uri()).months_of([PAPER]) == {PAPER: filed}
    assert stored("paper_pages", [LOCAL_MONTH]).empty and set(stored("paper_pages", [filed])["paper_id"]) == {PAPER}
