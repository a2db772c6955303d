"""The hand-written answer questions (benchmarks/answer_questions.json) are a usable evaluation set, and
their test part stays as it was drawn: changing a test question or answer after seeing results would
turn it into a development set."""
from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

QUESTIONS = Path(__file__).resolve().parents[1] / "benchmarks" / "answer_questions.json"
# sha256 of the test part as drawn on 2026-12-07 (seed 20261207, a third of each paper's questions)
FROZEN_TEST_PART = "537acaf620a7983b2e1d1aa684caf045ebc9cf1625f1c84d88d3c99ac322c127"


def test_the_set_is_large_enough_and_covers_tables_and_lists(corpora):
    rows = json.loads(QUESTIONS.read_text())
    assert len(rows) >= 60
    assert {row["split"] for row in rows} == {"dev", "test"}
    kinds = Counter((row["kind"], row["split"]) for row in rows)
    assert all(kinds[(kind, split)] > 0 for kind in ("text", "table", "list") for split in ("dev", "test"))
    assert all(row["question"].strip() and row["answer"].strip() and row["pages"] for row in rows)
    pdfs = [p.stem for p in (corpora / "pdfs").glob("*.pdf")]
    assert all(any(stem.startswith(row["paper_id"]) for stem in pdfs) for row in rows)
    assert len({row["question"] for row in rows}) == len(rows)


def test_the_test_part_is_frozen():
    rows = json.loads(QUESTIONS.read_text())
    test_part = [row for row in rows if row["split"] == "test"]
    digest = hashlib.sha256(json.dumps(test_part, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    assert digest == FROZEN_TEST_PART, "the test part changed: it is no longer a held-out set"
