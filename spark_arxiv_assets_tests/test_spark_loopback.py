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
