"""Shared helpers: corpora location, timing, and the results file the README links."""
from __future__ import annotations

import json
import platform
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPORA = ROOT.parent / "shared" / "corpora"
OUTPUT = ROOT / "benchmarks" / "output"
RESULTS = ROOT / "benchmarks" / "RESULTS.md"


def machine() -> str:
    import os

    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def timed(fn, *args, **kwargs):
    started = time.perf_counter()
    value = fn(*args, **kwargs)
    return value, time.perf_counter() - started


def write_section(name: str, markdown: str, raw: dict, ran_on: str | None = None) -> None:
    """Each benchmark owns one section of RESULTS.md (between markers) and one JSON file. `ran_on`
    names the machine when the numbers come from another one (a GPU box)."""
    OUTPUT.mkdir(parents=True, exist_ok=True)
    (OUTPUT / f"{name}.json").write_text(json.dumps(raw, indent=2, default=str))
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n\nWritten by `make bench`; ratios are against the plain baseline measured in the same run.\n"
    block = f"{begin}\n{markdown.strip()}\n\n_{time.strftime('%Y-%m-%d')}, {ran_on or machine()}_\n{end}"
    if begin in text:
        text = text[: text.index(begin)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    RESULTS.write_text(text)
