"""Dagster entry point: `dagster dev` (see workspace.yaml) loads `defs` from here."""
from __future__ import annotations

from dagster import (AssetSelection, Definitions, define_asset_job, load_asset_checks_from_modules,
                     load_assets_from_modules)

from .assets import chunks, evaluation, index, metadata, pages, pdfs, qa, student
from .io_managers.index_store import ChunkIndexIOManager
from .io_managers.model_dir import ModelDirIOManager
from .io_managers.page_files import PageFilesIOManager
from .io_managers.parquet import ParquetIOManager
from .resources.arxiv import ArxivClient
from .resources.arxiv_listing import ArxivListing
from .resources.kaggle import KaggleSnapshot
from .resources.models import EmbeddingModel
from .resources.spark import make_spark_resource
from .resources.teacher import TeacherResource
from .sensors import (INGEST_JOB, TRAIN_JOB, arxiv_listing_sensor, index_follows_new_papers, new_pdfs_sensor,
                      retrain_when_enough_new_rows)

ASSET_MODULES = [metadata, pdfs, pages, chunks, index, qa, student, evaluation]


def build_resources(spark_overrides: dict[str, str] | None = None) -> dict:
    return {
        "pyspark": make_spark_resource(spark_overrides),
        "arxiv": ArxivClient(),
        "arxiv_listing": ArxivListing(),
        "kaggle": KaggleSnapshot(),
        "embedder": EmbeddingModel(),
        "teacher": TeacherResource(),
        "parquet_io_manager": ParquetIOManager(),
        "page_files_io_manager": PageFilesIOManager(),
        "chunk_index_io_manager": ChunkIndexIOManager(),
        "model_dir_io_manager": ModelDirIOManager(),
    }


all_assets = load_assets_from_modules(ASSET_MODULES)
all_checks = load_asset_checks_from_modules(ASSET_MODULES)
everything_job = define_asset_job("materialize_everything", selection="*",
                                  description="The whole graph, as 'Materialize all' in the UI.")
ingest_job = define_asset_job(INGEST_JOB, selection=AssetSelection.groups("ingest", "extract"),
                              description="The per-paper assets of some months: metadata, PDFs, pages, chunks.")
train_job = define_asset_job(TRAIN_JOB, selection=AssetSelection.assets("student_adapter", "rag_evaluation"),
                             description="Fine-tune the student on qa_dataset and evaluate it against its base.")

defs = Definitions(assets=all_assets, asset_checks=all_checks, resources=build_resources(),
                   jobs=[everything_job, ingest_job, train_job],
                   sensors=[new_pdfs_sensor, arxiv_listing_sensor, index_follows_new_papers,
                            retrain_when_enough_new_rows])
