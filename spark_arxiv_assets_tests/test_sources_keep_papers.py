"""Sources add to one paper catalog and never erase each other: the inbox sensor's run, the arXiv
listing sensor's run and "Materialize all" with the default (sample) source, one after the
other on one month, and two runs of one month at once, all keep every paper of both sources
with its pages, chunks and vectors. Real Spark, MiniLM and Delta tables; arXiv and its OAI-PMH
listing are fakes on 127.0.0.1."""
from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import pytest
from dagster import DagsterInstance, RunRequest, build_sensor_context, materialize

from spark_arxiv_assets.definitions import all_assets, build_defs, build_resources
from spark_arxiv_assets.io_managers.paper_tables import paper_catalog
from spark_arxiv_assets.resources.arxiv import ArxivClient
from spark_arxiv_assets.resources.arxiv_listing import ArxivListing
from spark_arxiv_assets.sensors import INGEST_JOB, arxiv_listing_sensor, new_pdfs_sensor
from spark_arxiv_assets.settings import storage_uri
from spark_arxiv_assets.storage.index_store import load_latest_index

from .fakes.arxiv_server import FakeArxiv
from .fakes.oai_server import FakeOai, Listed
from .months import LOCAL_MONTH, stamp_local_pdfs, stored

LISTED = "2405.00001"  # an arXiv id of LOCAL_MONTH (2024-05), as the inbox file is stamped
INBOX_PAPER = "layout-normal_4pages"
NO_OCR = {"paper_pages": {"config": {"ocr_engine": "none"}}}


@pytest.fixture
def two_sources(data_dir, corpora, monkeypatch):
    """An inbox with one PDF of LOCAL_MONTH, an OAI-PMH listing with one paper of that month, and
    arXiv serving its PDF; yields the resources pointed at the fakes."""
    inbox = data_dir / "inbox"
    inbox.mkdir(parents=True)
    monkeypatch.setenv("SPARK_ARXIV_WATCH_DIR", str(inbox))
    shutil.copy(corpora / "pdfs" / f"{INBOX_PAPER}.pdf", inbox)
    stamp_local_pdfs(inbox)
    pdf = (corpora / "pdfs" / "layout-multi_page.pdf").read_bytes()
    listing = [[Listed(LISTED, "A paper the listing found", "2024-05-20")]]
    with FakeOai(fail_first=False, pages=listing) as oai, \
            FakeArxiv({LISTED: ["ok"], f"{LISTED}v1": ["ok"]}, bodies={LISTED: pdf, f"{LISTED}v1": pdf}) as arxiv:
        yield {**build_resources(), "arxiv": ArxivClient(base_url=arxiv.base_url, min_interval_s=0),
               "arxiv_listing": ArxivListing(base_url=oai.base_url, min_interval_s=0)}


def _sensor_requests(resources: dict) -> tuple[RunRequest, RunRequest]:
    [from_inbox] = new_pdfs_sensor(build_sensor_context())
    cursor = json.dumps({"from": "2024-05-01", "token": None})
    [from_listing] = arxiv_listing_sensor(build_sensor_context(cursor=cursor, resources={
        "arxiv_listing": resources["arxiv_listing"]}))
    assert from_inbox.partition_key == from_listing.partition_key == LOCAL_MONTH
    return from_inbox, from_listing


def _run(resources: dict, request: RunRequest, instance: DagsterInstance) -> bool:
    job = build_defs(resources).resolve_job_def(INGEST_JOB)
    config = request.run_config or {}
    result = job.execute_in_process(run_config={**config, "ops": {**config.get("ops", {}), **NO_OCR}},
                                    partition_key=request.partition_key, instance=instance, tags=request.tags,
                                    raise_on_error=False)
    return result.success


def _assert_both_papers_whole(resources: dict, instance: DagsterInstance) -> None:
    both = {LISTED, INBOX_PAPER}
    assert set(paper_catalog(storage_uri()).papers([LOCAL_MONTH])["paper_id"]) == both
    pages = stored("paper_pages", [LOCAL_MONTH])
    assert set(pages["paper_id"]) == both
    assert all((Path(storage_uri()) / "assets" / f).exists() for f in pages["pages_file"])  # no page file deleted
    assert set(stored("paper_chunks", [LOCAL_MONTH])["paper_id"]) == both
    materialize(all_assets, selection=["chunk_index"], resources=resources, instance=instance)
    assert both <= set(load_latest_index(storage_uri()).chunks["paper_id"])


def test_inbox_listing_and_materialize_all_one_after_another_keep_every_paper(two_sources):
    instance = DagsterInstance.ephemeral()
    from_inbox, from_listing = _sensor_requests(two_sources)
    assert _run(two_sources, from_inbox, instance)
    assert _run(two_sources, from_listing, instance)
    # "Materialize all" with the default config: the sample source, which lists nothing of this month
    assert _run(two_sources, RunRequest(partition_key=LOCAL_MONTH), instance)
    _assert_both_papers_whole(two_sources, instance)


def test_two_runs_of_one_month_at_once_lose_nothing(two_sources):
    """Two Dagster instances, as two deployments (or a sensor run and a backfill) would be: nothing
    but the storage coordinates them."""
    requests = _sensor_requests(two_sources)
    together = threading.Barrier(2, timeout=60)
    outcomes: list[bool] = []

    def run(request: RunRequest) -> None:
        with DagsterInstance.ephemeral() as instance:  # its own event log, closed in the thread that opened it
            together.wait()
            outcomes.append(_run(two_sources, request, instance))

    threads = [threading.Thread(target=run, args=(request,)) for request in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    assert outcomes == [True, True]
    _assert_both_papers_whole(two_sources, DagsterInstance.ephemeral())
