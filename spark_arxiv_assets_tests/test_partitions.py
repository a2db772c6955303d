"""Month partitions end to end: a drop in the inbox becomes a run of exactly its month; that run
writes no other month's files; the index follows through its automation condition, embedding only
the new paper's chunks; nothing asks to retrain the student."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from dagster import (AssetKey, AssetMaterialization, DagsterInstance, RunRequest, SkipReason, build_sensor_context,
                     evaluate_automation_conditions, materialize)

from spark_arxiv_assets.definitions import all_assets, build_defs, build_resources
from spark_arxiv_assets.sensors import INGEST_JOB, new_pdfs_sensor, retrain_when_enough_new_rows

from .months import LOCAL_MONTH, read_pages, stamp_local_pdfs, stored

ARXIV_PDF = "2501.10120v1.pdf"  # an arXiv file name: partition 2025-01 from its id
ARXIV_MONTH = "2025-01"


def _tick(cursor: str | None) -> tuple[list[RunRequest], str]:
    context = build_sensor_context(cursor=cursor)
    result = new_pdfs_sensor(context)
    return ([] if isinstance(result, SkipReason) else list(result)), context.cursor


def _run(request: RunRequest, instance: DagsterInstance):
    job = build_defs().resolve_job_def(INGEST_JOB)  # with this test's data dir
    result = job.execute_in_process(run_config={**request.run_config, "ops": {
        **request.run_config["ops"], "paper_pages": {"config": {"ocr_engine": "none"}}}},
        partition_key=request.partition_key, instance=instance, tags=request.tags)
    assert result.success
    return result


def _month_files(data_dir: Path, month: str) -> dict[str, int]:
    """Every stored file of one month (its tables' data files, the catalog's, page files) with its
    modification time."""
    files = (list(data_dir.glob(f"tables/*/month={month}/*")) + list(data_dir.glob(f"catalog/*/month={month}/*"))
             + list(data_dir.glob(f"assets/paper_pages/files/{month}/*")))
    return {str(p): p.stat().st_mtime_ns for p in files}


def _metadata(instance: DagsterInstance, asset: str, partition: str | None = None) -> dict:
    events = instance.fetch_materializations(AssetKey(asset), limit=1000).records
    [latest] = [e for e in events if e.partition_key == partition][:1]
    return {k: v.value for k, v in latest.asset_materialization.metadata.items()}


def _automation_requests(instance: DagsterInstance, cursor=None) -> tuple[set[str], object]:
    result = evaluate_automation_conditions(defs=build_defs(), instance=instance, cursor=cursor)
    return {r.key.to_user_string() for r in result.results if r.true_subset.size}, result.cursor


def test_new_pdf_runs_only_its_month_and_the_index_follows_without_retraining(data_dir, corpora, monkeypatch):
    inbox = data_dir / "inbox"
    inbox.mkdir(parents=True)
    monkeypatch.setenv("SPARK_ARXIV_WATCH_DIR", str(inbox))
    shutil.copy(corpora / "pdfs" / "layout-normal_4pages.pdf", inbox)
    stamp_local_pdfs(inbox)  # no arXiv id: partition = ingest month
    shutil.copy(corpora / "pdfs" / ARXIV_PDF, inbox)
    instance = DagsterInstance.ephemeral()
    nothing_yet, automation_cursor = _automation_requests(instance)  # the automation sensor's first tick
    assert nothing_yet == set()

    requests, cursor = _tick(None)
    assert sorted(r.partition_key for r in requests) == [LOCAL_MONTH, ARXIV_MONTH]  # two months, one run each
    for request in requests:
        _run(request, instance)
    assert _metadata(instance, "paper_pages", ARXIV_MONTH)["month_papers_done"] == 1
    for month, paper in ((ARXIV_MONTH, "2501.10120"), (LOCAL_MONTH, "layout-normal_4pages")):
        chunks = stored("paper_chunks", [month])
        assert set(chunks["paper_id"]) == {paper} and set(chunks["month"]) == {month}
    automation, automation_cursor = _automation_requests(instance, automation_cursor)
    assert automation == {"chunk_index", "qa_pairs", "qa_dataset"}  # not the student, not the evaluation
    first_index = materialize(all_assets, selection=["chunk_index"], instance=instance, resources=build_resources())
    first_index_meta = _metadata(instance, "chunk_index")
    assert first_index_meta["added"] == first_index_meta["vectors"] > 0
    automation, automation_cursor = _automation_requests(instance, automation_cursor)
    assert "chunk_index" not in automation  # handled: nothing new upstream

    arxiv_month_before = _month_files(data_dir, ARXIV_MONTH)
    shutil.copy(corpora / "pdfs" / "layout-multi_page.pdf", inbox)
    stamp_local_pdfs(inbox, names=["layout-multi_page.pdf"])
    requests, cursor = _tick(cursor)
    assert [r.partition_key for r in requests] == [LOCAL_MONTH]  # only the new file's month
    result = _run(requests[0], instance)
    assert _month_files(data_dir, ARXIV_MONTH) == arxiv_month_before  # the other month was not rewritten
    pages = _metadata(instance, "paper_pages", LOCAL_MONTH)
    assert (pages["month_papers_done"], pages["month_papers_extracted_now"], pages["papers_reused"]) == (2, 1, 1)
    assert {e.partition for e in result.get_asset_materialization_events()} == {LOCAL_MONTH}

    automation, _ = _automation_requests(instance, automation_cursor)
    assert automation == {"chunk_index", "qa_pairs", "qa_dataset"}  # the index follows the changed month
    materialize(all_assets, selection=["chunk_index"], instance=instance, resources=build_resources())
    index_meta = _metadata(instance, "chunk_index")
    old_vectors = first_index.output_for_node("chunk_index").size
    assert index_meta["kept"] == old_vectors and index_meta["added"] > 0 and index_meta["removed"] == 0
    assert index_meta["vectors"] == old_vectors + index_meta["added"]
    assert json.loads(cursor)["layout-multi_page.pdf"][2] == LOCAL_MONTH

    # the data dir moves (another disk, another machine): its manifests still find their page files
    moved = data_dir.parent / "moved"
    shutil.copytree(data_dir, moved)
    shutil.rmtree(data_dir)
    monkeypatch.setenv("SPARK_ARXIV_DATA_DIR", str(moved))
    manifest = stored("paper_pages", [LOCAL_MONTH], base_uri=str(moved))
    assert not any(Path(f).is_absolute() for f in manifest["pages_file"])
    assert set(read_pages(list(manifest["pages_file"]))["paper_id"]) == {"layout-normal_4pages", "layout-multi_page"}


def test_retraining_waits_for_enough_new_training_rows(monkeypatch):
    monkeypatch.setenv("SPARK_ARXIV_RETRAIN_MIN_NEW_ROWS", "100")
    instance = DagsterInstance.ephemeral()

    def tick():
        return retrain_when_enough_new_rows(build_sensor_context(instance=instance))

    assert "not been materialized" in tick().skip_message
    instance.report_runless_asset_event(AssetMaterialization("qa_dataset", metadata={"train_rows": 150}))
    instance.report_runless_asset_event(AssetMaterialization("student_adapter", metadata={"train_examples": 120}))
    assert "30 new training rows" in tick().skip_message
    instance.report_runless_asset_event(AssetMaterialization("qa_dataset", metadata={"train_rows": 260}))
    request = tick()
    assert isinstance(request, RunRequest) and request.tags["new_training_rows"] == "140"
