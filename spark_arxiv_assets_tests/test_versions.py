"""Versions: a newer version in the catalog fetches its own PDF (v2 is not the cached v1), the paper
is extracted again, and its kept chunks cite the new pages and show the new figure crop; the old
page file goes only once the published index no longer shows it. The Kaggle snapshot is
downloaded again once older than its refresh policy."""
from __future__ import annotations

import json
import os
import time

import pymupdf
from dagster import DagsterInstance, load_asset_checks_from_modules, load_assets_from_modules

from spark_arxiv_assets.assets import chunks, index, metadata, pages, pdfs
from spark_arxiv_assets.core.sample_corpus import write_sample_corpus
from spark_arxiv_assets.definitions import build_resources
from spark_arxiv_assets.resources.arxiv import ArxivClient
from spark_arxiv_assets.resources.kaggle import KaggleSnapshot
from spark_arxiv_assets.settings import storage_uri
from spark_arxiv_assets.storage.index_store import load_latest_index
from spark_arxiv_assets.storage.page_store import page_files_root, read_figure

from .fakes.arxiv_server import FakeArxiv
from .months import SAMPLE_MONTH, run_months, stored
from .test_secrets import SNAPSHOT, kaggle_env  # noqa: F401 - the fake Kaggle fixture

PAPER = "0001.00002"  # the sample paper with a figure
MODULES = [metadata, pdfs, pages, chunks, index]
CAPTION = "Held-out token F1 of rank 16 adapters against training steps"


def _with_cover_page(pdf: bytes) -> bytes:
    """v2 of a paper: the same pages after a new first page, so every page number moves by one."""
    doc = pymupdf.open("pdf", pdf)
    doc.insert_page(0, text="Erratum and cover letter for the second version of this preprint.")
    return doc.tobytes()


def _snapshot(tmp_path, record: dict, versions: list[str]):
    path = tmp_path / f"snapshot-{len(versions)}.jsonl"
    path.write_text(json.dumps({**record, "versions": [{"version": v, "created": ""} for v in versions]}) + "\n")
    return path


def _figure_hit(index):
    hits = index.chunks[index.chunks["text"].str.contains(CAPTION, regex=False)]
    assert len(hits) == 1
    return hits.iloc[0]


def test_a_new_version_is_fetched_and_its_chunks_cite_the_new_pages_and_crop(data_dir, tmp_path):
    snapshot, sample_pdfs = write_sample_corpus(tmp_path / "sample")
    record = next(json.loads(line) for line in snapshot.read_text().splitlines() if json.loads(line)["id"] == PAPER)
    v1 = (sample_pdfs / f"{PAPER}.pdf").read_bytes()
    selection = [*load_assets_from_modules(MODULES), *load_asset_checks_from_modules(MODULES)]
    instance = DagsterInstance.ephemeral()
    with FakeArxiv({f"{PAPER}v1": ["ok"], f"{PAPER}v2": ["ok"]},
                   bodies={f"{PAPER}v1": v1, f"{PAPER}v2": _with_cover_page(v1)}) as arxiv:
        resources = {**build_resources(), "arxiv": ArxivClient(base_url=arxiv.base_url, min_interval_s=0)}

        def run(versions: list[str]):
            result = run_months(selection, SAMPLE_MONTH, resources=resources, instance=instance, run_config={
                "ops": {"arxiv_metadata": {"config": {"source": "file", "path": str(_snapshot(tmp_path, record, versions))}},
                        "paper_pages": {"config": {"ocr_engine": "none"}}}})
            assert result.success and all(e.passed for e in result.get_asset_check_evaluations())
            return result

        run(["v1"])
        before = _figure_hit(load_latest_index(storage_uri()))
        first_file = before["figure_ref"].partition("#")[0]
        run(["v1", "v2"])  # the catalog learns of v2
        assert arxiv.hits(f"{PAPER}v1") == 1 and arxiv.hits(f"{PAPER}v2") == 1  # v2 fetched, not the cached v1
        after = _figure_hit(load_latest_index(storage_uri()))
        assert after["chunk_id"] == before["chunk_id"]  # the same text: its vector was kept...
        assert after["page_start"] == before["page_start"] + 1  # ...and its citation names the page it is on now
        assert after["figure_ref"].partition("#")[0] != first_file
        assert read_figure(page_files_root(storage_uri()), after["figure_ref"])  # the thumbnail is the new crop
        assert stored("arxiv_pdfs", [SAMPLE_MONTH]).set_index("paper_id").loc[PAPER, "version"] == 2

        # the v1 page file was kept while the published index showed its figure; the next run prunes it
        assert (page_files_root(storage_uri()) / first_file).exists()
        run(["v1", "v2"])
    assert not (page_files_root(storage_uri()) / first_file).exists()
    assert read_figure(page_files_root(storage_uri()), after["figure_ref"])


def test_the_kaggle_snapshot_is_downloaded_again_once_older_than_its_policy(kaggle_env, tmp_path):  # noqa: F811
    target = tmp_path / "kaggle" / SNAPSHOT
    target.parent.mkdir()
    target.write_text("an old snapshot\n")
    snapshot = KaggleSnapshot(refresh_after_days=7)
    assert snapshot.download(tmp_path / "kaggle").read_text() == "an old snapshot\n"  # fresh enough: kept
    assert kaggle_env.requests == []
    stale = time.time() - 8 * 86400
    os.utime(target, (stale, stale))
    assert snapshot.download(tmp_path / "kaggle").read_text() != "an old snapshot\n"  # a week old: fetched again
    assert ("POST", "/v1/datasets.DatasetApiService/DownloadDataset") in kaggle_env.requests
    requests = len(kaggle_env.requests)
    snapshot.download(tmp_path / "kaggle")
    assert len(kaggle_env.requests) == requests  # the new copy counts its age from its download
