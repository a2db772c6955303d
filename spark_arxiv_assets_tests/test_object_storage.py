"""Artifacts by URI: the graph up to the index materialized into S3 (a real S3 API on 127.0.0.1),
PDFs read by Spark tasks from the bucket, incremental runs that list the bucket, and the chat
engine loading (and reloading) the index from there. Nothing lands on the local data dir."""
from dagster import load_asset_checks_from_modules, load_assets_from_modules

from spark_arxiv_assets.app.engine import ChatEngine
from spark_arxiv_assets.assets import chunks, index, metadata, pages, pdfs
from spark_arxiv_assets.definitions import build_resources
from spark_arxiv_assets.storage.uris import as_upath

from .months import SAMPLE_MONTH, run_months, table
from .months import pages as pages_of

MODULES = [metadata, pdfs, pages, chunks, index]


def _meta(result, key: str) -> dict:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == key]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def test_graph_up_to_the_index_lives_in_s3_and_the_chat_reads_it_from_there(data_dir, s3_store, monkeypatch):
    uri = f"{s3_store.uri}/team-a"
    monkeypatch.setenv("SPARK_ARXIV_STORAGE_URI", uri)  # what a user sets; build_resources reads it
    selection = [*load_assets_from_modules(MODULES), *load_asset_checks_from_modules(MODULES)]
    # no credentials in run config: the executors inherit the driver's AWS_* variables
    first = run_months(selection, SAMPLE_MONTH, resources=build_resources())
    assert first.success
    assert [e.check_name for e in first.get_asset_check_evaluations() if not e.passed] == []
    stored = {p.removeprefix(as_upath(uri).path + "/") for p in as_upath(uri).fs.find(as_upath(uri).path)}
    assert any(p.startswith(f"catalog/papers/month={SAMPLE_MONTH}/") for p in stored)  # Delta tables in the bucket
    assert any(p.startswith(f"tables/paper_chunks/month={SAMPLE_MONTH}/") for p in stored)
    assert "tables/paper_chunks/_delta_log/00000000000000000000.json" in stored
    assert "assets/chunk_index/CURRENT" in stored
    page_files = {p for p in stored if p.startswith(f"assets/paper_pages/files/{SAMPLE_MONTH}/")}
    assert len(page_files) == 5
    # the executors read the PDFs from the bucket, not from this machine's disk
    pdf_paths = table(first, "arxiv_pdfs").query("status != 'failed'")["pdf_path"]
    assert len(pdf_paths) == 5 and all(p.startswith(f"{uri}/pdfs/{SAMPLE_MONTH}/") for p in pdf_paths)
    assert _meta(first, "arxiv_pdfs")["uploaded_to_store"] == 5 and _meta(first, "arxiv_pdfs")["stored_in"] == uri
    assert _meta(first, "paper_chunks")["chunked_on"] == "local[2]"  # chunking ran in Spark tasks
    assert not (data_dir / "assets").exists() and not (data_dir / "models" / "final_adapter").exists()
    assert pages_of(first)["paper_id"].nunique() == 5

    engine = ChatEngine(max_new_tokens=8)  # reads SPARK_ARXIV_STORAGE_URI, as `arxiv-assets chat` does
    first_version = engine.versions.index
    hits = engine.retrieve("What value of k did reciprocal rank fusion use?", k=3, mode="hybrid")
    assert hits and any("reciprocal rank fusion" in h.text.lower() for h in hits)

    # a second run finds every paper already extracted by listing the bucket, and publishes a new index
    second = run_months(selection, SAMPLE_MONTH, resources=build_resources())
    assert second.success
    assert _meta(second, "arxiv_pdfs")["uploaded_to_store"] == 0  # same content: not uploaded again
    assert _meta(second, "paper_pages")["papers_extracted_now"] == 0
    assert _meta(second, "paper_pages")["papers_reused"] == 5
    assert _meta(second, "chunk_index")["added"] == 0
    assert engine.refresh() and engine.versions.index != first_version
    assert engine.retrieve("reciprocal rank fusion", k=1, mode="hybrid")
