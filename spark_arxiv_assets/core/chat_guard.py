"""Limits for a public-facing chat: input length and request rate."""
from __future__ import annotations

import threading
import time
from collections import deque
from typing import Callable

MAX_QUESTION_CHARS = 1000


class SlidingWindowLimiter:
    """At most `max_requests` in any `window_s` seconds per client key, so one busy client cannot
    lock the others out. Keys idle for a whole window are forgotten."""

    def __init__(self, max_requests: int, window_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_requests, self.window_s, self._clock = max_requests, window_s, clock
        self._times: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def try_acquire(self, key: str = "") -> float:
        """0 when allowed (and counted), else the seconds this key must wait."""
        with self._lock:
            now = self._clock()
            for other in [k for k, times in self._times.items() if not times or now - times[-1] >= self.window_s]:
                del self._times[other]
            times = self._times.setdefault(key, deque())
            while times and now - times[0] >= self.window_s:
                times.popleft()
            if len(times) >= self.max_requests:
                return self.window_s - (now - times[0])
            times.append(now)
            return 0.0


def check_question(question: str) -> str | None:
    """A reason to refuse the input, or None."""
    if not question.strip():
        return "Please type a question."
    if len(question) > MAX_QUESTION_CHARS:
        return f"Questions are limited to {MAX_QUESTION_CHARS} characters (this one has {len(question)})."
    return None
