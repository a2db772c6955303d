import json

from dagster import RunRequest, SkipReason, build_sensor_context

from spark_arxiv_assets.sensors import new_pdfs_sensor

from .months import LOCAL_MONTH, stamp_local_pdfs


def test_sensor_requests_a_run_only_when_pdfs_change(tmp_path, monkeypatch):
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


def test_arxiv_listing_sensor_pages_retries_and_feeds_the_metadata_parser(data_dir):
    import io

    from spark_arxiv_assets.core.metadata import MetadataFilter, read_snapshot
    from spark_arxiv_assets.resources.arxiv_listing import ArxivListing
    from spark_arxiv_assets.sensors import arxiv_listing_sensor, listing_file

    from .fakes.oai_server import FakeOai

    with FakeOai() as server:
        listing = ArxivListing(base_url=server.base_url, min_interval_s=0.05, backoff_s=0.05)
        context = build_sensor_context(cursor="2026-11-24", resources={"arxiv_listing": listing})
        requests = arxiv_listing_sensor(context)
        assert [q.get("resumptionToken") for q in server.requests] == [None, None, "page2"]  # 503, page 1, page 2
        assert server.requests[1]["from"] == "2026-11-24" and server.requests[1]["metadataPrefix"] == "arXiv"
        assert json.loads(context.cursor) == {"from": "2026-11-25", "token": None}
        assert [r.partition_key for r in requests] == ["1999-01", "2026-11"]  # the new papers' months only
        assert requests[0].run_config["ops"]["arxiv_pdfs"]["config"] == {"source": "arxiv"}
        again = arxiv_listing_sensor(build_sensor_context(cursor=context.cursor, resources={"arxiv_listing": listing}))
        assert isinstance(again, SkipReason)  # the same day is listed again, but nothing new
    frame, report = read_snapshot(io.BytesIO(listing_file().read_bytes()), MetadataFilter())
    assert frame["paper_id"].tolist() == ["2611.00001", "hep-th/9901001"] and not report.bad_lines
    first = frame.set_index("paper_id").loc["2611.00001"]
    assert first["authors"] == "Ada Lovelace, Charles Babbage" and first["abstract"] == "An abstract over two lines."


def test_listing_past_the_page_cap_resumes_from_its_token_and_never_skips_records(data_dir):
    """With one page per tick, the cursor keeps the window's start and the resumption token
    until the listing is complete; an expired token lists the window again."""
    from spark_arxiv_assets.resources.arxiv_listing import ArxivListing
    from spark_arxiv_assets.sensors import arxiv_listing_sensor, listing_file

    from .fakes.oai_server import FakeOai

    def tick(cursor, listing):
        context = build_sensor_context(cursor=cursor, resources={"arxiv_listing": listing})
        return arxiv_listing_sensor(context), context.cursor

    with FakeOai(fail_first=False) as server:
        listing = ArxivListing(base_url=server.base_url, min_interval_s=0, max_pages=1)
        first, cursor = tick("2026-11-24", listing)
        assert isinstance(first[0], RunRequest) and json.loads(cursor) == {"from": "2026-11-24", "token": "page2"}
        second, cursor = tick(cursor, listing)
        assert [q.get("resumptionToken") for q in server.requests] == [None, "page2"]
        assert isinstance(second[0], RunRequest) and json.loads(cursor) == {"from": "2026-11-25", "token": None}
        ids = [json.loads(line)["id"] for line in listing_file().read_text().splitlines()]
        assert ids == ["2611.00001", "hep-th/9901001"]

        expired, cursor = tick(json.dumps({"from": "2026-11-24", "token": "expired-token"}), listing)
        assert server.requests[-2:] == [{"verb": "ListRecords", "resumptionToken": "expired-token"},
                                        {"verb": "ListRecords", "metadataPrefix": "arXiv", "set": "cs",
                                         "from": "2026-11-24"}]
        assert isinstance(expired, SkipReason) and json.loads(cursor)["token"] == "page2"  # known ids, listing goes on
