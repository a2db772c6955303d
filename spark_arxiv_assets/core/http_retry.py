"""The one retrying HTTP loop every client uses (arXiv PDFs, the OAI-PMH listing, teacher
endpoints): bounded attempts, exponential backoff that honours Retry-After, an optional
politeness interval between requests, and secrets scrubbed from every error it reports."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable
from urllib.parse import urlparse

import requests

from ..core.retry_policy import RETRYABLE_STATUS, RateLimiter, backoff_delay, parse_retry_after

ARXIV_MIN_INTERVAL_S = 3.0  # arXiv's robots policy: no more than one request every 3 seconds


def polite_interval(base_url: str, min_interval_s: float) -> float:
    """`min_interval_s`, refused when it is below arXiv's floor for an arXiv host."""
    host = (urlparse(base_url).hostname or "").lower()
    if (host == "arxiv.org" or host.endswith(".arxiv.org")) and min_interval_s < ARXIV_MIN_INTERVAL_S:
        raise ValueError(f"min_interval_s={min_interval_s} is below the {ARXIV_MIN_INTERVAL_S:.0f} s between requests "
                         f"that arXiv asks of crawlers ({host}); raise it to at least {ARXIV_MIN_INTERVAL_S:.0f}")
    return min_interval_s


class FinalProblem(Exception):
    """Raised by an `accept` check for a body that no retry will fix (e.g. larger than allowed)."""


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 3  # attempts = max_retries + 1
    backoff_s: float = 2.0
    max_backoff_s: float = 60.0


@dataclass
class HttpOutcome:
    response: requests.Response | None  # the accepted response; for a non-retryable status, that response
    error: str | None  # None when accepted
    attempts: int


def scrub(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def request_with_retries(send: Callable[[], requests.Response], policy: RetryPolicy, *,
                         limiter: RateLimiter | None = None,
                         accept: Callable[[requests.Response], str | None] | None = None,
                         secrets: tuple[str, ...] = (), sleep: Callable[[float], None] = time.sleep,
                         deadline: float | None = None) -> HttpOutcome:
    """Calls `send` until a 200 passes `accept` (which returns a problem, or None when the body
    is usable, or raises `FinalProblem`). Network errors, retryable statuses and rejected bodies
    are retried; any other status, and a final problem, end at once; no retry starts whose wait
    would end past `deadline` (a `time.monotonic()` value). Never raises for network or server
    trouble."""
    error = "no attempt made"
    attempts = policy.max_retries + 1
    for attempt in range(attempts):
        if limiter is not None:
            limiter.wait()
        retry_after = None
        try:
            response = send()
        except requests.exceptions.ChunkedEncodingError as exc:  # fewer bytes than Content-Length promised
            error = f"truncated download: the connection closed before the whole body arrived ({exc})"
        except requests.RequestException as exc:
            error = f"network error: {type(exc).__name__}: {exc}"
        else:
            if response.status_code == 200:
                try:
                    problem = accept(response) if accept else None
                except FinalProblem as exc:
                    return HttpOutcome(response, scrub(str(exc), secrets)[:300], attempt + 1)
                except requests.RequestException as exc:  # the body stream broke off
                    problem = f"truncated download: the connection closed before the whole body arrived ({exc})"
                if problem is None:
                    return HttpOutcome(response, None, attempt + 1)
                error = problem
            else:
                error = f"HTTP {response.status_code}: {response.text[:120]}".rstrip(": ")
                if response.status_code not in RETRYABLE_STATUS:
                    return HttpOutcome(response, scrub(error, secrets)[:300], attempt + 1)
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if attempt < attempts - 1:
            delay = backoff_delay(attempt, policy.backoff_s, policy.max_backoff_s, retry_after)
            if deadline is not None and time.monotonic() + delay >= deadline:
                return HttpOutcome(None, scrub(f"{error[:250]} (gave up after {attempt + 1} attempts: out of time)",
                                               secrets), attempt + 1)
            sleep(delay)
    return HttpOutcome(None, scrub(f"{error[:250]} (after {attempts} attempts)", secrets), attempts)
