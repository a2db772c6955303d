"""A real two-worker standalone cluster (two 1-core workers from the pyspark wheel on 127.0.0.1)
with every artifact in S3 (a real S3 API on 127.0.0.1): extraction, chunking and Spark-side
embedding give what `local[2]` gives, and tasks ran on both workers."""
import numpy as np
import pandas as pd
import pytest
from dagster import load_asset_checks_from_modules, load_assets_from_modules

from spark_arxiv_assets.assets import chunks, index, metadata, pages, pdfs
from spark_arxiv_assets.definitions import build_resources
from spark_arxiv_assets.storage.index_store import load_latest_index

from .months import SAMPLE_MONTH, run_months, table
from .months import pages as pages_of
from .spark_cluster import cluster_spark_config, standalone_cluster, stop_active_spark_session

MODULES = [metadata, pdfs, pages, chunks, index]
SELECTION = [*load_assets_from_modules(MODULES), *load_asset_checks_from_modules(MODULES)]


def _run(uri: str, spark_config: dict[str, str], monkeypatch):
    monkeypatch.setenv("SPARK_ARXIV_STORAGE_URI", uri)
    run_config = {"resources": {"pyspark": {"config": {"spark_config": spark_config}}},
                  "ops": {"chunk_index": {"config": {"embed_with_spark": True}}}}
    result = run_months(SELECTION, SAMPLE_MONTH, resources=build_resources(), run_config=run_config)
    assert result.success
    assert [e.check_name for e in result.get_asset_check_evaluations() if not e.passed] == []
    return result


def _vectors_by_chunk(uri: str) -> pd.Series:
    found = load_latest_index(uri)
    return pd.Series(list(found.vectors), index=found.chunks["chunk_id"]).sort_index()


@pytest.mark.slow
def test_two_workers_give_what_local_spark_gives_with_artifacts_in_s3(data_dir, s3_store, tmp_path, monkeypatch):
    local_uri, cluster_uri = f"{s3_store.uri}/local", f"{s3_store.uri}/cluster"
    # no credentials in the Spark config: the executors inherit the driver's AWS_* variables
    local = _run(local_uri, {**build_resources()["pyspark"].spark_config, "spark.master": "local[2]"}, monkeypatch)
    stop_active_spark_session()

    with standalone_cluster(tmp_path, workers=2, without=("AWS_",)) as cluster:  # credentials only from the driver
        on_cluster = _run(cluster_uri, cluster_spark_config(cluster.master_url, cores=2), monkeypatch)
        [event] = [e for e in on_cluster.get_asset_materialization_events()
                   if e.asset_key.to_user_string() == "paper_pages"]
        assert event.materialization.metadata["spark_master"].value == cluster.master_url
        per_worker = cluster.task_ids_by_worker()

    assert all(per_worker), f"a worker ran no task: {per_worker}"
    page_tasks = set(pages_of(on_cluster, cluster_uri)["spark_task_attempt"].astype(int))
    assert page_tasks <= per_worker[0] | per_worker[1]

    assert sorted(table(on_cluster, "paper_chunks")["chunk_id"]) == sorted(table(local, "paper_chunks")["chunk_id"])
    local_vectors, cluster_vectors = _vectors_by_chunk(local_uri), _vectors_by_chunk(cluster_uri)
    assert list(local_vectors.index) == list(cluster_vectors.index)
    np.testing.assert_allclose(np.stack(cluster_vectors.values), np.stack(local_vectors.values), atol=1e-5)
