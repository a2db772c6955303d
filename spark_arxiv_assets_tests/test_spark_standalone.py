"""`spark.master` is configuration: the same asset runs on a standalone Spark cluster
(master + worker started from the pyspark wheel) without code changes, and the cluster's
processes are reaped afterwards."""
import pytest

from spark_arxiv_assets.definitions import all_assets, build_resources

from .months import SAMPLE_MONTH, pages as pages_of, run_months
from .spark_cluster import cluster_spark_config, standalone_cluster, stop_active_spark_session


@pytest.fixture
def cluster(tmp_path):
    with standalone_cluster(tmp_path, workers=1) as running:
        yield running


def test_extraction_runs_on_a_standalone_cluster_by_config_only(data_dir, cluster):
    stop_active_spark_session()  # a local session from another test would be reused by getOrCreate
    selection = [a for a in all_assets if {k.to_user_string() for k in a.keys} & {"arxiv_metadata", "arxiv_pdfs", "paper_pages"}]
    run_config = {"resources": {"pyspark": {"config": {"spark_config": cluster_spark_config(cluster.master_url, 1)}}}}
    result = run_months(selection, SAMPLE_MONTH, resources=build_resources(), run_config=run_config)
    assert result.success
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == "paper_pages"]
    assert event.materialization.metadata["spark_master"].value == cluster.master_url
    pages = pages_of(result)
    assert pages["paper_id"].nunique() == 5
    # Every task that produced pages ran in the worker's executor: its log names each task id.
    [ran_on_worker] = cluster.task_ids_by_worker()
    assert set(pages["spark_task_attempt"].astype(int)) <= ran_on_worker
