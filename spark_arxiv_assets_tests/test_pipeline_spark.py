"""The foundation assets end to end through Spark (local master), on the bundled sample
and on the shared corpora (good and bad PDFs together)."""
import base64
import re
import shutil

import pymupdf
from dagster import load_asset_checks_from_modules, load_assets_from_modules

from spark_arxiv_assets.assets import chunks, index, metadata, pages, pdfs
from spark_arxiv_assets.core.chunk_index import EMBEDDED_TEXT_VERSION
from spark_arxiv_assets.definitions import build_resources

from .months import SAMPLE_MONTH, folder_months, pages as pages_of, run_months, stamp_local_pdfs, table
from .sample_index import sample_chunks

MODULES = [metadata, pdfs, pages, chunks, index]
ASSETS = load_assets_from_modules(MODULES)
CHECKS = load_asset_checks_from_modules(MODULES)


def run(run_config=None, months=(SAMPLE_MONTH, SAMPLE_MONTH)):
    result = run_months([*ASSETS, *CHECKS], *months, resources=build_resources(), run_config=run_config or {})
    assert result.success
    failed = [(e.asset_key.to_user_string(), e.check_name) for e in result.get_asset_check_evaluations() if not e.passed]
    return result, failed


def metadata_of(result, key):
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == key]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def test_sample_corpus_end_to_end_then_incremental(data_dir):
    from pyspark import SparkContext

    result, failed = run()
    assert failed == []
    assert SparkContext._gateway is not None  # no model follows in this run: Spark stays up for the next
    pages_frame = pages_of(result)
    quarantine = table(result, "paper_pages", "quarantined_papers")
    chunk_frame = table(result, "paper_chunks")
    assert set(pages_frame["paper_id"]) == {"0001.00001", "0001.00002", "0001.00003", "0001.00004", "cs/0001999"}
    assert quarantine["paper_id"].tolist() == ["0001.00005"] and "truncated" in quarantine["reason"][0]
    ocr_page = pages_frame[pages_frame["method"] == "ocr"]
    assert ocr_page[["paper_id", "page"]].values.tolist() == [["0001.00003", 2]]
    assert "thousand times slower" in ocr_page["text"].iloc[0]
    # extraction really ran in Spark tasks: several partitions, real task attempt ids
    assert pages_frame["spark_partition"].nunique() >= 2 and pages_frame["spark_task_attempt"].notna().all()
    assert (chunk_frame["n_tokens"] <= 200).all() and chunk_frame["chunk_id"].is_unique
    assert "Sample corpus preprint" not in " ".join(chunk_frame["text"])  # running header removed
    # chunking in Spark tasks (their own tokenizer load) cuts exactly as the in-process code does
    in_process = sample_chunks()
    text_layer = set(in_process["paper_id"]) - {"0001.00003"}  # that paper's page 2 is OCR'd here only
    assert sorted(chunk_frame.loc[chunk_frame["paper_id"].isin(text_layer), "chunk_id"]) == \
        sorted(in_process.loc[in_process["paper_id"].isin(text_layer), "chunk_id"])
    assert metadata_of(result, "paper_pages")["spark_master"] == "local[2]"
    # the sample's figure, cropped at extraction, is shown in the UI as a thumbnail with its caption
    gallery = metadata_of(result, "paper_chunks")["figures_preview"]
    [caption] = chunk_frame.loc[chunk_frame["figure_ref"] != "", "text"]
    assert caption[:60] in gallery
    [thumbnail] = re.findall(r"\(data:image/png;base64,([A-Za-z0-9+/=]+)\)", gallery)
    assert 40 <= pymupdf.Pixmap(base64.b64decode(thumbnail)).width <= 160

    index_meta = metadata_of(result, "chunk_index")
    assert index_meta["vectors"] == len(chunk_frame) and index_meta["index_kind"] == "flat"
    assert index_meta["embedded_text"] == EMBEDDED_TEXT_VERSION

    again, _ = run()
    meta = metadata_of(again, "paper_pages")
    assert meta["papers_reused"] == 5 and meta["papers_extracted_now"] == 0
    assert table(again, "paper_chunks")["chunk_id"].tolist() == chunk_frame["chunk_id"].tolist()
    index_meta = metadata_of(again, "chunk_index")
    assert (index_meta["added"], index_meta["removed"], index_meta["kept"]) == (0, 0, len(chunk_frame))


def test_new_paper_in_folder_is_extracted_and_indexed_alone(data_dir, corpora, tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    for name in ("2305.03393v1-p9.pdf", "layout-multi_page.pdf"):
        shutil.copy(corpora / "pdfs" / name, folder / name)
    stamp_local_pdfs(folder)
    config = {"ops": {"arxiv_metadata": {"config": {"source": "pdf_folder", "path": str(folder)}},
                      "chunk_index": {"config": {"embed_with_spark": True}}}}
    first, failed = run(config, folder_months(folder))
    assert failed == []
    shutil.copy(corpora / "pdfs" / "layout-normal_4pages.pdf", folder / "layout-normal_4pages.pdf")
    stamp_local_pdfs(folder)
    second, failed = run(config, folder_months(folder))
    assert failed == []
    new_chunks = table(second, "paper_chunks")
    new_paper = new_chunks[new_chunks["paper_id"] == "layout-normal_4pages"]
    pages_meta, index_meta = metadata_of(second, "paper_pages"), metadata_of(second, "chunk_index")
    assert pages_meta["papers_reused"] == 2 and pages_meta["papers_extracted_now"] == 1
    assert index_meta["added"] == len(new_paper) > 0 and index_meta["kept"] == len(table(first, "paper_chunks"))
    assert index_meta["embedded_in"] == "spark"


def test_shared_corpora_folder_with_bad_files(data_dir, corpora, tmp_path):
    folder = tmp_path / "mixed"
    shutil.copytree(corpora / "pdfs", folder)
    for bad in (corpora / "bad").iterdir():
        shutil.copy(bad, folder / bad.name)
    stamp_local_pdfs(folder)
    result, failed = run({"ops": {"arxiv_metadata": {"config": {"source": "pdf_folder", "path": str(folder)}}}},
                         folder_months(folder))
    quarantine = table(result, "paper_pages", "quarantined_papers").set_index("paper_id")
    pages_frame = pages_of(result)
    assert set(quarantine.index) == {"corrupted", "empty_page", "encrypted-2501.10120v1",
                                     "truncated-2302.07302v1", "html-served-as-pdf", "zero-bytes"}
    assert "encrypted" in quarantine.loc["encrypted-2501.10120v1", "reason"]
    readable = pages_frame.groupby("paper_id")["n_chars"].sum()
    assert len(readable) == 12 and (readable > 0).all()
    assert "2501.10120" in readable.index and "scanned-2501.10120v1-p1-2" in readable.index
    assert failed == []  # 6 of 18 papers quarantined: under the default 0.5 share


def test_empty_corpus_materializes_empty_artifacts_with_clear_checks(data_dir):
    from spark_arxiv_assets.assets import qa

    selection = load_assets_from_modules(MODULES + [qa])
    checks = load_asset_checks_from_modules(MODULES + [qa])
    from spark_arxiv_assets.resources.teacher import TeacherResource

    result = run_months([*selection, *checks], SAMPLE_MONTH, resources={**build_resources(), "teacher": TeacherResource()},
                        run_config={"ops": {"arxiv_metadata": {"config": {"categories": ["no-such-category"]}}}})
    assert result.success
    assert table(result, "paper_chunks").empty and result.output_for_node("qa_dataset").empty
    failed = {e.check_name: e.severity.value for e in result.get_asset_check_evaluations() if not e.passed}
    assert failed == {"metadata_ids_unique_and_titled": "WARN", "qa_grounded_and_split_by_paper": "ERROR"}
