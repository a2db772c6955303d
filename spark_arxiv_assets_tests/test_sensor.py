import json

from dagster import RunRequest, SkipReason, build_sensor_context

from spark_arxiv_assets.sensors import new_pdfs_sensor


def test_sensor_requests_a_run_only_when_pdfs_change(tmp_path, monkeypatch):
    monkeypatch.setenv("SPARK_ARXIV_WATCH_DIR", str(tmp_path / "inbox"))
    assert isinstance(new_pdfs_sensor(build_sensor_context()), SkipReason)  # no folder yet
    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / "a.pdf").write_bytes(b"%PDF-1.7 ... %%EOF")
    context = build_sensor_context()
    request = new_pdfs_sensor(context)
    assert isinstance(request, RunRequest)
    assert request.run_config["ops"]["arxiv_metadata"]["config"] == {"source": "pdf_folder", "path": str(tmp_path / "inbox")}
    cursor = context.cursor
    assert isinstance(new_pdfs_sensor(build_sensor_context(cursor=cursor)), SkipReason)
    (tmp_path / "inbox" / "b.pdf").write_bytes(b"%PDF-1.7 ... %%EOF")
    again = build_sensor_context(cursor=cursor)
    assert isinstance(new_pdfs_sensor(again), RunRequest) and "b.pdf" in json.loads(again.cursor)
