import io
import json

from spark_arxiv_assets.core.metadata import MetadataFilter, read_snapshot, rows_from_pdf_folder


def test_shared_sample_bad_line_duplicate_and_slash_id(corpora):
    with open(corpora / "arxiv-metadata-sample.jsonl", "rb") as stream:
        frame, report = read_snapshot(stream, MetadataFilter())
    assert len(report.bad_lines) == 1 and "JSONDecodeError" in report.bad_lines[0][1]
    assert report.duplicate_ids == ["2501.10120"]
    assert frame["paper_id"].is_unique
    # the first occurrence wins, so the real title is kept
    assert frame.set_index("paper_id").loc["2501.10120", "title"].startswith("PaSa")
    old = frame.set_index("paper_id").loc["hep-th/9901001"]
    assert old["yymm"] == "9901"
    assert "王小明" in frame.set_index("paper_id").loc["2409.00001", "authors"]


def _lines(*records):
    return io.BytesIO("\n".join(json.dumps(r) for r in records).encode())


def test_filters_by_category_prefix_date_and_count():
    records = [
        {"id": "2301.00001", "title": "A", "categories": "cs.CL stat.ML", "update_date": "2023-01-05"},
        {"id": "2301.00002", "title": "B", "categories": "math.CO", "update_date": "2023-01-06"},
        {"id": "2302.00003", "title": "C", "categories": "cs.IR", "update_date": "2023-02-01"},
        {"id": "2303.00004", "title": "D", "categories": "cs.LG", "update_date": "2023-03-01"},
    ]
    frame, report = read_snapshot(_lines(*records), MetadataFilter(categories=["cs"], date_to="2023-02-28"))
    assert list(frame["paper_id"]) == ["2301.00001", "2302.00003"]
    assert report.filtered_out == 2
    frame, _ = read_snapshot(_lines(*records), MetadataFilter(categories=["stat.ML", "cs.LG"]))
    assert list(frame["paper_id"]) == ["2301.00001", "2303.00004"]
    frame, _ = read_snapshot(_lines(*records), MetadataFilter(max_papers=1))
    assert len(frame) == 1


def test_records_without_id_or_title_or_with_bad_dates_are_reported():
    records = [{"title": "no id"}, {"id": "2301.00001", "title": ""}, {"id": "nonsense", "title": "x"},
               {"id": "2301.00002", "title": "ok", "update_date": "not a date"}]
    frame, report = read_snapshot(_lines(*records), MetadataFilter())
    assert frame.empty and len(report.bad_lines) == 4


def test_non_utf8_bytes_do_not_crash():
    data = b'{"id": "2301.00001", "title": "caf\xe9 \xff", "categories": "cs.CL"}\n'
    frame, report = read_snapshot(io.BytesIO(data), MetadataFilter())
    assert len(frame) == 1 and "caf" in frame["title"][0]


def test_pdf_folder_metadata(corpora, tmp_path):
    frame = rows_from_pdf_folder(corpora / "pdfs")
    by_id = frame.set_index("paper_id")
    assert "2501.10120" in by_id.index and by_id.loc["2501.10120", "version"] == 1
    assert "biorxiv-2022.03.19.484946" in by_id.index
    assert frame["local_pdf"].map(lambda p: p.endswith(".pdf")).all()
