"""The folders are layers: Dagster-free code (core/, storage/, spark_tasks/, the chat) never imports
Dagster or the Dagster wiring, not even inside a function body, and the chat and the Spark task
bodies load no Dagster at all when imported."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "spark_arxiv_assets"
DAGSTER_FREE = ["core", "storage", "spark_tasks", "app"]
WIRING = ["assets", "resources", "io_managers", "sensors", "definitions", "months_run", "cli"]


def imported_modules(source: str, package: list[str]) -> list[tuple[int, str]]:
    """(line, absolute module) of every import in a module of `package`, wherever it is written."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            found.append((node.lineno, ".".join(base + ([node.module] if node.module else []))))
    return found


def forbidden(module: str) -> bool:
    top = module.split(".")
    if top[0] in ("dagster", "dagster_pyspark", "dagster_spark", "dagster_webserver"):
        return True
    return top[0] == "spark_arxiv_assets" and len(top) > 1 and top[1] in WIRING


@pytest.mark.parametrize("layer", DAGSTER_FREE)
def test_dagster_free_layers_import_no_dagster_and_no_wiring(layer):
    offending = [f"{path.relative_to(PACKAGE)}:{line} imports {module}"
                 for path in sorted((PACKAGE / layer).rglob("*.py"))
                 for line, module in imported_modules(path.read_text(), ["spark_arxiv_assets", *path.relative_to(PACKAGE).parent.parts])
                 if forbidden(module)]
    assert not offending, "\n".join(offending)


def test_the_check_sees_imports_inside_functions_and_relative_ones():
    """The test above would pass vacuously if it missed these forms."""
    source = "def f():\n    from ..io_managers.parquet import ParquetIOManager\n    import dagster\n"
    modules = [module for _, module in imported_modules(source, ["spark_arxiv_assets", "core"])]
    assert modules == ["spark_arxiv_assets.io_managers.parquet", "dagster"]
    assert all(forbidden(module) for module in modules)


def test_the_chat_and_the_spark_task_bodies_load_no_dagster():
    code = ("import sys; import spark_arxiv_assets.app.ui, spark_arxiv_assets.spark_tasks.extraction, "
            "spark_arxiv_assets.spark_tasks.chunking, spark_arxiv_assets.spark_tasks.embedding; "
            "print(sorted(m for m in sys.modules if m.split('.')[0].startswith('dagster')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


MAX_ASSET_FUNCTION_LINES = 40


def test_asset_bodies_stay_short_enough_to_read_as_the_pipeline():
    """Plan → run → report in the asset; metadata and the work itself in helpers beside it or in core/."""
    long = [f"{path.name}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
            for path in sorted((PACKAGE / "assets").glob("*.py"))
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.FunctionDef) and node.end_lineno - node.lineno + 1 > MAX_ASSET_FUNCTION_LINES]
    assert not long, "\n".join(long)
