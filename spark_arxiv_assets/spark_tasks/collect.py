"""How the driver runs a Spark job over a list of items and reports its tasks' progress in the run's log."""
from __future__ import annotations

import threading
import time

from ..core.progress import Progress


def collect_tasks(spark_context, items: list, slices: int, task, label: str, log) -> list:
    """`task(partition index, items iterator)` over `items` in `slices` tasks; the rows they yield,
    with task progress in the run's log."""
    if not items:
        return []
    rows = spark_context.parallelize(items, slices).mapPartitionsWithIndex(task)
    progress = Progress(label, slices, log, unit="tasks")
    with SparkJobProgress(spark_context, f"{label.split()[0]}-{time.time_ns()}", progress):
        collected = rows.collect()
    progress.set(slices)
    progress.finish()
    return collected


class SparkJobProgress:
    """Polls Spark's status tracker in a thread and feeds completed/total tasks of one job
    group to a `Progress` (executors cannot log to Dagster; the driver can)."""

    def __init__(self, spark_context, group: str, progress, poll_s: float = 1.0) -> None:
        self._sc, self._group, self._progress, self._poll_s = spark_context, group, progress, poll_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _tasks_done(self) -> int:
        tracker = self._sc.statusTracker()
        done = 0
        for job_id in tracker.getJobIdsForGroup(self._group):
            job = tracker.getJobInfo(job_id)
            for stage_id in (job.stageIds if job else []):
                stage = tracker.getStageInfo(stage_id)
                if stage:
                    done += stage.numCompletedTasks
        return done

    def _run(self) -> None:
        while not self._stop.wait(self._poll_s):
            self._progress.set(min(self._tasks_done(), self._progress.total))

    def __enter__(self) -> "SparkJobProgress":
        self._sc.setJobGroup(self._group, f"spark_arxiv_assets: {self._group}")
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
