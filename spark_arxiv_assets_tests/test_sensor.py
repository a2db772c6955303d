"""Sensors that only decide: the inbox sensor requests the months of changed files (as the
catalog files them); the listing sensor takes one OAI-PMH page per tick within a time budget,
writes it to the artifact store and advances its cursor per page."""
import io
import json
import time

import pytest
from dagster import RunRequest, SkipReason, build_sensor_context

from spark_arxiv_assets.core.metadata import MetadataFilter, read_snapshot
from spark_arxiv_assets.io_managers.paper_tables import paper_catalog
from spark_arxiv_assets.resources.arxiv_listing import ArxivListing
from spark_arxiv_assets.sensors import arxiv_listing_sensor, listing_cursor, new_pdfs_sensor
from spark_arxiv_assets.settings import storage_uri
from spark_arxiv_assets.storage.uris import as_upath

from .fakes.oai_server import FakeOai
from .months import LOCAL_MONTH, stamp_local_pdfs


def test_sensor_requests_a_run_only_when_pdfs_change(data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("SPARK_ARXIV_WATCH_DIR", str(tmp_path / "inbox"))
    assert isinstance(new_pdfs_sensor(build_sensor_context()), SkipReason)  # no folder yet
    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / "a.pdf").write_bytes(b"%PDF-1.7 ... %%EOF")
    stamp_local_pdfs(tmp_path / "inbox")
    context = build_sensor_context()
    [request] = new_pdfs_sensor(context)
    assert isinstance(request, RunRequest) and request.partition_key == LOCAL_MONTH
    assert request.run_config["ops"]["arxiv_metadata"]["config"] == {"source": "pdf_folder", "path": str(tmp_path / "inbox")}
    cursor = context.cursor
    assert isinstance(new_pdfs_sensor(build_sensor_context(cursor=cursor)), SkipReason)
    (tmp_path / "inbox" / "hep-th_9901001v2.pdf").write_bytes(b"%PDF-1.7 ... %%EOF")  # old-style id
    again = build_sensor_context(cursor=cursor)
    [request] = new_pdfs_sensor(again)
    assert request.partition_key == "1999-01" and "hep-th_9901001v2.pdf" in json.loads(again.cursor)
    (tmp_path / "inbox" / "a.pdf").unlink()  # a removed file: its month is run again (the paper leaves it)
    [request] = new_pdfs_sensor(build_sensor_context(cursor=again.cursor))
    assert request.partition_key == LOCAL_MONTH


def _tick(cursor: str | None, listing: ArxivListing) -> tuple[list[RunRequest] | SkipReason, str | None]:
    context = build_sensor_context(cursor=cursor, resources={"arxiv_listing": listing})
    result = arxiv_listing_sensor(context)
    return result, context.cursor


def _page_records(location: str) -> list[dict]:
    return [json.loads(line) for line in as_upath(location).read_text().splitlines()]


def test_listing_sensor_takes_one_page_per_tick_and_asks_for_new_papers_only(data_dir):
    with FakeOai() as server:  # a 503 with Retry-After first, then two pages
        listing = ArxivListing(base_url=server.base_url, min_interval_s=0.05, backoff_s=0.05)
        first, cursor = _tick(json.dumps({"from": "2026-11-24", "token": None}), listing)
        assert [q.get("resumptionToken") for q in server.requests] == [None, None]  # the 503, then page 1 only
        assert server.requests[1] == {"verb": "ListRecords", "metadataPrefix": "arXivRaw", "set": "cs",
                                      "from": "2026-11-24"}
        assert listing_cursor(cursor) | {"next_poll": 0} == {"from": "2026-11-24", "token": "page2", "page": 1,
                                                              "next_poll": 0}
        [request] = first
        page_one = request.run_config["ops"]["arxiv_metadata"]["config"]["path"]
        assert request.partition_key == "2026-11" and page_one.startswith(storage_uri())  # in the store, for any run
        assert [r["id"] for r in _page_records(page_one)] == ["2611.00001"]  # the deleted record is left out

        second, cursor = _tick(cursor, listing)
        assert [q.get("resumptionToken") for q in server.requests[2:]] == ["page2"]
        [old_style] = second
        assert old_style.partition_key == "1999-01"
        frame, report = read_snapshot(io.BytesIO(as_upath(old_style.run_config["ops"]["arxiv_metadata"]["config"]["path"])
                                                 .read_bytes()), MetadataFilter())
        assert frame["paper_id"].tolist() == ["hep-th/9901001"] and frame["version"].tolist() == [2]  # arXivRaw versions
        assert frame["authors"].tolist() == ["Ada Lovelace, Charles Babbage"] and not report.bad_lines
        state = listing_cursor(cursor)
        assert state["from"] == "2026-11-25" and state["token"] is None and state["next_poll"] > time.time() + 3600

        waiting, _ = _tick(cursor, listing)  # the listing is complete: the next poll is hours away
        assert isinstance(waiting, SkipReason) and "next poll in" in waiting.skip_message
        assert len(server.requests) == 3

        # once the runs filed them, the same records listed again ask for nothing
        catalog = paper_catalog(storage_uri())
        for location in (page_one, old_style.run_config["ops"]["arxiv_metadata"]["config"]["path"]):
            papers, _ = read_snapshot(io.BytesIO(as_upath(location).read_bytes()), MetadataFilter())
            catalog.upsert(papers, "file")
        again, _ = _tick(json.dumps({"from": "2026-11-24", "token": "page2"}), listing)
        assert isinstance(again, SkipReason) and "none new to the catalog" in again.skip_message


def test_an_expired_token_lists_the_window_again(data_dir):
    with FakeOai(fail_first=False) as server:
        listing = ArxivListing(base_url=server.base_url, min_interval_s=0)
        result, cursor = _tick(json.dumps({"from": "2026-11-24", "token": "expired-token"}), listing)
        assert server.requests == [{"verb": "ListRecords", "resumptionToken": "expired-token"},
                                   {"verb": "ListRecords", "metadataPrefix": "arXivRaw", "set": "cs",
                                    "from": "2026-11-24"}]
        assert [r.partition_key for r in result] == ["2026-11"] and listing_cursor(cursor)["token"] == "page2"


def test_a_tick_ends_within_its_budget_when_arxiv_does_not_answer(data_dir):
    """Dagster cancels a sensor tick after 60 s: a listing that keeps failing gives up within
    the page budget, and the cursor stays where it was, for the next tick."""
    with FakeOai(always_fail=True) as server:
        listing = ArxivListing(base_url=server.base_url, min_interval_s=0, backoff_s=1, max_retries=20,
                               page_budget_s=3)
        cursor = json.dumps({"from": "2026-11-24", "token": "page2", "page": 1, "next_poll": 0})
        context = build_sensor_context(cursor=cursor, resources={"arxiv_listing": listing})
        started = time.monotonic()
        with pytest.raises(RuntimeError, match="out of time"):
            arxiv_listing_sensor(context)
        assert time.monotonic() - started < 6 and len(server.requests) <= 4
        assert context.cursor == cursor


def test_listing_pages_land_in_the_artifact_store_not_on_the_sensor_host(data_dir, s3_store, monkeypatch):
    monkeypatch.setenv("SPARK_ARXIV_STORAGE_URI", f"{s3_store.uri}/team")
    with FakeOai(fail_first=False) as server:
        [request], _ = _tick(json.dumps({"from": "2026-11-24", "token": None}),
                             ArxivListing(base_url=server.base_url, min_interval_s=0))
    location = request.run_config["ops"]["arxiv_metadata"]["config"]["path"]
    assert location.startswith(f"{s3_store.uri}/team/listing/") and _page_records(location)[0]["id"] == "2611.00001"
    assert not (data_dir / "listing").exists()
