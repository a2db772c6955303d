"""`spark.master` is configuration: the same asset runs on a standalone Spark cluster
(master + worker started from the pyspark wheel) without code changes, and the cluster's
processes are reaped afterwards."""
import os
import re
import sys
from pathlib import Path

import pytest

from spark_arxiv_assets.definitions import all_assets, build_resources

from .fakes.loopback import free_port
from .months import SAMPLE_MONTH, pages as pages_of, run_months
from .processes import reaped_process, wait_for_text

SPARK_HOME = Path(__import__("pyspark").__file__).parent


def stop_active_spark_session() -> None:
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        active.stop()


@pytest.fixture
def standalone_cluster(tmp_path):
    """A master and one 1-core worker on 127.0.0.1; yields (master URL, worker's work dir)."""
    work_dir = tmp_path / "work"
    env = {**os.environ, "SPARK_HOME": str(SPARK_HOME), "PYSPARK_PYTHON": sys.executable,
           "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_WORKER_DIR": str(work_dir)}
    spark_class = str(SPARK_HOME / "bin" / "spark-class")
    port = free_port()
    master_url = f"spark://127.0.0.1:{port}"
    master_log, worker_log = tmp_path / "master.log", tmp_path / "worker.log"
    with reaped_process([spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                         "--port", str(port), "--webui-port", str(free_port())], master_log, env=env) as master:
        wait_for_text(master_log, "I have been elected leader", 120, master)
        with reaped_process([spark_class, "org.apache.spark.deploy.worker.Worker", master_url, "--host", "127.0.0.1",
                             "--cores", "1", "--memory", "1g", "--webui-port", str(free_port())],
                            worker_log, env=env) as worker:
            wait_for_text(worker_log, "Successfully registered with master", 120, worker)
            try:
                yield master_url, work_dir
            finally:
                stop_active_spark_session()  # the driver lets go of its executor before the cluster stops


def test_extraction_runs_on_a_standalone_cluster_by_config_only(data_dir, standalone_cluster):
    master_url, work_dir = standalone_cluster
    stop_active_spark_session()  # a local session from another test would be reused by getOrCreate
    selection = [a for a in all_assets if {k.to_user_string() for k in a.keys} & {"arxiv_metadata", "arxiv_pdfs", "paper_pages"}]
    run_config = {"resources": {"pyspark": {"config": {"spark_config": {
        **build_resources()["pyspark"].spark_config, "spark.master": master_url,
        "spark.executor.memory": "512m", "spark.cores.max": "1"}}}}}
    result = run_months(selection, SAMPLE_MONTH, resources=build_resources(), run_config=run_config)
    assert result.success
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == "paper_pages"]
    assert event.materialization.metadata["spark_master"].value == master_url
    pages = pages_of(result)
    assert pages["paper_id"].nunique() == 5
    # Every task that produced pages ran in the worker's executor: its log names each task id.
    executor_logs = " ".join(p.read_text(errors="replace") for p in work_dir.glob("app-*/*/stderr"))
    ran_on_worker = {int(tid) for tid in re.findall(r"Running task \S+ in stage \S+ \(TID (\d+)\)", executor_logs)}
    assert set(pages["spark_task_attempt"].astype(int)) <= ran_on_worker
