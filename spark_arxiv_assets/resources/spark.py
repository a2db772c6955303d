"""Spark through dagster-pyspark. The session starts lazily, so only assets that use
Spark pay for it (each step of a multiprocess run is its own process)."""
from __future__ import annotations

import os
import subprocess
import sys

from dagster_pyspark import LazyPySparkResource
from dagster_pyspark.resources import spark_session_from_config

LOOPBACK = "127.0.0.1"
# Variables executors need to reach the artifact store. Their values are copied from the
# driver's environment into `spark.executorEnv.*` when the session starts: never into Dagster's
# run or resource config, which the UI shows and the instance stores.
EXECUTOR_ENV_FROM_DRIVER = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL",
                            "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE", "GOOGLE_APPLICATION_CREDENTIALS",
                            "AZURE_STORAGE_ACCOUNT_NAME", "AZURE_STORAGE_ACCOUNT_KEY", "AZURE_STORAGE_CONNECTION_STRING",
                            "SPARK_ARXIV_STORAGE_URI"]


def driver_host() -> str:
    """Where executors reach the driver: loopback unless SPARK_ARXIV_DRIVER_HOST names an
    address the cluster can route to."""
    return os.environ.get("SPARK_ARXIV_DRIVER_HOST", LOOPBACK)


def default_spark_config() -> dict[str, str]:
    """`spark.master` comes from SPARK_ARXIV_SPARK_MASTER (default `local[*]`); any key can
    be overridden in the launchpad under resources.pyspark.config.spark_config.

    The driver (RPC and block manager) listens on the driver host only, loopback by default,
    and the UI is off: a laptop run opens no port to the network."""
    host = driver_host()
    return {
        "spark.master": os.environ.get("SPARK_ARXIV_SPARK_MASTER", "local[*]"),
        "spark.app.name": "spark_arxiv_assets",
        # Executors must run the same Python (and packages) as the driver.
        "spark.pyspark.python": sys.executable,
        "spark.pyspark.driver.python": sys.executable,
        "spark.driver.host": host,
        "spark.driver.bindAddress": os.environ.get("SPARK_ARXIV_DRIVER_BIND_ADDRESS", host),
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",  # progress goes to Dagster logs instead
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.python.worker.reuse": "true",
    }


class ArxivSparkResource(LazyPySparkResource):
    """dagster-pyspark's lazy session; executors also get the named variables of the driver's
    environment (by name in config, by value only inside the Spark session)."""

    executor_env_from_driver: list[str] = EXECUTOR_ENV_FROM_DRIVER

    def _init_session(self) -> None:
        if self._spark_session is None:
            inherited = {f"spark.executorEnv.{name}": os.environ[name]
                         for name in self.executor_env_from_driver if os.environ.get(name)}
            self._spark_session = spark_session_from_config({**inherited, **self.spark_config})

    def stop_session(self) -> None:
        """Stops the session this resource started and the driver JVM py4j launched for it (which
        outlives a stopped context), so the JVM and the Python workers (≈1.3 GB on the sample, the
        workers holding the embedder) leave before models load in the same process. A later use
        starts a new session and JVM."""
        if self._spark_session is None:
            return
        from pyspark import SparkContext

        self._spark_session.stop()
        self._spark_session = None
        gateway = SparkContext._gateway
        if gateway is not None:
            gateway.shutdown()
            if gateway.proc.stdin is not None:
                gateway.proc.stdin.close()  # the JVM exits when its stdin closes (pyspark's launch_gateway)
            try:
                gateway.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                gateway.proc.kill()
                gateway.proc.wait(timeout=30)
            SparkContext._gateway = SparkContext._jvm = None


def make_spark_resource(overrides: dict[str, str] | None = None) -> ArxivSparkResource:
    # `spark.pyspark.python` is read by spark-submit only; an in-process session takes the env var.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    if driver_host() == LOOPBACK:
        # Without it Spark looks up the machine's external address (and logs that it will use it).
        os.environ.setdefault("SPARK_LOCAL_IP", LOOPBACK)
    return ArxivSparkResource(spark_config={**default_spark_config(), **(overrides or {})})
