"""The README's demo command, `arxiv-assets demo -c CONFIG`, end to end on the bundled sample with the
real offline models (SmolLM2 teacher and student): every asset of every month in one run, then the
produced adapter is loaded and generates.

The default-size graph runs once in the slow suite, from the Dagster UI (test_dagster_ui_slow.py); this
test runs the command's own path (config file, run, summary lines) on a small config, so CI does not pay
for the same ten-minute graph twice."""
import json
from importlib import resources

import pytest
import yaml


def _small_config(tmp_path) -> str:
    """Ten chunks to the teacher, two training steps, three eval-split and two fixed questions."""
    questions = json.loads(resources.files("spark_arxiv_assets").joinpath("sample/eval_questions.json").read_text())
    (tmp_path / "questions.json").write_text(json.dumps(questions[:2]))
    config = {"ops": {
        "qa_pairs": {"config": {"max_chunks": 10}},
        "student_adapter": {"config": {"max_steps": 2, "batch_size": 2}},
        "rag_evaluation": {"config": {"max_eval_split_questions": 3,
                                      "fixed_questions_path": str(tmp_path / "questions.json")}},
    }}
    (tmp_path / "small.yaml").write_text(yaml.safe_dump(config))
    return str(tmp_path / "small.yaml")


@pytest.mark.slow
def test_demo_command_materializes_everything_then_the_adapter_generates(data_dir, tmp_path, monkeypatch, capsys):
    from spark_arxiv_assets.cli import main

    from .adapters import assert_adapter_generates

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))  # created by the demo; runs recorded there
    assert main(["demo", "-c", _small_config(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "materialized rag_evaluation" in printed and "Success in" in printed and "make chat" in printed
    # the evaluation decided which model the chat serves, and the demo says which and why
    decided = json.loads((data_dir / "models" / "final_adapter" / "served.json").read_text())
    assert "Chat model: " in printed and decided["decision"]["reason"] in printed
    assert (tmp_path / "dagster_home").is_dir()
    assert_adapter_generates(data_dir / "models" / "final_adapter" / "current")
    summary = json.loads((data_dir / "evaluation" / "summary.json").read_text())
    assert {row["variant"] for row in summary} >= {"base + RAG", "tuned + RAG"}
    assert (data_dir / "synthetic_arxiv_qa_dataset.json").exists()
