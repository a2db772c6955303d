"""Runs units of work (papers) in a forked child with a wall-clock limit per unit and a cap on
the address space the child may add, so a document bomb, a parser hang or a native crash costs
one quarantine row instead of the Spark task that holds many papers.

One child serves many papers in turn (`BoundedWorker`): a fork per paper cost more than the
extraction itself on small papers (cold PyMuPDF caches, copy-on-write faults, OCR models loaded
again). A paper that overruns, exhausts memory or kills the child costs that paper only: the
child is replaced for the next one, and it is recycled after `max_calls` papers so that no
paper inherits another's memory growth. The parallelism stays Spark's. Linux/macOS only (fork).
"""
from __future__ import annotations

import multiprocessing
import resource
import signal
import traceback
from typing import Any, Callable

_KILL_WAIT_S = 5.0


class LimitExceeded(Exception):
    """The work ran past its time or memory limit, or its process died; `str()` says which."""


class ChildBug(RuntimeError):
    """The work raised a programming error in the child; carries the child's traceback."""


def _address_space_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _cap_address_space(max_memory_mb: int) -> None:
    """Lets the process grow by `max_memory_mb` from where it is now: set before each unit of
    work, so the cap is per paper, not shrunk by what earlier papers left allocated."""
    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    limit = _address_space_bytes() + max_memory_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit if hard == resource.RLIM_INFINITY else min(limit, hard), hard))


def _serve(conn, parent_end, fn: Callable, fixed: tuple, max_memory_mb: int | None) -> None:
    """The child's loop: one `fn(*fixed, *args)` per message until the parent closes the pipe."""
    parent_end.close()  # the fork copied it: while open here, the parent closing its end would not end this loop
    while True:
        try:
            args = conn.recv()
        except EOFError:
            break
        if max_memory_mb:
            _cap_address_space(max_memory_mb)
        try:
            message = ("ok", fn(*fixed, *args))
        except MemoryError:
            message = ("memory", "")
        except BaseException:  # noqa: BLE001 - everything else is reported to the parent, which decides
            message = ("error", traceback.format_exc()[-4000:])
        conn.send(message)
        if message[0] == "memory":
            break  # what is left after a MemoryError is not worth trusting with the next paper
    conn.close()


class BoundedWorker:
    """`call(*args)` runs `fn(*fixed, *args)` in a long-lived forked child; `fn` and `fixed` are
    inherited by the fork (never pickled), `args` and results go through a pipe."""

    def __init__(self, fn: Callable[..., Any], fixed: tuple, timeout_s: float, max_memory_mb: int | None,
                 max_calls: int = 16) -> None:
        self.fn, self.fixed, self.timeout_s, self.max_memory_mb = fn, fixed, timeout_s, max_memory_mb
        self.max_calls = max(1, max_calls)
        self._child = self._conn = None
        self._calls = 0

    def _start(self) -> None:
        context = multiprocessing.get_context("fork")
        self._conn, child_end = context.Pipe(duplex=True)
        self._child = context.Process(target=_serve, daemon=True,
                                      args=(child_end, self._conn, self.fn, self.fixed, self.max_memory_mb))
        self._child.start()
        child_end.close()
        self._calls = 0

    def close(self) -> None:
        """Ends the child: a clean exit when it is idle, SIGKILL after a bounded wait otherwise."""
        if self._child is None:
            return
        self._conn.close()
        self._child.join(_KILL_WAIT_S if self._child.is_alive() else 0)
        if self._child.is_alive():
            self._child.kill()
            self._child.join(_KILL_WAIT_S)
        self._child = self._conn = None

    def _kill(self) -> None:
        if self._child is not None and self._child.is_alive():
            self._child.kill()
        self.close()

    def call(self, *args: Any) -> Any:
        """Raises `LimitExceeded` on timeout, memory exhaustion or a dead child, `ChildBug` when
        `fn` raised; the child is replaced after the first three."""
        if self._child is None or self._calls >= self.max_calls:
            self.close()
            self._start()
        self._calls += 1
        self._conn.send(args)
        if not self._conn.poll(self.timeout_s):
            self._kill()
            raise LimitExceeded(f"timed out after {self.timeout_s:g} s (paper_timeout_s)")
        try:
            status, payload = self._conn.recv()
        except EOFError:
            self._child.join(_KILL_WAIT_S)
            code = self._child.exitcode
            self._kill()
            how = f"signal {signal.Signals(-code).name}" if code is not None and code < 0 else f"exit code {code}"
            raise LimitExceeded(f"extraction process died ({how})") from None
        if status == "memory":
            self._kill()
            raise LimitExceeded(f"ran out of memory (max_memory_mb={self.max_memory_mb})")
        if status == "error":
            raise ChildBug(payload)
        return payload

    def __enter__(self) -> "BoundedWorker":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def call_bounded(fn: Callable[..., Any], args: tuple, timeout_s: float, max_memory_mb: int | None) -> Any:
    """`fn(*args)` once, in a child of its own (see `BoundedWorker`)."""
    with BoundedWorker(fn, args, timeout_s, max_memory_mb, max_calls=1) as worker:
        return worker.call()
