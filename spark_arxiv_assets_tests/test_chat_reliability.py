"""The chat cannot hang or lie: a client that goes away mid-answer and an exception raised inside
`generate` are each followed by a correct answer from the model the status line names; one
client's rate limit does not lock the others out. Real SmolLM2 with a real (random) LoRA
adapter, the sample index, Gradio through gradio_client."""
from __future__ import annotations

import os
import time

import pytest

from spark_arxiv_assets.core.chat_guard import SlidingWindowLimiter

from .fakes.loopback import free_port
from .sample_index import publish_index, sample_chunks

QUESTION = "What value of k did reciprocal rank fusion use?"


def _publish_changing_adapter(work) -> str:
    """A LoRA adapter with random weights (so its answers differ from its base's), published as
    the student_adapter IO manager publishes one and promoted as an evaluation would."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from spark_arxiv_assets.core.causal_lm import resolve_causal_lm, write_base_model_file
    from spark_arxiv_assets.settings import storage_uri
    from spark_arxiv_assets.storage.adapter_store import adapter_root, record_served
    from spark_arxiv_assets.storage.atomic import VersionedDir

    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(resolve_causal_lm("SmolLM2-135M-Instruct"))
    config = LoraConfig(r=8, lora_alpha=64, target_modules=["q_proj", "v_proj"], init_lora_weights=False,
                        task_type="CAUSAL_LM")
    get_peft_model(base, config).save_pretrained(work)
    write_base_model_file(work, "SmolLM2-135M-Instruct")
    version = VersionedDir(adapter_root(storage_uri())).write(
        lambda d: [(d / f.name).write_bytes(f.read_bytes()) for f in work.iterdir()]).name
    record_served(storage_uri(), version, {"promoted": True, "reason": "promoted by the test"})
    return version


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    from spark_arxiv_assets.app.engine import ChatEngine

    old = os.environ.get("SPARK_ARXIV_DATA_DIR")
    os.environ["SPARK_ARXIV_DATA_DIR"] = str(tmp_path_factory.mktemp("chat-reliability"))
    try:
        publish_index(sample_chunks())
        _publish_changing_adapter(tmp_path_factory.mktemp("adapter"))
        yield ChatEngine(max_new_tokens=24)
    finally:
        if old is None:
            os.environ.pop("SPARK_ARXIV_DATA_DIR", None)
        else:
            os.environ["SPARK_ARXIV_DATA_DIR"] = old


@pytest.fixture
def app_url(engine):
    from spark_arxiv_assets.app.ui import build_app, serve

    port = free_port()
    app = serve(build_app(engine, SlidingWindowLimiter(max_requests=2, window_s=600)), port=port, block=False)
    yield f"http://127.0.0.1:{port}/"
    app.close()


def _answer(url: str, choice: str = "fine-tuned", client=None, timeout_s: float = 120) -> tuple[str, str]:
    """Asks through the API; a request that never ends fails the test instead of hanging it."""
    from gradio_client import Client

    client = client or Client(url, verbose=False)
    job = client.submit(QUESTION, [], 3, "hybrid", 0.0, choice, api_name="/ask")
    history, _, status = job.result(timeout=timeout_s)
    content = history[-1]["content"]
    return (content if isinstance(content, str) else " ".join(p.get("text", "") for p in content)), status


def test_a_client_gone_mid_answer_leaves_the_next_answer_to_the_model_it_names(engine):
    hits = engine.retrieve(QUESTION, 3, "hybrid")
    tuned = list(engine.stream_answer(QUESTION, hits, 0.0, True))[-1]
    base = list(engine.stream_answer(QUESTION, hits, 0.0, False))[-1]
    assert tuned != base  # the adapter changes the answer: an answer tells which model wrote it
    slow = engine.model.register_forward_pre_hook(lambda *_: time.sleep(0.1))  # ≈0.1 s a token
    try:
        gone = engine.stream_answer(QUESTION, hits, 0.0, False)  # the base: the adapter is off while it runs
        next(gone)
        gone.close()  # the client disconnected after the first words (Gradio closes the generator)
        assert list(engine.stream_answer(QUESTION, hits, 0.0, True))[-1] == tuned
    finally:
        slow.remove()


def test_an_exception_inside_generate_ends_that_answer_and_the_next_one_is_right(engine, app_url, monkeypatch):
    expected, status = _answer(app_url)
    assert "Sources: [1]" in expected and f"Answered by the fine-tuned adapter {engine.versions.adapter}" in status
    generate, calls = engine.model.generate, []

    def fails_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("CUDA error: an illegal memory access was encountered")
        return generate(*args, **kwargs)

    monkeypatch.setattr(engine.model, "generate", fails_once)
    started = time.monotonic()
    failed, status = _answer(app_url, client=None)
    assert "The answer failed" in failed and "illegal memory access" in status
    assert time.monotonic() - started < 60  # ended, not left waiting for tokens that never come
    again, status = _answer(app_url)
    assert again == expected and f"Answered by the fine-tuned adapter {engine.versions.adapter}" in status


def test_one_clients_rate_limit_does_not_lock_out_the_others(app_url):
    from gradio_client import Client

    busy, other = Client(app_url, verbose=False), Client(app_url, verbose=False)
    assert "Sources: [1]" in _answer(app_url, client=busy)[0]
    assert "Sources: [1]" in _answer(app_url, client=busy)[0]
    assert "Too many requests" in _answer(app_url, client=busy)[0]  # two per window per client
    assert "Sources: [1]" in _answer(app_url, client=other)[0]
    limiter = SlidingWindowLimiter(1, 60, clock=lambda: 0.0)
    assert limiter.try_acquire("a") == 0 and limiter.try_acquire("a") == 60 and limiter.try_acquire("b") == 0
