"""Wall time and peak memory of each stage of the demo, measured from outside: the demo command
runs in a child process whose whole tree (Spark's JVM and Python workers, extraction children
included) is sampled every 0.2 s, and each sample is filed under the asset whose step was running
then (from the run's Dagster event log). The same harness runs on any checkout of the project
(`--project DIR`), so a before/after comparison uses one method.

    python -m benchmarks.stage_usage                          # the sample, then the shared corpora (reduced)
    python -m benchmarks.stage_usage --project /path/to/older/checkout --label before --json before.json
    python -m benchmarks.stage_usage --before before.json     # the table shows both
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from spark_arxiv_assets.core.resource_usage import tree_rss_mb

from .common import CORPORA, ROOT, write_section

# The shared corpora through every stage, with the teacher, the training and the evaluation cut to a
# few minutes: what each stage holds in memory on real papers, not a quality run.
SHARED_CORPORA_CONFIG = {"ops": {
    "arxiv_metadata": {"config": {"source": "pdf_folder", "path": str(CORPORA / "pdfs")}},
    "qa_pairs": {"config": {"max_chunks": 40}},
    "student_adapter": {"config": {"max_steps": 4}},
    "rag_evaluation": {"config": {"max_eval_split_questions": 10}}}}


REPORT_LINES = 20  # the demo's closing report: what materialized, failed checks, the verdict
# The sample's demo measured by this harness on main before issue 32 (d4ba5b0), for the table.
BEFORE = Path(__file__).parent / "baselines" / "stage_usage_d4ba5b0.json"


def _sample_tree(pid: int, samples: list[tuple[float, float]], stop: threading.Event) -> None:
    while not stop.wait(0.2):
        samples.append((time.time(), tree_rss_mb(pid)))


def _step_windows(dagster_home: Path) -> list[tuple[str, float, float]]:
    """(step, start, end) of the demo's run, from its event log."""
    from dagster import DagsterEventType, DagsterInstance

    os.environ["DAGSTER_HOME"] = str(dagster_home)
    with DagsterInstance.get() as instance:
        [run] = instance.get_runs(limit=1)
        starts, windows = {}, []
        for entry in instance.all_logs(run.run_id):
            event = entry.dagster_event
            if event is None or not entry.step_key:
                continue
            if event.event_type == DagsterEventType.STEP_START:
                starts[entry.step_key] = entry.timestamp
            elif event.event_type in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE):
                windows.append((entry.step_key, starts.pop(entry.step_key, entry.timestamp), entry.timestamp))
    return windows


def measure(project: Path, config: dict | None, label: str) -> dict:
    """Runs `arxiv-assets demo` of `project` (its own venv) in a fresh data dir and Dagster home."""
    with tempfile.TemporaryDirectory(prefix="stage-usage-") as tmp:
        work = Path(tmp)
        env = {**os.environ, "SPARK_ARXIV_DATA_DIR": str(work / "data"), "DAGSTER_HOME": str(work / "home"),
               "PYTHONPATH": str(project), "SPARK_ARXIV_MODELS_DIR": str(work / "models")}
        (work / "home").mkdir()
        command = [sys.executable, "-m", "spark_arxiv_assets.cli", "demo"]
        if config:
            (work / "config.yaml").write_text(json.dumps(config))  # JSON is YAML
            command += ["-c", str(work / "config.yaml")]
        samples: list[tuple[float, float]] = []
        stop = threading.Event()
        started = time.time()
        with open(work / "demo.log", "wb") as log:
            proc = subprocess.Popen(command, cwd=project, env=env, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
            sampler = threading.Thread(target=_sample_tree, args=(proc.pid, samples, stop), daemon=True)
            sampler.start()
            try:
                status = proc.wait(timeout=7200)
            finally:
                stop.set()
                sampler.join()
                if proc.poll() is None:
                    os.killpg(proc.pid, 9)
        seconds = time.time() - started
        windows = _step_windows(work / "home")
        report = (work / "demo.log").read_text(errors="replace").splitlines()[-REPORT_LINES:]
        summary = work / "data" / "evaluation" / "summary.json"
        evaluation = json.loads(summary.read_text()) if summary.exists() else None
    stages = []
    for step, begin, end in windows:
        inside = [mb for at, mb in samples if begin <= at <= end]
        stages.append({"stage": step, "seconds": round(end - begin, 1), "peak_tree_mb": round(max(inside, default=0))})
    return {"label": label, "project": str(project), "exit_status": status, "seconds": round(seconds, 1),
            "peak_tree_mb": round(max((mb for _, mb in samples), default=0)), "stages": stages,
            "demo_report": report, "evaluation": evaluation}


def _mb(value) -> str:
    """A stage shorter than the sampling interval has no sample: shown as –, not 0."""
    return f"{value:,}" if value else "–"


def _table(run: dict, before: dict | None) -> str:
    """One row per stage; with `before`, its seconds and peak beside each (same stage name)."""
    if before is None:
        rows = "\n".join(f"| {s['stage']} | {s['seconds']} | {_mb(s['peak_tree_mb'])} |" for s in run["stages"])
        return f"| stage (Dagster step) | s | peak MB, process tree |\n|---|---|---|\n{rows}"
    old = {s["stage"]: s for s in before["stages"]}
    rows = []
    for s in run["stages"]:
        o = old.get(s["stage"], {"seconds": "–", "peak_tree_mb": 0})
        rows.append(f"| {s['stage']} | {o['seconds']} | {s['seconds']} | {_mb(o['peak_tree_mb'])} | "
                    f"{_mb(s['peak_tree_mb'])} |")
    return ("| stage (Dagster step) | s, before | s, now | peak MB, before | peak MB, now |\n"
            "|---|---|---|---|---|\n" + "\n".join(rows)
            + f"\n| **whole demo** | {before['seconds']} | {run['seconds']} | {before['peak_tree_mb']:,} | "
              f"{run['peak_tree_mb']:,} |")


def markdown(runs: list[dict], before: list[dict] | None = None) -> str:
    parts = []
    for i, run in enumerate(runs):
        earlier = before[i] if before and i < len(before) else None
        parts.append(f"**{run['label']}**: {run['seconds']} s in all, peak {run['peak_tree_mb']:,} MB for the whole "
                     f"process tree (exit status {run['exit_status']})"
                     + (f"; before: {earlier['label']}, {earlier['project']}" if earlier else "")
                     + f".\n\n{_table(run, earlier)}")
    return ("## Wall time and peak memory per stage of the demo\n\nThe demo command in a child process; its whole "
            "process tree (Spark's JVM and Python workers, extraction children) sampled every 0.2 s and filed under "
            "the step that was running (Dagster's event log). Each asset also reports its own wall time and peak "
            "memory in its metadata (`wall_seconds`, `peak_memory_mb`, `peak_memory_with_children_mb`).\n\n"
            + "\n\n".join(parts))


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, default=ROOT, help="the checkout whose demo is measured")
    parser.add_argument("--label", default="now")
    parser.add_argument("--json", type=Path, default=None, help="also write the raw result here")
    parser.add_argument("--sample-only", action="store_true")
    parser.add_argument("--before", type=Path, default=BEFORE,
                        help="a --json file of an earlier checkout's run, shown beside this one")
    args = parser.parse_args(argv)
    runs = [measure(args.project, None, f"the bundled sample ({args.label})")]
    if not args.sample_only:
        runs.append(measure(args.project, SHARED_CORPORA_CONFIG, f"the shared corpora, reduced ({args.label})"))
    if args.json:
        args.json.write_text(json.dumps(runs, indent=2))
    if args.project.resolve() == ROOT.resolve():
        before = json.loads(args.before.read_text()) if args.before else None
        write_section("stage_usage", markdown(runs, before), {"runs": runs, "before": before})
    print(json.dumps(runs, indent=1))
    return runs


if __name__ == "__main__":
    main()
