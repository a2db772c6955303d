"""The paper catalog (a real Delta table) and the per-paper tables: sources add, never erase; a
paper keeps its month; versions only go up; a paper leaves only by an explicit act; two writers
at once both keep their rows."""
from __future__ import annotations

import sys
import textwrap

import pandas as pd

from spark_arxiv_assets.core.catalog import PaperCatalog, folder_source
from spark_arxiv_assets.core.delta_tables import read_rows, replace_papers
from spark_arxiv_assets.core.metadata import METADATA_COLUMNS

from .processes import reaped_process


def _papers(*specs: tuple) -> pd.DataFrame:
    """(paper_id, month, version, title[, local_pdf]) → rows as the metadata sources give them."""
    rows = []
    for spec in specs:
        paper_id, month, version, title = spec[:4]
        rows.append({**{c: "" for c in METADATA_COLUMNS}, "paper_id": paper_id, "month": month, "version": version,
                     "title": title, "local_pdf": spec[4] if len(spec) > 4 else None})
    return pd.DataFrame(rows).astype({"version": "Int64"})


def test_sources_add_to_one_catalog_and_a_paper_keeps_its_month_and_newest_version(tmp_path):
    catalog = PaperCatalog(tmp_path / "catalog")
    report = catalog.upsert(_papers(("2405.00001", "2024-05", 1, "Listed paper")), "listing")
    assert report.added == ["2405.00001"]
    catalog.upsert(_papers(("my-notes", "2024-05", None, "my-notes", "/inbox/my-notes.pdf")), folder_source("/inbox"),
                   authoritative=False)
    # the sample (another source) lists nothing of 2024-05: nothing there is touched
    catalog.upsert(_papers(("0001.00001", "2000-01", 1, "Sample")), "sample")
    assert catalog.papers(["2024-05"])["paper_id"].tolist() == ["2405.00001", "my-notes"]

    # the file is touched in June: it stays in May; a file name is no title for a listed paper
    moved = catalog.upsert(_papers(("my-notes", "2024-06", None, "my-notes", "/inbox/my-notes.pdf")),
                           folder_source("/inbox"), authoritative=False)
    assert moved.kept_month == ["my-notes"] and catalog.months_of(["my-notes"]) == {"my-notes": "2024-05"}
    catalog.upsert(_papers(("2405.00001", "2024-05", 2, "2405.00001v2", "/inbox/2405.00001v2.pdf")),
                   folder_source("/inbox"), authoritative=False)
    newer = catalog.upsert(_papers(("2405.00001", "2024-05", 1, "Listed paper, retitled")), "listing")
    row = catalog.papers(ids=["2405.00001"]).iloc[0]
    assert int(row["version"]) == 2 and row["title"] == "Listed paper, retitled"  # versions never go down
    assert row["sources"] == f"{folder_source('/inbox')}|listing" and newer.new_versions == []
    assert len(catalog.papers()) == 3


def test_a_paper_leaves_only_when_every_source_that_listed_it_lets_go(tmp_path):
    catalog = PaperCatalog(tmp_path / "catalog")
    inbox = folder_source("/inbox")
    catalog.upsert(_papers(("2405.00001", "2024-05", 1, "Both", "/inbox/2405.00001.pdf")), inbox, authoritative=False)
    catalog.upsert(_papers(("2405.00001", "2024-05", 1, "Both")), "listing")
    catalog.upsert(_papers(("mine", "2024-05", None, "mine", "/inbox/mine.pdf")), inbox, authoritative=False)

    report = catalog.remove(["2405.00001", "mine"], "file removed from /inbox", source=inbox)
    assert report.removed == ["mine"] and report.kept_by_other_sources == ["2405.00001"]
    kept = catalog.papers(["2024-05"])
    assert kept["paper_id"].tolist() == ["2405.00001"] and kept["local_pdf"].isna().all()  # arXiv supplies it now
    gone = catalog.papers(["2024-05"], include_removed=True).set_index("paper_id").loc["mine"]
    assert bool(gone["removed"]) and gone["removed_reason"] == "file removed from /inbox"  # the reason stays readable

    back = catalog.upsert(_papers(("mine", "2024-07", None, "mine", "/inbox/mine.pdf")), inbox, authoritative=False)
    assert back.revived == ["mine"] and catalog.months_of(["mine"]) == {"mine": "2024-05"}


WRITER = textwrap.dedent("""
    import sys
    import pandas as pd
    from spark_arxiv_assets.core.catalog import PaperCatalog
    from spark_arxiv_assets.core.delta_tables import replace_papers
    from spark_arxiv_assets.core.metadata import METADATA_COLUMNS

    root, who = sys.argv[1], sys.argv[2]
    catalog = PaperCatalog(f"{root}/catalog")
    for i in range(12):
        row = {**{c: "" for c in METADATA_COLUMNS}, "version": None, "paper_id": f"shared-{i}",
               "month": f"2024-0{1 + (who == 'B')}", "title": who}
        catalog.upsert(pd.DataFrame([row]).astype({"version": "Int64"}), who)
        mine = pd.DataFrame({"paper_id": [f"{who}-{i}"], "month": ["2024-05"], "value": [i]})
        replace_papers(f"{root}/table", mine, ["2024-05"], [f"{who}-{i}"])
    print("done", flush=True)
""")


def test_two_processes_writing_one_month_at_once_both_keep_their_rows(tmp_path):
    """Two writers (separate processes, as two runs are) upsert the same new papers into the
    catalog and their own papers into one month of a table, at the same time: every paper is
    filed once, in one month, and neither writer's rows are lost."""
    replace_papers(tmp_path / "table", pd.DataFrame({"paper_id": ["old"], "month": ["2024-05"], "value": [0]}),
                   ["2024-05"], ["old"])
    logs = [tmp_path / f"{who}.log" for who in "AB"]
    with reaped_process([sys.executable, "-c", WRITER, str(tmp_path), "A"], logs[0]) as first, \
            reaped_process([sys.executable, "-c", WRITER, str(tmp_path), "B"], logs[1]) as second:
        assert first.wait(timeout=240) == 0 and second.wait(timeout=240) == 0, [p.read_text() for p in logs]
    catalog = PaperCatalog(tmp_path / "catalog").papers()
    assert len(catalog) == 12 and catalog["paper_id"].is_unique  # the same paper twice at once: filed once
    assert catalog.groupby("paper_id")["month"].nunique().max() == 1
    table = read_rows(tmp_path / "table")
    assert sorted(table["paper_id"]) == sorted(["old"] + [f"{w}-{i}" for w in "AB" for i in range(12)])


def test_writing_some_papers_replaces_only_theirs_and_a_paper_named_without_rows_loses_them(tmp_path):
    location = tmp_path / "chunks"
    rows = pd.DataFrame({"paper_id": ["a", "a", "b"], "month": ["2024-05"] * 3, "chunk": ["a1", "a2", "b1"]})
    replace_papers(location, rows, ["2024-05"], ["a", "b"])
    replace_papers(location, rows.iloc[:1].assign(chunk="a1'"), ["2024-05"], ["a"])  # a re-chunked: b untouched
    assert read_rows(location).sort_values("chunk")["chunk"].tolist() == ["a1'", "b1"]
    replace_papers(location, rows.iloc[0:0], ["2024-05"], ["b"])  # b quarantined now: its chunks go
    assert read_rows(location)["paper_id"].tolist() == ["a"]
    assert read_rows(location, "month IN ('2023-01')").empty  # a month without rows is empty, not missing
