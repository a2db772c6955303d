"""`chunk_index`: FAISS (exact or IVF) + BM25 over the chunks, updated incrementally."""
from typing import Callable

import numpy as np
import pandas as pd
from dagster import (AssetCheckResult, AssetExecutionContext, AssetIn, Config, MetadataValue, Output, ResourceParam, asset,
                     asset_check)

from ..core.chunk_index import ChunkIndex, IndexKind, IndexOptions, UpdateStats, update_chunk_index
from ..core.embeddings import encode_texts
from ..core.options import options_from
from ..core.progress import Progress
from ..io_managers.index_store import ChunkIndexIOManager
from ..resources.models import EmbeddingModel
from ..resources.spark import ArxivSparkResource
from ..spark_tasks.embedding import encode_with_spark
from .partitions import FOLLOWS_NEW_PARTITIONS, SPARK_POOL
from .usage import reports_usage

# Runs that go on to these load the student (and, in the same run, usually the local teacher): Spark's
# memory is worth handing back before them. Other runs keep Spark up for their next Spark job.
MODEL_ASSETS = {"student_adapter", "rag_evaluation"}


class IndexConfig(Config):
    """Index options (documented in `core/chunk_index.IndexOptions`), and how this run embeds."""
    kind: IndexKind = IndexOptions.kind
    ivf_threshold: int = IndexOptions.ivf_threshold
    nlist: int | None = IndexOptions.nlist
    nprobe: int = IndexOptions.nprobe
    retrain_growth: float = IndexOptions.retrain_growth
    full_rebuild: bool = False  # ignore the previous index and re-embed everything
    embed_with_spark: bool = False  # encode inside Spark tasks (one model per executor) instead of in-process


@asset(group_name="index", io_manager_key="chunk_index_io_manager", kinds={"faiss"},
       automation_condition=FOLLOWS_NEW_PARTITIONS, pool=SPARK_POOL)
@reports_usage
def chunk_index(context: AssetExecutionContext, config: IndexConfig, paper_chunks: pd.DataFrame,
                embedder: EmbeddingModel, pyspark: ArxivSparkResource,
                chunk_index_io_manager: ResourceParam[ChunkIndexIOManager]) -> Output[ChunkIndex]:
    """Embeds only chunks the previous index lacks, removes vanished ones, rebuilds BM25, and
    gives kept chunks their current pages, section and figure. The previous index comes from this
    asset's own IO manager, which owns where it lives; publishing fails, rather than overwrite,
    when another run published an index meanwhile."""
    previous = chunk_index_io_manager.load_latest()
    based_on = previous.manifest["loaded_version"] if previous is not None else chunk_index_io_manager.current_version()
    embed = _embedder(context, config, embedder, pyspark)
    index, stats = update_chunk_index(None if config.full_rebuild else previous, paper_chunks, embed,
                                      options_from(IndexOptions, config), embedder.model)
    stop_spark = _models_follow(context)
    if stop_spark:
        pyspark.stop_session()  # the last Spark asset: its JVM and workers would sit beside the models
    index.manifest["based_on"] = based_on  # published only if no other run published since (compare-and-swap)
    context.log.info(f"index: +{stats.added} -{stats.removed} ={stats.kept} ({index.dense.kind}, {index.size} vectors; "
                     f"dense index: {stats.rebuild_reason or 'updated in place'})")
    return Output(index, metadata={**_index_metadata(index, stats, embedder.model),
                                   "embedded_in": "spark" if config.embed_with_spark else "process",
                                   "spark_stopped_before_models": stop_spark})


def _embedder(context: AssetExecutionContext, config: IndexConfig, embedder: EmbeddingModel,
              pyspark: ArxivSparkResource) -> Callable[[list[str]], np.ndarray]:
    """texts → vectors, in this process or (`embed_with_spark`) in Spark tasks, with progress in the log."""
    def embed(texts: list[str]) -> np.ndarray:
        progress = Progress("embedding", len(texts), context.log.info, unit="chunks")
        if config.embed_with_spark and texts:
            vectors = encode_with_spark(pyspark.spark_context, texts, embedder.model, embedder.device,
                                        embedder.batch_size)
            progress.set(len(texts))
        else:
            vectors = encode_texts(embedder.load(), texts, embedder.batch_size, on_batch=progress.advance)
        progress.finish()
        return vectors
    return embed


def _index_metadata(index: ChunkIndex, stats: UpdateStats, model: str) -> dict:
    return {
        "vectors": index.size,
        "dimension": index.manifest["dim"],
        "index_kind": index.dense.kind,
        "embedding_model": model,
        "embedded_text": index.manifest["embedded_text"],  # tables are embedded by their outline
        "added": stats.added, "removed": stats.removed, "kept": stats.kept,
        "kept_rows_updated": stats.kept_rows_updated,
        "dense_rebuilt": stats.rebuilt_dense,
        "dense_rebuild_reason": stats.rebuild_reason or "updated in place",
        "ivf_trained_on": index.manifest["trained_on"] or 0,
        "embed_seconds": round(stats.embed_seconds, 2),
        "chunks_per_second": round(stats.added / stats.embed_seconds, 1) if stats.embed_seconds > 0 else 0.0,
        "build_seconds": round(stats.build_seconds, 3),
        "dense_memory_mb": round(index.dense.memory_bytes() / 1e6, 2),
        "bm25_documents": int(len(index.lexical.ids)),
        "papers": MetadataValue.int(int(index.chunks["paper_id"].nunique())),
    }


def _models_follow(context: AssetExecutionContext) -> bool:
    """Whether this run goes on to train or evaluate the student (in the same process when the
    executor is in-process, as in `arxiv-assets demo`)."""
    return any(key.to_user_string() in MODEL_ASSETS for key in context.job_def.asset_layer.selected_asset_keys)


@asset_check(asset=chunk_index, additional_ins={"paper_chunks": AssetIn("paper_chunks")},
             description="Index size equals the chunk count; every id maps back to a chunk; a chunk's own "
                         "vector finds that chunk first (or tied first).")
def index_matches_chunks(chunk_index: ChunkIndex, paper_chunks: pd.DataFrame) -> AssetCheckResult:
    expected = set(paper_chunks["vector_id"].astype("int64"))
    table_ids = set(chunk_index.chunks["vector_id"].astype("int64"))
    lexical_ids = set(chunk_index.lexical.ids.tolist())
    sample = np.linspace(0, chunk_index.size - 1, num=min(20, chunk_index.size), dtype=int) if chunk_index.size else []
    self_found = 0
    for row in sample:  # chunks embedded from the same text (a table's outline in each of its chunks) tie
        scores, ids = chunk_index.dense.search(chunk_index.vectors[row:row + 1], 10)
        tied = ids[0][scores[0] >= scores[0][0] - 1e-5]
        self_found += int(chunk_index.chunks["vector_id"].iloc[row]) in tied.tolist()
    passed = (chunk_index.dense.size == len(expected) == chunk_index.size and table_ids == expected
              and lexical_ids == expected and self_found == len(sample))
    return AssetCheckResult(passed=passed, metadata={
        "dense_size": chunk_index.dense.size, "chunks": len(expected), "table_matches": table_ids == expected,
        "bm25_matches": lexical_ids == expected, "self_queries_found": f"{self_found}/{len(sample)}"})
