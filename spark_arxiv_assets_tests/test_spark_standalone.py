"""`spark.master` is configuration: the same asset runs on a standalone Spark cluster
(master + worker started from the pyspark wheel) without code changes."""
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dagster import materialize

from spark_arxiv_assets.definitions import all_assets, build_resources

from .fakes.loopback import free_port

SPARK_HOME = Path(__import__("pyspark").__file__).parent


def _wait_for(path: Path, text: str, timeout: float) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if path.exists() and text in path.read_text(errors="replace"):
            return
        time.sleep(0.5)
    raise TimeoutError(f"{text!r} not in {path}:\n{path.read_text(errors='replace')[-2000:] if path.exists() else ''}")


@pytest.fixture
def standalone_master(tmp_path):
    env = {**os.environ, "SPARK_HOME": str(SPARK_HOME), "PYSPARK_PYTHON": sys.executable}
    spark_class = str(SPARK_HOME / "bin" / "spark-class")
    port = free_port()
    master_url = f"spark://127.0.0.1:{port}"
    logs = {name: tmp_path / f"{name}.log" for name in ("master", "worker")}
    procs = [subprocess.Popen([spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                               "--port", str(port), "--webui-port", str(free_port())],
                              stdout=logs["master"].open("w"), stderr=subprocess.STDOUT, env=env)]
    try:
        _wait_for(logs["master"], "I have been elected leader", 60)
        procs.append(subprocess.Popen([spark_class, "org.apache.spark.deploy.worker.Worker", master_url,
                                       "--host", "127.0.0.1", "--cores", "1", "--memory", "1g",
                                       "--webui-port", str(free_port())],
                                      stdout=logs["worker"].open("w"), stderr=subprocess.STDOUT, env=env))
        _wait_for(logs["worker"], "Successfully registered with master", 60)
        yield master_url
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)


def test_extraction_runs_on_a_standalone_cluster_by_config_only(data_dir, standalone_master):
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:  # a local session from another test would be reused by getOrCreate
        active.stop()
    selection = [a for a in all_assets if {k.to_user_string() for k in a.keys} & {"arxiv_metadata", "arxiv_pdfs", "paper_pages"}]
    run_config = {"resources": {"pyspark": {"config": {"spark_config": {
        **build_resources()["pyspark"].spark_config, "spark.master": standalone_master,
        "spark.executor.memory": "512m", "spark.cores.max": "1"}}}}}
    try:
        result = materialize(selection, resources=build_resources(), run_config=run_config)
        assert result.success
        [event] = [e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == "paper_pages"]
        assert event.materialization.metadata["spark_master"].value == standalone_master
        pages = result.output_for_node("paper_pages", "paper_pages")
        assert pages["paper_id"].nunique() == 5 and pages["worker_pid"].nunique() >= 1
    finally:
        active = SparkSession.getActiveSession()
        if active is not None:
            active.stop()
