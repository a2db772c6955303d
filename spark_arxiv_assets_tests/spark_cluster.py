"""A standalone Spark cluster on 127.0.0.1 from the pyspark wheel (a master and N one-core
workers, each with its own work dir), started and reaped like every other server."""
from __future__ import annotations

import os
import re
import sys
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from .fakes.loopback import free_port
from .processes import reaped_process, wait_for_text

SPARK_HOME = Path(__import__("pyspark").__file__).parent


def stop_active_spark_session() -> None:
    """A running local session would be reused by getOrCreate, and its executors keep the
    environment they started with."""
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        active.stop()


@dataclass
class Cluster:
    master_url: str
    worker_dirs: list[Path]

    def task_ids_by_worker(self) -> list[set[int]]:
        """Spark task ids each worker's executors ran, read from their logs."""
        found = []
        for work_dir in self.worker_dirs:
            logs = " ".join(p.read_text(errors="replace") for p in work_dir.glob("app-*/*/stderr"))
            found.append({int(t) for t in re.findall(r"Running task \S+ in stage \S+ \(TID (\d+)\)", logs)})
        return found


@contextmanager
def standalone_cluster(folder: Path, workers: int = 1, env: dict[str, str] | None = None,
                       without: tuple[str, ...] = ()) -> Iterator[Cluster]:
    """`env` reaches the workers and so their executors; variables starting with a prefix in
    `without` do not (workers on other machines do not share the driver's environment)."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(without)} if without else dict(os.environ)
    base_env = {**inherited, **(env or {}), "SPARK_HOME": str(SPARK_HOME), "PYSPARK_PYTHON": sys.executable,
                "SPARK_LOCAL_IP": "127.0.0.1"}
    spark_class = str(SPARK_HOME / "bin" / "spark-class")
    port = free_port()
    master_url = f"spark://127.0.0.1:{port}"
    with ExitStack() as stack:
        master_log = folder / "master.log"
        master = stack.enter_context(reaped_process(
            [spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
             "--webui-port", str(free_port())], master_log, env=base_env))
        wait_for_text(master_log, "I have been elected leader", 120, master)
        worker_dirs = []
        for n in range(workers):
            work_dir, log = folder / f"worker-{n}", folder / f"worker-{n}.log"
            worker = stack.enter_context(reaped_process(
                [spark_class, "org.apache.spark.deploy.worker.Worker", master_url, "--host", "127.0.0.1",
                 "--cores", "1", "--memory", "1g", "--webui-port", str(free_port())],
                log, env={**base_env, "SPARK_WORKER_DIR": str(work_dir)}))
            wait_for_text(log, "Successfully registered with master", 120, worker)
            worker_dirs.append(work_dir)
        try:
            yield Cluster(master_url, worker_dirs)
        finally:
            stop_active_spark_session()  # the driver lets go of its executors before the cluster stops


def cluster_spark_config(master_url: str, cores: int) -> dict[str, str]:
    """The pipeline's Spark config pointed at a standalone master, for a run's `run_config`."""
    from spark_arxiv_assets.definitions import build_resources

    return {**build_resources()["pyspark"].spark_config, "spark.master": master_url,
            "spark.executor.memory": "512m", "spark.executor.cores": "1", "spark.cores.max": str(cores)}
