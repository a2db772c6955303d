"""Teacher LLM backends behind one interface: an OpenAI-compatible HTTP endpoint (vLLM,
Ollama, llama.cpp server, TGI) or a local transformers model."""
from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal, Optional, Protocol

import requests
from dagster import ConfigurableResource

from ..core.causal_lm import choose_placement, load_causal_lm, load_tokenizer, resolve_causal_lm
from ..core.defaults import SMALL_LM
from ..core.generation import generate_chat
from ..core.http_retry import RetryPolicy, request_with_retries
from ..core.qa_prompts import ReplyShape


@dataclass
class TeacherReply:
    text: str | None
    error: str | None = None
    completion_tokens: int = 0


class TeacherBackend(Protocol):
    identity: str  # part of the generation cache key

    def generate(self, conversations: list[list[dict]], shape: ReplyShape = ReplyShape()) -> list[TeacherReply]:
        """`shape` starts and ends a local model's reply; servers ignore it (their replies are whole)."""


def _completion_problem(response: requests.Response) -> str | None:
    """A 200 whose body is not a chat completion (a proxy's HTML page, a cut-off body) is retried."""
    try:
        content = response.json()["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        return f"malformed response body: {type(exc).__name__}"
    return None if isinstance(content, str) else "malformed response body: content is not text"


class OpenAICompatibleTeacher:
    def __init__(self, base_url: str, model: str, api_key: str | None, max_concurrency: int, timeout_s: float,
                 max_retries: int, temperature: float, max_tokens: int, json_mode: bool, backoff_s: float = 2.0) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model, self.api_key, self.max_concurrency = model, api_key, max_concurrency
        self.timeout_s, self.max_retries, self.backoff_s = timeout_s, max_retries, backoff_s
        self.temperature, self.max_tokens, self.json_mode = temperature, max_tokens, json_mode
        # every request setting that changes the reply: switching one regenerates instead of reusing
        self.identity = f"openai:{model}@{base_url}:t{temperature}:n{max_tokens}:json{int(json_mode)}"

    def _one(self, messages: list[dict]) -> TeacherReply:
        body = {"model": self.model, "messages": messages, "temperature": self.temperature,
                "max_tokens": self.max_tokens}
        if self.json_mode:
            body["response_format"] = {"type": "json_object"}
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        outcome = request_with_retries(lambda: requests.post(self.url, json=body, headers=headers, timeout=self.timeout_s),
                                       RetryPolicy(self.max_retries, self.backoff_s, 60.0), accept=_completion_problem,
                                       secrets=(self.api_key or "",))
        if outcome.error is not None:
            return TeacherReply(text=None, error=outcome.error)
        payload = outcome.response.json()
        tokens = int((payload.get("usage") or {}).get("completion_tokens") or 0)
        return TeacherReply(text=payload["choices"][0]["message"]["content"], completion_tokens=tokens)

    def generate(self, conversations: list[list[dict]], shape: ReplyShape = ReplyShape()) -> list[TeacherReply]:
        with ThreadPoolExecutor(max_workers=max(1, self.max_concurrency)) as pool:
            return list(pool.map(self._one, conversations))


@functools.lru_cache(maxsize=2)
def load_teacher_model(name_or_path: str, device: str):
    """Loaded once per process, by the same placement rule as the student but never quantized: the
    teacher's job is the quality of the data."""
    model = load_causal_lm(name_or_path, choose_placement(device, quantization="none"))
    tokenizer = load_tokenizer(resolve_causal_lm(name_or_path))
    tokenizer.padding_side = "left"  # batched generation continues every row from its end
    return model, tokenizer


def release_local_models() -> None:
    """Frees the cached local teacher models (hundreds of MB each) once a stage is done with them."""
    load_teacher_model.cache_clear()


class LocalTransformersTeacher:
    def __init__(self, model: str, device: str, batch_size: int, max_new_tokens: int, temperature: float) -> None:
        self.model_name, self.device, self.batch_size = model, device, batch_size
        self.max_new_tokens, self.temperature = max_new_tokens, temperature
        self.identity = f"local:{model}:t{temperature}:n{max_new_tokens}"

    def generate(self, conversations: list[list[dict]], shape: ReplyShape = ReplyShape()) -> list[TeacherReply]:
        model, tokenizer = load_teacher_model(self.model_name, self.device)
        max_new_tokens = min(self.max_new_tokens, shape.max_tokens or self.max_new_tokens)
        outputs = generate_chat(model, tokenizer, conversations, self.batch_size, max_new_tokens, self.temperature,
                                shape.prefill, stop_strings=list(shape.stop) or None,
                                avoid=list(shape.avoid) or None)
        return [TeacherReply(text=o.text, completion_tokens=o.new_tokens) for o in outputs]


class TeacherResource(ConfigurableResource):
    """Which teacher writes the QA data. The API key comes from the environment (`TEACHER_API_KEY`,
    wired as a Dagster EnvVar: the UI and the run's config show the variable's name, never the key)."""

    backend: Literal["local", "openai"] = "local"  # a transformers model in this process, or an OpenAI-compatible server
    model: str = SMALL_LM  # an HF id or path for local; the served model name for openai
    base_url: str = "http://127.0.0.1:8000/v1"  # for openai: vLLM, Ollama, llama.cpp server, ...
    api_key: Optional[str] = None  # for openai; set through EnvVar, not typed into config
    max_concurrency: int = 4  # for openai: requests in flight
    timeout_s: float = 120.0  # for openai: per request
    max_retries: int = 3  # for openai: on 429, 5xx and dropped connections
    json_mode: bool = False  # send response_format=json_object (vLLM, Ollama, llama.cpp server support it)
    device: str = "auto"  # auto: CUDA when there is one | cpu | cuda[:n]
    batch_size: int = 8  # for local: prompts per generate call
    max_new_tokens: int = 256  # longest reply
    temperature: float = 0.0  # greedy: deterministic, and tiny models ramble when sampling

    def backend_client(self) -> TeacherBackend:
        if self.backend == "openai":
            return OpenAICompatibleTeacher(self.base_url, self.model, self.api_key,
                                           self.max_concurrency, self.timeout_s, self.max_retries,
                                           self.temperature, self.max_new_tokens, self.json_mode)
        return LocalTransformersTeacher(self.model, self.device, self.batch_size, self.max_new_tokens, self.temperature)

    def public_config(self) -> dict:
        """What metadata may show: everything but secrets."""
        fields = ["backend", "model", "temperature", "max_new_tokens"]
        fields += ["base_url", "max_concurrency", "json_mode"] if self.backend == "openai" else ["device", "batch_size"]
        return {name: getattr(self, name) for name in fields}
