"""A local Spark session, configured as the assets configure it, listens on loopback only."""
from spark_arxiv_assets.resources.spark import make_spark_resource

from .processes import descendants, listening_sockets


def test_local_spark_listens_on_loopback_only():
    from pyspark import SparkContext

    resource = make_spark_resource()
    context = resource.spark_context
    assert context.parallelize(range(8), 2).map(lambda x: x * x).sum() == 140  # python workers started too
    jvm = SparkContext._gateway.proc.pid
    sockets = [s for pid in {jvm, *descendants(jvm)} for s in listening_sockets(pid)]
    assert sockets, "the driver's RPC endpoint should be listening"
    assert {address for address, _ in sockets} == {"127.0.0.1"}, sockets
    assert context.getConf().get("spark.driver.bindAddress") == "127.0.0.1"
    assert context.getConf().get("spark.ui.enabled") == "false"


def test_a_stopped_session_takes_its_jvm_and_workers_with_it_and_the_next_use_starts_afresh():
    from pyspark import SparkContext

    import time

    from .processes import is_alive

    resource = make_spark_resource()
    assert resource.spark_context.parallelize(range(4), 2).map(lambda x: x + 1).sum() == 10
    jvm = SparkContext._gateway.proc.pid
    workers = descendants(jvm)
    assert workers, "the Python workers should be running under the JVM"
    resource.stop_session()
    deadline = time.monotonic() + 15  # the workers leave once the JVM's daemon tells them to
    while any(is_alive(pid) for pid in {jvm, *workers}) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(is_alive(pid) for pid in {jvm, *workers})
    assert resource.spark_context.parallelize(range(4), 2).map(lambda x: x + 1).sum() == 10
    assert SparkContext._gateway.proc.pid != jvm
