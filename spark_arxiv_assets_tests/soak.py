"""Runs the default suite several times back to back while CPU burners keep every core busy,
and after each run looks for any process the run left behind (`make test-soak`).

Leftovers are found by an environment marker that every process the suite starts inherits
(JVMs, Spark's Python daemons, servers), so a process that was re-parented or changed its
process group or session is still found.
"""
from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

from .processes import command_line, reap_tree, reaped_process

MARKER = "SPARK_ARXIV_SOAK_RUN"
SUMMARY = re.compile(r"^=*\s*(\d+ (passed|failed).*) in [\d.]+s", re.M)


def processes_with_marker(value: str) -> list[int]:
    needle = f"{MARKER}={value}".encode()
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) != os.getpid():
            try:
                if needle in Path(f"/proc/{name}/environ").read_bytes().split(b"\0"):
                    found.append(int(name))
            except OSError:
                continue
    return found


def run_suite(run: int, log_dir: Path, pytest_args: list[str]) -> dict:
    marker = uuid.uuid4().hex
    env = {**os.environ, MARKER: marker}
    log = log_dir / f"soak-run-{run}.log"
    started = time.monotonic()
    with open(log, "wb") as out:
        suite = subprocess.Popen([sys.executable, "-m", "pytest", "-q", *pytest_args], stdout=out,
                                 stderr=subprocess.STDOUT, env=env)
        try:
            code = suite.wait()
        finally:  # interrupted: the suite and everything it started go too
            if suite.poll() is None:
                reap_tree(suite.pid, direct=suite)
    seconds = time.monotonic() - started
    time.sleep(2)  # let exiting children finish exiting
    left = processes_with_marker(marker)
    described = [f"{pid} {command_line(pid)}" for pid in left]
    for pid in left:
        reap_tree(pid)
    summary = SUMMARY.findall(log.read_text(errors="replace"))
    return {"run": run, "exit": code, "seconds": round(seconds), "summary": summary[-1][0] if summary else "(none)",
            "leftover": described}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--burners", type=int, default=os.cpu_count() or 2, help="busy-loop processes to run alongside")
    parser.add_argument("--out", default="test-output/soak.md")
    parser.add_argument("pytest_args", nargs="*")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the cleanups below on `kill`
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    burner = [sys.executable, "-c", "while True: pass"]
    results = []
    with ExitStack() as burners:
        for i in range(args.burners):
            burners.enter_context(reaped_process(burner, out.parent / f"burner-{i}.log"))
        for run in range(1, args.runs + 1):
            results.append(run_suite(run, out.parent, args.pytest_args))
            print(results[-1], flush=True)
    lines = [f"Default suite, {args.runs} runs back to back with {args.burners} CPU burner(s) on "
             f"{os.cpu_count()} cores ({time.strftime('%Y-%m-%d')}).", "",
             "| run | exit | pytest summary | seconds | processes left behind |", "|---|---|---|---|---|"]
    lines += [f"| {r['run']} | {r['exit']} | {r['summary']} | {r['seconds']} | {len(r['leftover'])} |" for r in results]
    lines += [f"- run {r['run']}: {p}" for r in results for p in r["leftover"]]
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0 if all(r["exit"] == 0 and not r["leftover"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
