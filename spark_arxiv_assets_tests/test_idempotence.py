"""The whole graph materialized twice with the same inputs: the second run extracts no paper,
embeds no chunk and sends no teacher request, and every id and split comes out the same.
Real Spark, MiniLM and TRL training; the teacher is a fake OpenAI-compatible server and the
student a tiny Llama built in code, so both runs take about a minute."""
import numpy as np

from spark_arxiv_assets.definitions import all_assets, all_checks, build_resources
from spark_arxiv_assets.resources.teacher import TeacherResource

from .fakes.openai_server import FakeOpenAI
from .months import SAMPLE_MONTH, run_months, table


def _metadata(result, key: str) -> dict:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == key]
    return {name: value.value for name, value in event.materialization.metadata.items()}


def test_second_identical_run_redoes_nothing_and_changes_no_id(data_dir, tiny_model_dir):
    run_config = {"ops": {
        "student_adapter": {"config": {"base_model": str(tiny_model_dir), "max_steps": 2, "batch_size": 2}},
        "rag_evaluation": {"config": {"max_new_tokens": 4}}}}
    with FakeOpenAI(["ok"]) as teacher:
        resources = {**build_resources(), "teacher": TeacherResource(backend="openai", base_url=teacher.base_url,
                                                                     model="mistral-7b-instruct", max_concurrency=2)}
        first = run_months([*all_assets, *all_checks], SAMPLE_MONTH, resources=resources, run_config=run_config)
        from pyspark import SparkContext
        assert SparkContext._gateway is None  # Spark's JVM left before the models loaded, and stayed away
        assert _metadata(first, "chunk_index")["spark_stopped_before_models"] is True
        requests_after_first = len(teacher.requests)
        second = run_months([*all_assets, *all_checks], SAMPLE_MONTH, resources=resources, run_config=run_config)
        assert first.success and second.success
        assert requests_after_first > 0 and len(teacher.requests) == requests_after_first  # no new teacher call

    for event in first.get_asset_materialization_events():  # every asset says what it cost
        cost = event.materialization.metadata
        assert cost["wall_seconds"].value > 0 and cost["peak_memory_mb"].value > 0, event.asset_key
        assert cost["peak_memory_with_children_mb"].value >= cost["peak_memory_mb"].value, event.asset_key
    pages, index, qa = (_metadata(second, key) for key in ("paper_pages", "chunk_index", "qa_pairs"))
    assert pages["papers_extracted_now"] == 0 and pages["papers_reused"] == pages["papers"] > 0
    assert (index["added"], index["removed"]) == (0, 0) and index["kept"] == index["vectors"] > 0  # nothing re-embedded
    assert qa["requests_generated_now"] == 0 and qa["requests"] > 0

    def ids(result, node, columns):
        return table(result, node)[columns].to_dict("list")

    assert ids(first, "paper_chunks", ["chunk_id", "vector_id"]) == ids(second, "paper_chunks", ["chunk_id", "vector_id"])
    assert ids(first, "qa_dataset", ["chunk_id", "question", "split"]) == \
        ids(second, "qa_dataset", ["chunk_id", "question", "split"])
    first_index, second_index = first.output_for_node("chunk_index"), second.output_for_node("chunk_index")
    assert first_index.chunks[["chunk_id", "vector_id"]].equals(second_index.chunks[["chunk_id", "vector_id"]])
    assert first_index.dense.size == second_index.dense.size == len(second_index.chunks)
    assert np.array_equal(first_index.vectors, second_index.vectors)

    # the evaluation counts no question about a paper the adapter trained on in tuned − base
    evaluation = _metadata(second, "rag_evaluation")
    trained = set(table(second, "qa_dataset").query("split == 'train'")["paper_id"])
    results = second.output_for_node("rag_evaluation")
    assert trained and not set(results.loc[results["held_out"], "paper_id"]) & trained
    assert evaluation["questions_on_training_papers"] > 0 and set(evaluation["training_papers_asked_about"]) <= trained
    [leak_check] = [c for c in second.get_asset_check_evaluations()
                    if c.check_name == "evaluation_gain_excludes_training_papers"]
    assert leak_check.passed
