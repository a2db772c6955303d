"""Runs one unit of work (one paper) in a forked child with a wall-clock limit and a cap on
the address space it may add, so a document bomb, a parser hang or a native crash costs one
quarantine row instead of the Spark task that holds many papers.

A fork, not a pool: the child shares the worker's imports copy-on-write and lives for one
paper; the parallelism stays Spark's. Linux/macOS only (fork).
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


def _child(conn, fn: Callable, args: tuple, max_memory_mb: int | None) -> None:
    if max_memory_mb:
        limit = _address_space_bytes() + max_memory_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))
    try:
        message = ("ok", fn(*args))
    except MemoryError:
        message = ("memory", "")
    except BaseException:  # noqa: BLE001 - everything else is reported to the parent, which decides
        message = ("error", traceback.format_exc()[-4000:])
    conn.send(message)
    conn.close()


def call_bounded(fn: Callable[..., Any], args: tuple, timeout_s: float, max_memory_mb: int | None) -> Any:
    """`fn(*args)` in a forked child. Returns its result; raises `LimitExceeded` on timeout,
    memory exhaustion or a crashed child, and `ChildBug` when `fn` raised."""
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(sender, fn, args, max_memory_mb), daemon=True)
    child.start()
    sender.close()
    try:
        if not receiver.poll(timeout_s):
            raise LimitExceeded(f"timed out after {timeout_s:g} s (paper_timeout_s)")
        try:
            status, payload = receiver.recv()
        except EOFError:
            child.join(_KILL_WAIT_S)
            code = child.exitcode
            how = f"signal {signal.Signals(-code).name}" if code is not None and code < 0 else f"exit code {code}"
            raise LimitExceeded(f"extraction process died ({how})") from None
    finally:
        if child.is_alive():
            child.kill()
        child.join(_KILL_WAIT_S)
        receiver.close()
    if status == "memory":
        raise LimitExceeded(f"ran out of memory (max_memory_mb={max_memory_mb})")
    if status == "error":
        raise ChildBug(payload)
    return payload
