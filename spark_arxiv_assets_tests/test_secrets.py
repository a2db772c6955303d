"""Credentials come only from the environment and never leave it: a recognizable fake teacher
key and Kaggle key are planted, the real-data path runs against fakes of Kaggle, arXiv and an
OpenAI-compatible teacher (including a server that echoes the key back in an error), and the
keys are looked for in run logs, event metadata, failures and every file the run wrote."""
import pytest
from dagster import DagsterInstance, EnvVar, serialize_value

from spark_arxiv_assets.assets import chunks, index, metadata, pages, pdfs, qa
from spark_arxiv_assets.definitions import build_resources
from spark_arxiv_assets.resources.arxiv import ArxivClient
from spark_arxiv_assets.resources.teacher import TeacherResource

from .fakes.arxiv_server import FakeArxiv
from .fakes.kaggle_server import FakeKaggle
from .fakes.openai_server import FakeOpenAI
from .months import run_months

TEACHER_KEY = "sk-planted-3c1f9e7a5d-teacher"
KAGGLE_KEY = "kgl-planted-5b2d8e4f91-kaggle"
WRONG_KAGGLE_KEY = "kgl-planted-0000wrong00-kaggle"
SNAPSHOT = "arxiv-metadata-oai-snapshot.json"


@pytest.fixture
def kaggle_env(monkeypatch, tmp_path, corpora):
    """Kaggle credentials in the environment only, and the kaggle client pointed at a fake."""
    from kagglesdk.kaggle_env import KaggleEnv, _env_to_endpoint

    monkeypatch.setenv("KAGGLE_USERNAME", "alice")
    monkeypatch.setenv("KAGGLE_KEY", KAGGLE_KEY)
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path / "kaggle-config"))  # no ~/.kaggle of the machine's
    with FakeKaggle("alice", KAGGLE_KEY, SNAPSHOT, (corpora / "arxiv-metadata-sample.jsonl").read_bytes()) as server:
        monkeypatch.setitem(_env_to_endpoint, KaggleEnv.PROD, server.base_url)
        yield server


def _everything_said(instance: DagsterInstance, run_id: str) -> str:
    return "\n".join(serialize_value(entry) for entry in instance.all_logs(run_id))


def _files_containing(root, secrets: tuple[str, ...]) -> list[str]:
    return [str(path) for path in root.rglob("*") if path.is_file()
            and any(secret.encode() in path.read_bytes() for secret in secrets)]


def test_planted_keys_never_reach_logs_metadata_errors_or_files(data_dir, kaggle_env, corpora, monkeypatch, capfd):
    monkeypatch.setenv("TEACHER_API_KEY", TEACHER_KEY)
    secrets = (TEACHER_KEY, KAGGLE_KEY)
    pdf = (corpora / "pdfs" / "2501.10120v1.pdf").read_bytes()
    instance = DagsterInstance.ephemeral()
    with FakeArxiv({"2501.10120v1": ["ok"]}, bodies={"2501.10120v1": pdf}) as arxiv, \
            FakeOpenAI(["echo_401", "ok"]) as teacher:
        resources = {**build_resources(), "arxiv": ArxivClient(base_url=arxiv.base_url, min_interval_s=0, backoff_s=0.01),
                     "teacher": TeacherResource(backend="openai", base_url=teacher.base_url, model="mistral-7b-instruct",
                                                api_key=EnvVar("TEACHER_API_KEY"), max_concurrency=1, max_retries=0)}
        result = run_months([metadata.arxiv_metadata, pdfs.arxiv_pdfs, pages.paper_pages, chunks.paper_chunks,
                             index.chunk_index, qa.qa_pairs, qa.qa_dataset], "2025-01", resources=resources, instance=instance, run_config={
            "ops": {"arxiv_metadata": {"config": {"source": "kaggle", "categories": ["cs.IR"]}},
                    "paper_pages": {"config": {"ocr_engine": "none"}},
                    "qa_pairs": {"config": {"max_chunks": 4}},
                    "qa_dataset": {"config": {"max_source_rank": None}}}})
        assert result.success
        # the keys were really used: the fakes saw them, and one teacher call failed echoing it
        assert teacher.requests[0]["auth"] == f"Bearer {TEACHER_KEY}" and len(teacher.requests) >= 2
        assert ("POST", "/v1/datasets.DatasetApiService/DownloadDataset") in kaggle_env.requests
    assert (data_dir / "kaggle" / SNAPSHOT).exists() and not result.output_for_node("qa_dataset").empty
    from spark_arxiv_assets.core.qa_cache import ReplyCache

    errors = ReplyCache(data_dir / "qa" / "teacher_cache").frame["error"].dropna().tolist()
    assert errors and "Incorrect API key provided: Bearer ***" in errors[0]

    # a failing run: Kaggle refuses a wrong key; the failure is reported without the key
    monkeypatch.setenv("KAGGLE_KEY", WRONG_KAGGLE_KEY)
    (data_dir / "kaggle" / SNAPSHOT).unlink()
    failed = run_months([metadata.arxiv_metadata], "2025-01", resources=build_resources(), instance=instance,
                        raise_on_error=False, run_config={"ops": {"arxiv_metadata": {"config": {"source": "kaggle"}}}})
    assert not failed.success
    failure = failed.get_step_failure_events()[0].step_failure_data.error
    assert "Kaggle refused to send Cornell-University/arxiv" in failure.to_string() and "HTTP 401" in failure.to_string()

    secrets += (WRONG_KAGGLE_KEY,)
    output = capfd.readouterr()
    for run in (result, failed):
        said = _everything_said(instance, run.run_id)
        assert not [s for s in secrets if s in said], "a key reached the event log (logs, metadata or failure)"
    assert not [s for s in secrets if s in output.out + output.err], "a key reached stdout/stderr"
    assert _files_containing(data_dir, secrets) == []


def test_executor_credentials_come_from_the_drivers_environment_never_from_dagster_config(monkeypatch):
    """The Spark resource names the variables executors need; their values reach the session
    (spark.executorEnv.*) when it starts, never the resource or run config the UI shows."""
    import json

    from .spark_cluster import stop_active_spark_session

    planted = "aws-planted-7e1d2c9b40-secret"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", planted)
    resource = build_resources()["pyspark"]
    assert planted not in json.dumps(resource.spark_config) and planted not in json.dumps(resource.model_dump())
    assert "AWS_SECRET_ACCESS_KEY" in resource.executor_env_from_driver
    stop_active_spark_session()  # getOrCreate would hand back a session started before the variable was set
    try:
        assert resource.spark_context.getConf().get("spark.executorEnv.AWS_SECRET_ACCESS_KEY") == planted
    finally:
        stop_active_spark_session()
