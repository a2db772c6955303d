"""Every process a test starts is bounded and reaped.

Servers (Spark master/worker, `dagster dev`, the chat, moto) start in their own process group.
On teardown the group and every descendant seen (some children leave the group, e.g. PySpark's
daemon calls setpgid) get SIGTERM, a bounded wait, then SIGKILL; anything still alive after
that fails the test by pid. Linux only: the process tree is read from /proc.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

TERM_GRACE_S = 15.0  # a JVM on a busy 2-core machine can take this long to honour SIGTERM
KILL_GRACE_S = 10.0


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name: [state, ppid, pgrp, ...]."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return raw[raw.rfind(")") + 2:].split()


def _all_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def is_alive(pid: int) -> bool:
    """Running or sleeping; a zombie waiting to be reaped does not count."""
    fields = _stat_fields(pid)
    return fields is not None and fields[0] not in ("Z", "X")


def descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid in _all_pids():
        fields = _stat_fields(pid)
        if fields:
            children.setdefault(int(fields[1]), []).append(pid)
    found, stack = set(), [root]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def group_members(pgid: int) -> set[int]:
    members = set()
    for pid in _all_pids():
        fields = _stat_fields(pid)
        if fields and int(fields[2]) == pgid:
            members.add(pid)
    return members


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:200]
    except OSError:
        return "?"


def _signal_all(pids: set[int], pgid: int | None, sig: int) -> None:
    if pgid is not None:
        try:
            os.killpg(pgid, sig)
        except (ProcessLookupError, PermissionError):
            pass
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def _wait_gone(pids: set[int], timeout_s: float, direct: subprocess.Popen | None) -> set[int]:
    deadline = time.monotonic() + timeout_s
    while True:
        if direct is not None:
            direct.poll()  # reap our own child so it does not linger as a zombie
        alive = {pid for pid in pids if is_alive(pid)}
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(0.1)


def reap_tree(root: int, pgid: int | None = None, direct: subprocess.Popen | None = None,
              term_grace_s: float = TERM_GRACE_S) -> None:
    """SIGTERM, bounded wait, SIGKILL for `root`, its descendants and its process group;
    raises AssertionError naming any pid still alive afterwards."""
    tracked = {root} | descendants(root) | (group_members(pgid) if pgid else set())
    _signal_all(tracked, pgid, signal.SIGTERM)
    alive = _wait_gone(tracked, term_grace_s, direct)
    if alive:
        tracked |= set().union(*(descendants(pid) for pid in alive)) | (group_members(pgid) if pgid else set())
        _signal_all(tracked, pgid, signal.SIGKILL)
        alive = _wait_gone(tracked, KILL_GRACE_S, direct)
    if direct is not None:
        try:
            direct.wait(timeout=KILL_GRACE_S)
        except subprocess.TimeoutExpired:
            alive.add(direct.pid)
    if alive:
        raise AssertionError("processes left running after SIGKILL: "
                             + "; ".join(f"{pid} {command_line(pid)}" for pid in sorted(alive)))


@contextmanager
def reaped_process(args: list[str], log_path: Path, env: dict | None = None, cwd: Path | None = None,
                   term_grace_s: float = TERM_GRACE_S) -> Iterator[subprocess.Popen]:
    """Starts `args` in a new session (its own process group) with output to `log_path`;
    on exit stops the whole tree with `reap_tree`."""
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, cwd=cwd, start_new_session=True)
        try:
            yield proc
        finally:
            reap_tree(proc.pid, pgid=proc.pid, direct=proc, term_grace_s=term_grace_s)


def wait_for_text(path: Path, text: str, timeout_s: float, proc: subprocess.Popen | None = None) -> None:
    """Waits until `text` appears in a log file; fails early if `proc` exits first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text(errors="replace"):
            return
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.3)
    tail = path.read_text(errors="replace")[-3000:] if path.exists() else ""
    raise TimeoutError(f"{text!r} not in {path} within {timeout_s:.0f}s:\n{tail}")


def _decode_address(hex_address: str) -> str:
    """/proc/net/tcp{,6} local address (little-endian words) → dotted IPv4 or IPv6 text."""
    import ipaddress

    raw = bytes.fromhex(hex_address)
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    address = ipaddress.ip_address(words)
    mapped = getattr(address, "ipv4_mapped", None)
    return str(mapped or address)


def listening_sockets(pid: int) -> list[tuple[str, int]]:
    """(address, port) of every TCP socket in LISTEN state that `pid` holds open; none for a
    process that has exited (short-lived workers come and go while we look)."""
    try:
        return _listening_sockets(pid)
    except OSError:  # FileNotFoundError / ProcessLookupError: the process is gone
        return []


def _listening_sockets(pid: int) -> list[tuple[str, int]]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = []
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                address, port = fields[1].split(":")
                found.append((_decode_address(address), int(port, 16)))
    return found
