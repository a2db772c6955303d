"""Wall time and peak memory of a stretch of work, as an asset reports them.

Three numbers, because they answer different questions: this process's peak resident memory
(Linux's VmHWM, reset when the stretch starts, so earlier stages do not count); the peak of the
whole process tree's summed resident memory (Spark's JVM and Python workers and the per-paper
extraction children are children of this process), sampled a few times a second; and the GPU's
peak allocated memory when CUDA is in use."""
from __future__ import annotations

import os
import resource
import threading
import time
from dataclasses import dataclass
from pathlib import Path

SAMPLE_EVERY_S = 0.2
_ACTIVE: set["UsageMeter"] = set()  # meters that a nested meter's reset must not rob of their peak
_ACTIVE_LOCK = threading.Lock()


def reset_peak_rss() -> bool:
    """Restarts this process's VmHWM count (Linux ≥ 4.0), after handing the peak so far to the
    meters still running; False where that is not possible."""
    with _ACTIVE_LOCK:
        before = peak_rss_mb()
        for meter in _ACTIVE:
            meter._carried = max(meter._carried, before)
        try:
            Path("/proc/self/clear_refs").write_text("5")
            return True
        except OSError:
            return False


def peak_rss_mb() -> float:
    """This process's peak resident memory since the last reset (or since it started)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def tree_rss_mb(root: int | None = None) -> float:
    """Summed resident memory of a process and all its descendants, now."""
    root = root or os.getpid()
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            parent = int(stat[stat.rindex(")") + 2:].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(parent, []).append(int(entry.name))
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += _rss_kb(pid)
        stack.extend(children.get(pid, []))
    return total / 1024


@dataclass(frozen=True)
class Usage:
    seconds: float
    peak_process_mb: float
    peak_tree_mb: float
    peak_gpu_mb: float | None

    def metadata(self) -> dict:
        gpu = {"peak_gpu_memory_mb": round(self.peak_gpu_mb, 1)} if self.peak_gpu_mb is not None else {}
        return {"wall_seconds": round(self.seconds, 2), "peak_memory_mb": round(self.peak_process_mb, 1),
                "peak_memory_with_children_mb": round(self.peak_tree_mb, 1), **gpu}


class UsageMeter:
    """`with UsageMeter() as meter: …; meter.usage()` — usable before the block ends, too."""

    def __init__(self, sample_every_s: float = SAMPLE_EVERY_S) -> None:
        self.sample_every_s = sample_every_s
        self._stop = threading.Event()
        self._tree_peak = 0.0
        self._carried = 0.0  # the process peak before a nested meter reset it
        self._thread = threading.Thread(target=self._sample, daemon=True, name="usage-meter")

    def _sample(self) -> None:
        while True:
            self._tree_peak = max(self._tree_peak, tree_rss_mb())
            if self._stop.wait(self.sample_every_s):
                return

    def __enter__(self) -> "UsageMeter":
        reset_peak_rss()
        with _ACTIVE_LOCK:
            _ACTIVE.add(self)
        if _cuda_in_use():
            import torch

            torch.cuda.reset_peak_memory_stats()
        self._started = time.perf_counter()
        self._thread.start()
        return self

    def usage(self) -> Usage:
        gpu = None
        if _cuda_in_use():
            import torch

            gpu = torch.cuda.max_memory_allocated() / 2**20
        process = max(self._carried, peak_rss_mb())
        return Usage(time.perf_counter() - self._started, process, max(self._tree_peak, tree_rss_mb(), process), gpu)

    def __exit__(self, *_: object) -> None:
        with _ACTIVE_LOCK:
            _ACTIVE.discard(self)
        self._stop.set()
        self._thread.join()


def _cuda_in_use() -> bool:
    """Only when torch is already imported and CUDA initialized: measuring must not start CUDA."""
    import sys

    torch = sys.modules.get("torch")
    return torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized()
