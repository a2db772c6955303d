"""Shared fixtures: an isolated data dir per test, the shared corpora, the real MiniLM encoder,
and a session-end check that no process started by the suite is still running. With
SPARK_ARXIV_NO_SKIPS=1 (set by .ci/run) a skipped test fails the session: a gate that skips
what it gates (no Chromium, no shared corpora) is not a gate."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from .processes import command_line, descendants, is_alive, reap_tree

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CORPORA = PROJECT_ROOT.parent / "shared" / "corpora"
TEST_OUTPUT = PROJECT_ROOT / "test-output"
# Set before any test module is imported: `definitions.defs` builds its Spark resource at import,
# and the first session started wins for the whole run (getOrCreate), whatever the test order.
os.environ.setdefault("SPARK_ARXIV_SPARK_MASTER", "local[2]")


@pytest.fixture(scope="session", autouse=True)
def _shared_model_cache(tmp_path_factory):
    """Unpacked model files are reused across tests; each test still gets its own data dir."""
    os.environ.setdefault("SPARK_ARXIV_MODELS_DIR", str(tmp_path_factory.mktemp("models")))
    yield


def _stop_local_spark() -> None:
    """Stops the in-process SparkContext and the JVM that py4j started for it (which would
    otherwise live until the interpreter exits)."""
    import sys

    if "pyspark" not in sys.modules:
        return
    from pyspark import SparkContext

    if SparkContext._active_spark_context is not None:
        SparkContext._active_spark_context.stop()
    gateway = SparkContext._gateway
    if gateway is not None:
        gateway.shutdown()
        reap_tree(gateway.proc.pid, direct=gateway.proc)
        SparkContext._gateway = SparkContext._jvm = None


@pytest.fixture(scope="session", autouse=True)
def _no_process_left_behind():
    """Fails the run, by pid and command line, if anything the suite started outlives it."""
    yield
    _stop_local_spark()
    left = sorted(pid for pid in descendants(os.getpid()) if is_alive(pid))
    if left:
        report = "; ".join(f"{pid} {command_line(pid)}" for pid in left)
        for pid in left:
            reap_tree(pid)
        pytest.fail(f"processes left running by the test suite: {report}")


def pytest_sessionfinish(session, exitstatus) -> None:
    skipped = [r for r in session.config.pluginmanager.get_plugin("terminalreporter").stats.get("skipped", [])]
    if skipped and os.environ.get("SPARK_ARXIV_NO_SKIPS") == "1" and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    skipped = terminalreporter.stats.get("skipped", [])
    if skipped and os.environ.get("SPARK_ARXIV_NO_SKIPS") == "1":
        terminalreporter.write_line(f"FAILED: {len(skipped)} test(s) skipped, and this run allows none "
                                    "(SPARK_ARXIV_NO_SKIPS=1); the reasons are listed above (-rs)", red=True)


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "data"
    monkeypatch.setenv("SPARK_ARXIV_DATA_DIR", str(path))
    return path


@dataclass
class S3Store:
    uri: str  # s3://bucket
    env: dict[str, str]  # what a client needs to reach it (Spark executors inherit it from the driver)


@pytest.fixture
def s3_store(tmp_path, monkeypatch) -> S3Store:
    """A bucket on a real S3 API (moto, its own process, reaped) on 127.0.0.1; this process's
    clients point at it. Spark sessions are stopped around it: executors keep the environment
    they were started with."""
    from .fakes.s3_server import forget_s3_clients, make_bucket, moto_s3
    from .spark_cluster import stop_active_spark_session

    stop_active_spark_session()
    with moto_s3(tmp_path / "moto.log") as env:
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        forget_s3_clients()
        try:
            yield S3Store(make_bucket("spark-arxiv-test"), env)
        finally:
            stop_active_spark_session()
            forget_s3_clients()


@pytest.fixture(scope="session")
def corpora() -> Path:
    if not CORPORA.is_dir():
        pytest.skip(f"shared corpora not found at {CORPORA}")
    return CORPORA


@pytest.fixture(scope="session")
def test_output() -> Path:
    TEST_OUTPUT.mkdir(exist_ok=True)
    return TEST_OUTPUT


class CountingEncoder:
    """The real MiniLM model, recording which texts it was asked to embed."""

    def __init__(self):
        from spark_arxiv_assets.core.embedding_model import load_sentence_transformer

        self.model = load_sentence_transformer("all-MiniLM-L6-v2", "cpu")
        self.seen: list[str] = []

    def __call__(self, texts):
        from spark_arxiv_assets.core.embeddings import encode_texts

        self.seen.extend(texts)
        return encode_texts(self.model, texts)


@pytest.fixture(scope="module")
def encoder() -> CountingEncoder:
    return CountingEncoder()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A 2-layer Llama with SmolLM2's real tokenizer and chat template."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from spark_arxiv_assets.core.causal_lm import resolve_causal_lm

    tokenizer = AutoTokenizer.from_pretrained(resolve_causal_lm("SmolLM2-135M-Instruct"))
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
                         tie_word_embeddings=True, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny-llama")
    LlamaForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
