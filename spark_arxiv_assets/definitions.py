"""Dagster entry point: `dagster dev` (see workspace.yaml) loads `defs` from here."""
from __future__ import annotations

import os

from dagster import (AssetSelection, Definitions, EnvVar, define_asset_job, load_asset_checks_from_modules,
                     load_assets_from_modules)

from .assets import chunks, evaluation, index, metadata, pages, pdfs, qa, student
from .io_managers.index_store import ChunkIndexIOManager
from .io_managers.model_dir import ModelDirIOManager
from .io_managers.page_files import PageFilesIOManager
from .io_managers.paper_tables import CatalogIOManager, PaperTableIOManager
from .io_managers.parquet import ParquetIOManager
from .resources.arxiv import ArxivClient
from .resources.arxiv_listing import ArxivListing
from .resources.kaggle import KaggleSnapshot
from .resources.models import EmbeddingModel
from .resources.spark import make_spark_resource
from .resources.storage import ArtifactStorage
from .resources.teacher import TeacherResource
from .sensors import (INGEST_JOB, TRAIN_JOB, arxiv_listing_sensor, index_follows_new_papers, new_pdfs_sensor,
                      retrain_when_enough_new_rows)
from .settings import STORAGE_URI_VARIABLE, data_dir

ASSET_MODULES = [metadata, pdfs, pages, chunks, index, qa, student, evaluation]


def from_environment(variable: str, default=None):
    """An EnvVar when the variable is set (Dagster resolves it when a run starts, and the UI shows the
    variable's name, not its value: keys, endpoints), else `default`."""
    return EnvVar(variable) if os.environ.get(variable) else default


def build_resources(spark_overrides: dict[str, str] | None = None, base_uri: str | None = None) -> dict:
    """`base_uri` (default: SPARK_ARXIV_STORAGE_URI, else the data dir) roots every artifact; the
    IO managers and `storage` each take it as config, so the launchpad can override it."""
    base_uri = base_uri or from_environment(STORAGE_URI_VARIABLE, str(data_dir()))
    return {
        "pyspark": make_spark_resource(spark_overrides),
        "arxiv": ArxivClient(),
        "arxiv_listing": ArxivListing(),
        "kaggle": KaggleSnapshot(),
        "embedder": EmbeddingModel(),
        "teacher": TeacherResource(api_key=from_environment("TEACHER_API_KEY")),
        "storage": ArtifactStorage(base_uri=base_uri),
        "catalog_io_manager": CatalogIOManager(base_uri=base_uri),
        "paper_table_io_manager": PaperTableIOManager(base_uri=base_uri),
        "parquet_io_manager": ParquetIOManager(base_uri=base_uri),
        "page_files_io_manager": PageFilesIOManager(base_uri=base_uri),
        "chunk_index_io_manager": ChunkIndexIOManager(base_uri=base_uri),
        "model_dir_io_manager": ModelDirIOManager(base_uri=base_uri),
    }


all_assets = load_assets_from_modules(ASSET_MODULES)
all_checks = load_asset_checks_from_modules(ASSET_MODULES)
everything_job = define_asset_job("materialize_everything", selection="*",
                                  description="The whole graph, as 'Materialize all' in the UI.")
ingest_job = define_asset_job(INGEST_JOB, selection=AssetSelection.groups("ingest", "extract"),
                              description="The per-paper assets of some months: metadata, PDFs, pages, chunks.")
train_job = define_asset_job(TRAIN_JOB, selection=AssetSelection.assets("student_adapter", "rag_evaluation"),
                             description="Fine-tune the student on qa_dataset and evaluate it against its base.")



def build_defs(resources: dict | None = None) -> Definitions:
    """The project's definitions; storage and Spark settings are read from the environment now."""
    return Definitions(assets=all_assets, asset_checks=all_checks, resources=resources or build_resources(),
                       jobs=[everything_job, ingest_job, train_job],
                       sensors=[new_pdfs_sensor, arxiv_listing_sensor, index_follows_new_papers,
                                retrain_when_enough_new_rows])


defs = build_defs()
