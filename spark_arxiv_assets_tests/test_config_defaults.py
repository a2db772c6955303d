"""Each default is written once: a Dagster Config field that sets an option of a core dataclass takes its
default from that dataclass (by reference, not a copied literal), and the options an asset builds from
its config carry every such field by name."""
from __future__ import annotations

import ast
import dataclasses
import inspect

import pytest

from spark_arxiv_assets.assets.chunks import ChunksConfig
from spark_arxiv_assets.assets.evaluation import EvaluationConfig
from spark_arxiv_assets.assets.index import IndexConfig
from spark_arxiv_assets.assets.pages import PagesConfig
from spark_arxiv_assets.assets.qa import QaConfig
from spark_arxiv_assets.assets.student import StudentConfig
from spark_arxiv_assets.core.chunk_index import IndexOptions
from spark_arxiv_assets.core.chunking import ChunkingOptions
from spark_arxiv_assets.core.defaults import PASSAGES_K
from spark_arxiv_assets.core.options import options_from
from spark_arxiv_assets.core.pdf_text import ExtractionOptions
from spark_arxiv_assets.core.qa_filters import FilterOptions
from spark_arxiv_assets.core.raft import RaftOptions
from spark_arxiv_assets.core.student_training import TrainingOptions

# (Config, options dataclass, {dataclass field: config field} where the names differ)
PAIRS = [(PagesConfig, ExtractionOptions, {}), (ChunksConfig, ChunkingOptions, {}), (IndexConfig, IndexOptions, {}),
         (QaConfig, FilterOptions, {}), (QaConfig, RaftOptions, {"order": "passage_order"}),
         (StudentConfig, TrainingOptions, {})]


def shared_fields(config_cls, options_cls, renamed: dict[str, str]) -> dict[str, str]:
    """dataclass field → the config field that sets it."""
    config_fields = set(config_cls.model_fields)
    return {f.name: renamed.get(f.name, f.name) for f in dataclasses.fields(options_cls)
            if renamed.get(f.name, f.name) in config_fields}


@pytest.mark.parametrize("config_cls, options_cls, renamed", PAIRS, ids=lambda v: getattr(v, "__name__", ""))
def test_config_defaults_are_the_options_defaults_and_options_are_built_by_name(config_cls, options_cls, renamed):
    shared = shared_fields(config_cls, options_cls, renamed)
    assert shared, f"{config_cls.__name__} sets no field of {options_cls.__name__}"
    config, defaults = config_cls(), options_cls()
    for option, field in shared.items():
        assert getattr(config, field) == getattr(defaults, option), f"{config_cls.__name__}.{field}"
    assert options_from(options_cls, config, **renamed) == defaults
    marked = config.model_copy(update={field: f"<{field}>" for field in shared.values()})
    unchecked = type(options_cls.__name__, (options_cls,), {"__post_init__": lambda self: None})  # markers, not values
    built = options_from(unchecked, marked, **renamed)
    assert {option: getattr(built, option) for option in shared} == {o: f"<{f}>" for o, f in shared.items()}


@pytest.mark.parametrize("config_cls, options_cls, renamed", PAIRS, ids=lambda v: getattr(v, "__name__", ""))
def test_config_fields_reference_the_dataclass_default_instead_of_copying_it(config_cls, options_cls, renamed):
    [class_def] = ast.parse(inspect.getsource(config_cls)).body
    defaults = {node.target.id: node.value for node in class_def.body if isinstance(node, ast.AnnAssign)}
    copied = [field for field in shared_fields(config_cls, options_cls, renamed).values()
              if not (isinstance(defaults[field], ast.Attribute) and isinstance(defaults[field].value, ast.Name)
                      and defaults[field].value.id == options_cls.__name__)]
    assert not copied, f"{config_cls.__name__} writes its own default for {copied}"


def test_the_number_of_passages_is_one_fact():
    assert EvaluationConfig().k == QaConfig().passages == RaftOptions().passages == PASSAGES_K


def test_the_configuration_reference_is_generated_from_the_current_code():
    from spark_arxiv_assets.config_reference import TARGET, render

    assert TARGET.read_text() == render(), "docs/configuration.md is stale: run `make docs`"
