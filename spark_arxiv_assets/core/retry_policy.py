"""Politeness and retry rules for HTTP sources (arXiv, teacher endpoints)."""
from __future__ import annotations

import time
from email.utils import parsedate_to_datetime
from typing import Callable

RETRYABLE_STATUS = {408, 425, 429, 500, 502, 503, 504}


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0.0, when - (time.time() if now is None else now))


def backoff_delay(attempt: int, base_s: float, max_s: float, retry_after: float | None = None) -> float:
    """Exponential backoff (base * 2^attempt), never shorter than the server's Retry-After."""
    delay = min(max_s, base_s * (2 ** attempt))
    if retry_after is not None:
        delay = max(delay, min(retry_after, max_s))
    return delay


class RateLimiter:
    """At most one request every `min_interval_s` seconds (arXiv asks for ≥ 3 s)."""

    def __init__(self, min_interval_s: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.min_interval_s = min_interval_s
        self._clock, self._sleep = clock, sleep
        self._last: float | None = None

    def wait(self) -> float:
        """Sleeps as needed; returns how long it slept."""
        slept = 0.0
        if self._last is not None:
            slept = max(0.0, self.min_interval_s - (self._clock() - self._last))
            if slept:
                self._sleep(slept)
        self._last = self._clock()
        return slept
