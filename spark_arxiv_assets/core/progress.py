"""Progress for long stages: n/N, rate and ETA at a steady cadence, plus a terminal bar."""
from __future__ import annotations

import sys
import time
from typing import Callable

from tqdm import tqdm


def format_eta(seconds: float) -> str:
    seconds = max(0, int(seconds))
    minutes, sec = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{sec:02d}s" if hours else f"{minutes}m{sec:02d}s"


class Progress:
    """Logs `label: n/N (p%), rate unit/s, ETA` at most every `every_s` seconds.

    The log function is usually `context.log.info`, so the line shows in Dagster's run
    logs; when stderr is a terminal a tqdm bar is drawn as well.
    """

    def __init__(self, label: str, total: int, log: Callable[[str], None], unit: str = "items",
                 every_s: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.label, self.total, self.unit, self.log, self._every_s = label, total, unit, log, every_s
        self._clock = clock
        self.done = 0
        self._start = clock()
        self._last_log = self._start
        self._bar = tqdm(total=total, desc=label, unit=unit, leave=False) if sys.stderr.isatty() else None

    def message(self) -> str:
        elapsed = max(self._clock() - self._start, 1e-9)
        rate = self.done / elapsed
        pct = 100.0 * self.done / self.total if self.total else 100.0
        eta = format_eta((self.total - self.done) / rate) if rate > 0 else "?"
        return f"{self.label}: {self.done}/{self.total} ({pct:.0f}%), {rate:.2f} {self.unit}/s, ETA {eta}"

    def set(self, done: int) -> None:
        if self._bar is not None:
            self._bar.update(done - self.done)
        self.done = done
        now = self._clock()
        if now - self._last_log >= self._every_s:
            self._last_log = now
            self.log(self.message())

    def advance(self, n: int = 1) -> None:
        self.set(self.done + n)

    def finish(self) -> float:
        """Logs the final line and returns the elapsed seconds."""
        if self._bar is not None:
            self._bar.close()
        elapsed = self._clock() - self._start
        self.log(self.message() + f", took {elapsed:.1f}s")
        return elapsed
