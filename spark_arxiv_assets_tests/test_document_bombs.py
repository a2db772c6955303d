"""Hostile documents (generated here) are quarantined with a reason or processed within the
per-paper limits, inside Spark tasks, while the other papers of the run succeed; a bug in
our own code fails the run instead of being blamed on the papers."""
import os
import shutil
import signal

import pytest

from spark_arxiv_assets.assets import metadata, pages, pdfs
from spark_arxiv_assets.core.bounded_call import BoundedWorker, ChildBug, LimitExceeded, call_bounded
from spark_arxiv_assets.core.page_extraction import ExtractionBug, extract_papers
from spark_arxiv_assets.core.pdf_text import ExtractionOptions
from spark_arxiv_assets.definitions import build_resources

from .document_bombs import write_bombs
from .months import LOCAL_MONTH, run_months, stamp_local_pdfs, table
from .months import pages as pages_of

EXPECTED_REASONS = {
    "two-thousand-pages": "PDF has 2000 pages, above max_pages=500",
    "fifty-megapixel-image": "OCR of 1 image page(s) found nothing",  # rendered within the pixel budget, then read
    "cyclic-page-tree": "corrupt PDF: failed on page 1",
    "deeply-nested": "no text layer, nothing to OCR",
    "zip-named-pdf": "not a PDF: no %PDF- header",
    "ten-mb-text-page": "above max_page_chars=200,000",
}
GOOD = ("2305.03393v1-p9.pdf", "layout-normal_4pages.pdf")


@pytest.fixture(scope="module")
def bomb_folder(tmp_path_factory, corpora):
    folder = tmp_path_factory.mktemp("bombs")
    write_bombs(folder)
    for name in GOOD:
        shutil.copy(corpora / "pdfs" / name, folder / name)
    stamp_local_pdfs(folder)
    return folder


def test_every_bomb_is_quarantined_with_its_reason_inside_spark(data_dir, bomb_folder):
    selection = [metadata.arxiv_metadata, pdfs.arxiv_pdfs, pages.paper_pages]
    result = run_months(selection, LOCAL_MONTH, resources=build_resources(), run_config={"ops": {
        "arxiv_metadata": {"config": {"source": "pdf_folder", "path": str(bomb_folder)}},
        "paper_pages": {"config": {"paper_timeout_s": 120.0}}}})
    assert result.success
    quarantine = table(result, "paper_pages", "quarantined_papers").set_index("paper_id")["reason"]
    assert set(quarantine.index) == set(EXPECTED_REASONS)
    for name, reason in EXPECTED_REASONS.items():
        assert reason in quarantine[name], (name, quarantine[name])
    extracted = pages_of(result)
    assert set(extracted["paper_id"]) == {name.removesuffix(".pdf") for name in GOOD}
    assert extracted.groupby("paper_id")["n_chars"].sum().min() > 500
    # 6 of 8 papers quarantined: the check fails with ERROR severity, not a warning
    [pages_event] = [e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == "paper_pages"]
    assert pages_event.materialization.metadata["per_paper_limits"].value["paper_timeout_s"] == 120.0
    [check] = [c for c in result.get_asset_check_evaluations() if c.check_name == "quarantine_has_reasons"]
    assert not check.passed and check.severity.value == "ERROR"


def test_per_paper_time_limit_quarantines_a_slow_paper_and_the_rest_go_on(corpora):
    items = [("scanned", str(corpora / "pdfs" / "scanned-2501.10120v1-p1-2.pdf"), "a"),  # OCR: seconds per page
             ("good", str(corpora / "pdfs" / GOOD[0]), "b")]
    # the scanned paper takes ≈12 s, the one-page good one ≈0.5 s alone: 4 s leaves a busy 2-core CI room
    rows = list(extract_papers(items, ExtractionOptions(paper_timeout_s=4.0)))
    [quarantined] = [r for r in rows if r["kind"] == "quarantine"]
    assert quarantined["paper_id"] == "scanned" and "timed out after 4 s" in quarantined["reason"]
    assert {r["paper_id"] for r in rows if r["kind"] == "page"} == {"good"}


def _allocate_gigabyte():
    return len(bytearray(2**30))


def _crash():
    import faulthandler

    faulthandler.disable()  # pytest's handler would print a traceback for this intended crash
    os.kill(os.getpid(), signal.SIGSEGV)


def _buggy():
    return None + 1


def test_bounded_call_reports_memory_crash_and_bugs_distinctly():
    with pytest.raises(LimitExceeded, match=r"ran out of memory \(max_memory_mb=64\)"):
        call_bounded(_allocate_gigabyte, (), timeout_s=60, max_memory_mb=64)
    assert call_bounded(_allocate_gigabyte, (), timeout_s=60, max_memory_mb=4096) == 2**30
    with pytest.raises(LimitExceeded, match="extraction process died \\(signal SIGSEGV\\)"):
        call_bounded(_crash, (), timeout_s=60, max_memory_mb=None)
    with pytest.raises(ChildBug, match="TypeError"):
        call_bounded(_buggy, (), timeout_s=60, max_memory_mb=None)


_KEPT: list[bytes] = []


def _keep(megabytes: int) -> int:
    """Allocates and keeps memory in the child (as caches and fragmentation keep it between papers)."""
    _KEPT.append(bytearray(megabytes * 2**20))
    return len(_KEPT)


def test_the_memory_cap_holds_per_paper_not_per_child():
    """Each paper may add max_memory_mb to what the child already holds: what earlier papers left
    behind does not shrink the next paper's allowance."""
    with BoundedWorker(_keep, (), timeout_s=60, max_memory_mb=300, max_calls=16) as worker:
        assert [worker.call(200) for _ in range(3)] == [1, 2, 3]  # 600 MB held by the third paper
        with pytest.raises(LimitExceeded, match="ran out of memory"):
            worker.call(400)  # one paper over its own allowance still fails


def _act(what: str):
    """One call of a long-lived worker: its pid, or a hang, a crash, a memory blow-up."""
    import time

    if what == "hang":
        time.sleep(60)
    elif what == "crash":
        _crash()
    elif what == "allocate":
        _allocate_gigabyte()
    return os.getpid()


def test_one_child_serves_many_papers_and_is_replaced_after_each_failure():
    with BoundedWorker(_act, (), timeout_s=2, max_memory_mb=64, max_calls=3) as worker:
        first = {worker.call("pid") for _ in range(3)}
        assert len(first) == 1 and os.getpid() not in first  # three papers, one child
        assert worker.call("pid") not in first  # recycled after max_calls
        outcomes = []
        for what in ("hang", "crash", "allocate"):
            before = worker.call("pid")
            with pytest.raises(LimitExceeded) as failure:
                worker.call(what)
            after = worker.call("pid")
            outcomes.append((str(failure.value).split(" (")[0], before != after))
    assert outcomes == [("timed out after 2 s", True), ("extraction process died", True),
                        ("ran out of memory", True)]


def test_ocr_failure_has_its_own_reason_and_a_bug_fails_instead_of_quarantining(corpora):
    from spark_arxiv_assets.core.pdf_text import extract_pdf

    class BrokenRuntime:
        """The OCR runtime fails inside its own code, as a bad model file or input makes it."""
        name = "rapidocr"

        def page_text(self, page, dpi):
            import onnxruntime

            onnxruntime.InferenceSession(b"invalid model input")

    class BuggyEngine(BrokenRuntime):
        def page_text(self, page, dpi):
            return self.missing_attribute

    scanned = str(corpora / "pdfs" / "scanned-2501.10120v1-p1-2.pdf")
    result = extract_pdf(scanned, ExtractionOptions(), BrokenRuntime())
    assert result.problem.startswith("OCR failed on page 1 (rapidocr at ") and "INVALID_PROTOBUF" in result.problem
    with pytest.raises(AttributeError):
        extract_pdf(scanned, ExtractionOptions(), BuggyEngine())
    with pytest.raises(ExtractionBug, match="TypeError"):  # a missing path is our bug, not the paper's
        list(extract_papers([("p", None, "x")], ExtractionOptions()))


@pytest.fixture
def sample_table_pdf(tmp_path) -> str:
    """A real paper with a table caption (so the table finder runs) and headings."""
    from spark_arxiv_assets.core.sample_corpus import write_sample_corpus

    _, pdf_dir = write_sample_corpus(tmp_path / "sample")
    return str(pdf_dir / "0001.00001.pdf")


def test_what_pymupdf_raises_quarantines_the_paper_and_what_we_raise_fails_the_run(sample_table_pdf, monkeypatch):
    """Decided by where the exception was raised, not by its type: PyMuPDF's own TypeError in the
    table finder, or any error reading the outline, is the document's; our own IndexError in a
    layout heuristic is a bug."""
    import pymupdf

    from spark_arxiv_assets.core import page_layout
    from spark_arxiv_assets.core.pdf_text import extract_pdf

    assert extract_pdf(sample_table_pdf, ExtractionOptions(ocr_engine="none"), None).problem is None
    with monkeypatch.context() as patch:  # the outline: PyMuPDF raises inside its own code
        patch.setattr(pymupdf.Document, "get_toc", lambda doc, simple=True: doc.load_page(10**6))
        result = extract_pdf(sample_table_pdf, ExtractionOptions(ocr_engine="none"), None)
    assert result.problem.startswith("corrupt PDF: its outline (table of contents) cannot be read (ValueError")
    with monkeypatch.context() as patch:  # the table finder: a TypeError raised inside PyMuPDF
        patch.setattr(pymupdf.Page, "find_tables", lambda page, *a, **k: pymupdf.Point(None, 1))
        result = extract_pdf(sample_table_pdf, ExtractionOptions(ocr_engine="none"), None)
    assert result.problem.startswith("corrupt PDF: layout failed on page ") and "TypeError" in result.problem
    with monkeypatch.context() as patch:  # our heuristic: an IndexError in our code
        patch.setattr(page_layout, "_graphics", lambda page, tables: [][0])
        with pytest.raises(IndexError):
            extract_pdf(sample_table_pdf, ExtractionOptions(ocr_engine="none"), None)


def test_a_bug_inside_a_spark_task_fails_the_job(data_dir):
    from spark_arxiv_assets.spark_tasks.extraction import run_extraction

    context = build_resources()["pyspark"].spark_context
    with pytest.raises(Exception, match="ExtractionBug"):
        run_extraction(context, [("p", None, "x", str(data_dir / "p.parquet"))], ExtractionOptions(), 1, log=lambda _: None)
