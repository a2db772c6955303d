"""arXiv downloads against a fake server on 127.0.0.1 with realistic faults."""
import time

import pandas as pd
import pytest

from spark_arxiv_assets.assets.pdfs import arxiv_pdfs
from spark_arxiv_assets.core.arxiv_ids import parse_arxiv_id
from spark_arxiv_assets.core.retry_policy import RateLimiter, backoff_delay, parse_retry_after
from spark_arxiv_assets.definitions import build_resources
from spark_arxiv_assets.resources.arxiv import ArxivClient

from .fakes.arxiv_server import FakeArxiv, tiny_pdf
from .months import run_months, table


def client(server: FakeArxiv, **kw) -> ArxivClient:
    return ArxivClient(base_url=server.base_url, min_interval_s=kw.pop("min_interval_s", 0.05), backoff_s=0.05,
                       max_backoff_s=2.0, timeout_s=5, **kw)


def test_retries_429_and_503_honouring_retry_after(tmp_path):
    with FakeArxiv({"2401.00001": ["429", "503", "ok"]}, retry_after="1") as server:
        result = client(server).download_pdf(parse_arxiv_id("2401.00001"), tmp_path / "a.pdf")
        times = [t for t, _ in server.requests]
    assert result.status == "downloaded" and result.attempts == 3
    assert all(b - a >= 0.95 for a, b in zip(times, times[1:]))  # waited Retry-After: 1 each time


def test_html_error_page_and_truncations_are_failures_not_files(tmp_path):
    scripts = {"2401.00002": ["html"], "2401.00003": ["truncated_body"], "2401.00004": ["no_eof"]}
    with FakeArxiv(scripts) as server:
        arxiv = client(server, max_retries=1)
        results = {k: arxiv.download_pdf(parse_arxiv_id(k), tmp_path / f"{k}.pdf") for k in scripts}
        assert server.hits("2401.00002") == 2  # retried once, then gave up
    assert "HTML" in results["2401.00002"].error
    assert results["2401.00003"].error.startswith("truncated download: the connection closed before the whole body")
    assert "truncated" in results["2401.00004"].error
    assert all(r.status == "failed" for r in results.values())
    assert not list(tmp_path.iterdir())  # nothing half-written under a final name (or at all)


def test_recovers_from_a_truncated_transfer(tmp_path):
    with FakeArxiv({"2401.00005": ["truncated_body", "ok"]}) as server:
        result = client(server).download_pdf(parse_arxiv_id("2401.00005"), tmp_path / "x.pdf")
    assert result.status == "downloaded" and result.attempts == 2


def test_404_is_not_retried(tmp_path):
    with FakeArxiv({}) as server:
        result = client(server).download_pdf(parse_arxiv_id("2401.09999"), tmp_path / "x.pdf")
        assert len(server.requests) == 1
    assert result.status == "failed" and "HTTP 404" in result.error


def test_rate_limit_spaces_requests_and_resume_skips_valid_files(tmp_path):
    ids = ["2401.00011", "2401.00012", "2401.00013"]
    with FakeArxiv({i: ["ok"] for i in ids}) as server:
        arxiv = client(server, min_interval_s=0.3)
        started = time.monotonic()
        first = [arxiv.download_pdf(parse_arxiv_id(i), tmp_path / f"{i}.pdf") for i in ids]
        elapsed = time.monotonic() - started
        again = [arxiv.download_pdf(parse_arxiv_id(i), tmp_path / f"{i}.pdf") for i in ids]
        assert len(server.requests) == 3
    # timed where the requests are made: the server's arrival stamps also carry its threads'
    # scheduling delay, which on a busy 2-core machine shortened one gap to under 0.29 s
    assert elapsed >= 0.6
    assert [r.status for r in first] == ["downloaded"] * 3 and [r.status for r in again] == ["cached"] * 3


def test_politeness_is_three_seconds_and_config_cannot_go_below_it_for_arxiv(tmp_path):
    from spark_arxiv_assets.resources.arxiv_listing import ArxivListing

    assert ArxivClient().min_interval_s >= 3.0 and ArxivListing().min_interval_s >= 3.0
    with pytest.raises(ValueError, match="below the 3 s between requests that arXiv asks"):
        ArxivClient(min_interval_s=0.5).download_pdf(parse_arxiv_id("2401.00001"), tmp_path / "x.pdf")
    with pytest.raises(ValueError, match="below the 3 s"):
        ArxivListing(base_url="https://oaipmh.arxiv.org/oai", min_interval_s=1).list_page("2026-01-01")
    assert not list(tmp_path.iterdir())  # refused before any request was made


def test_retry_after_parsing_and_backoff():
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("soon") is None
    assert backoff_delay(0, 2, 60) == 2 and backoff_delay(3, 2, 60) == 16 and backoff_delay(10, 2, 60) == 60
    assert backoff_delay(0, 2, 60, retry_after=30) == 30


def test_rate_limiter_sleeps_only_what_is_needed():
    now = [0.0]
    slept = []
    limiter = RateLimiter(3.0, clock=lambda: now[0], sleep=lambda s: (slept.append(s), now.__setitem__(0, now[0] + s)))
    limiter.wait()
    now[0] += 1.0
    limiter.wait()
    assert slept == [2.0]


def test_a_pdf_larger_than_the_cap_is_refused_without_holding_it_and_without_retrying(tmp_path):
    big = tiny_pdf("x") + b"%" + b"0" * (3 * 2**20) + b"\n%%EOF\n"  # a valid PDF of 3 MB
    with FakeArxiv({"2401.00031": ["ok"], "2401.00032": ["no_length"]},
                   bodies={"2401.00031": big, "2401.00032": big}) as server:
        arxiv = client(server, max_pdf_mb=1.0)
        announced = arxiv.download_pdf(parse_arxiv_id("2401.00031"), tmp_path / "a.pdf")
        streamed = arxiv.download_pdf(parse_arxiv_id("2401.00032"), tmp_path / "b.pdf")
        assert server.hits("2401.00031") == server.hits("2401.00032") == 1  # no retry will make it smaller
    assert announced.status == streamed.status == "failed"
    assert announced.error.startswith("PDF too large: 3,146,") and "above max_pdf_mb" in announced.error
    assert streamed.error.startswith("PDF too large: more than max_pdf_mb (1,048,576 bytes) sent")
    assert not list(tmp_path.iterdir())
    assert client(server, max_pdf_mb=8.0).max_pdf_mb == 8.0


def test_versions_are_downloaded_to_their_own_files(tmp_path):
    from spark_arxiv_assets.resources.arxiv import download_path

    with FakeArxiv({"2401.00041v1": ["ok"], "2401.00041v2": ["ok"]}) as server:
        arxiv = client(server)
        one = arxiv.download_pdf(parse_arxiv_id("2401.00041v1"), download_path(tmp_path, parse_arxiv_id("2401.00041v1")))
        two = arxiv.download_pdf(parse_arxiv_id("2401.00041v2"), download_path(tmp_path, parse_arxiv_id("2401.00041v2")))
    assert one.path.endswith("2401/2401.00041v1.pdf") and two.path.endswith("2401/2401.00041v2.pdf")
    assert one.status == two.status == "downloaded" and one.sha256 != two.sha256


def test_asset_downloads_with_slash_ids_and_records_failures(data_dir):
    metadata = pd.DataFrame({"paper_id": ["hep-th/9901001", "2401.00021", "2401.00022"], "version": [None, 2, None],
                             "month": ["1999-01", "2024-01", "2024-01"], "local_pdf": [None, None, None]})
    metadata["version"] = metadata["version"].astype("Int64")
    with FakeArxiv({"hep-th/9901001": ["ok"], "2401.00021v2": ["ok"], "2401.00022": ["html"]}) as server:
        from dagster import AssetExecutionContext, asset

        from spark_arxiv_assets.assets.partitions import MONTHS, ONE_RUN
        from spark_arxiv_assets.io_managers.paper_tables import PaperRows

        @asset(name="arxiv_metadata", io_manager_key="paper_table_io_manager", partitions_def=MONTHS,
               backfill_policy=ONE_RUN)
        def fake_metadata(context: AssetExecutionContext) -> PaperRows:
            return PaperRows.of(metadata, metadata["paper_id"])

        stores = {k: v for k, v in build_resources().items() if k in ("storage", "paper_table_io_manager")}
        result = run_months([fake_metadata, arxiv_pdfs], "1999-01", "2024-01",
                            resources={"arxiv": client(server, max_retries=0), **stores})
    assert result.success
    frame = table(result, "arxiv_pdfs").set_index("paper_id")
    assert frame.loc["hep-th/9901001", "month"] == "1999-01"
    assert frame.loc["hep-th/9901001", "pdf_path"].endswith("9901/hep-th_9901001.pdf")
    assert frame.loc["2401.00021", "status"] == "downloaded" and frame.loc["2401.00021", "pdf_path"].endswith("v2.pdf")
    assert frame.loc["2401.00022", "status"] == "failed" and "HTML" in frame.loc["2401.00022", "error"]
