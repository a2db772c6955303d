"""Shared fixtures: an isolated data dir per test, the shared corpora, the real MiniLM encoder."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CORPORA = PROJECT_ROOT.parent / "shared" / "corpora"
TEST_OUTPUT = PROJECT_ROOT / "test-output"


@pytest.fixture(scope="session", autouse=True)
def _shared_model_cache(tmp_path_factory):
    """Unpacked model files are reused across tests; each test still gets its own data dir."""
    os.environ.setdefault("SPARK_ARXIV_MODELS_DIR", str(tmp_path_factory.mktemp("models")))
    os.environ.setdefault("SPARK_ARXIV_SPARK_MASTER", "local[2]")
    yield


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "data"
    monkeypatch.setenv("SPARK_ARXIV_DATA_DIR", str(path))
    return path


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
        from spark_arxiv_assets.resources.models import load_sentence_transformer

        self.model = load_sentence_transformer("all-MiniLM-L6-v2", "cpu")
        self.seen: list[str] = []

    def __call__(self, texts):
        from spark_arxiv_assets.core.embeddings import encode_texts

        self.seen.extend(texts)
        return encode_texts(self.model, texts)


@pytest.fixture(scope="module")
def encoder() -> CountingEncoder:
    return CountingEncoder()
