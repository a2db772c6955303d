"""What CI gates: a skipped test fails a run that allows none (as .ci/run's does), and the demo's
last line says FAILED when a blocking check failed, agreeing with its exit status."""
from __future__ import annotations

import os
import subprocess
import sys

from dagster import AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, DagsterInstance, Output, asset, materialize

from spark_arxiv_assets.cli import demo_report

from .conftest import PROJECT_ROOT

SKIPPING = """
import pytest

def test_needs_a_browser():
    pytest.skip("Debian chromium/chromium-driver not installed")

def test_runs():
    pass
"""


def _pytest(folder, **env) -> subprocess.CompletedProcess:
    (folder / "test_gate.py").write_text(SKIPPING)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                           "-p", "spark_arxiv_assets_tests.conftest", str(folder / "test_gate.py")],
                          cwd=folder, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT), **env},
                          capture_output=True, text=True, timeout=300)


def test_a_skip_fails_a_run_that_allows_none_and_says_why(tmp_path):
    strict = _pytest(tmp_path, SPARK_ARXIV_NO_SKIPS="1")
    assert strict.returncode == 1, strict.stdout
    assert "1 passed, 1 skipped" in strict.stdout and "chromium-driver not installed" in strict.stdout
    assert "allows none" in strict.stdout
    assert _pytest(tmp_path, SPARK_ARXIV_NO_SKIPS="0").returncode == 0  # a developer's run may skip


def test_the_demo_says_failed_last_when_a_blocking_check_failed():
    @asset(check_specs=[AssetCheckSpec("blocks", asset="tiny")])
    def tiny():
        yield Output(1)
        yield AssetCheckResult(check_name="blocks", passed=False, severity=AssetCheckSeverity.ERROR)

    result = materialize([tiny], instance=DagsterInstance.ephemeral(), raise_on_error=False)
    assert result.success  # the run itself succeeded...
    lines, status = demo_report(result, 12.0)
    assert status == 1 and lines[-1] == "FAILED (1 blocking check failed) in 12s."  # ...the demo did not
    assert "  check failed: tiny:blocks" in lines


def test_every_relative_link_in_the_readme_and_docs_resolves():
    """The README is short and points into docs/: a moved section must not leave a dead link."""
    import re

    def slug(heading: str) -> str:
        return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")

    def anchors(page) -> set[str]:
        text = page.read_text()
        return {slug(h) for h in re.findall(r"^#+ (.*)$", text, re.M)} | set(re.findall(r'<a id="([^"]+)">', text))

    dead = []
    for page in [PROJECT_ROOT / "README.md", *sorted((PROJECT_ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            path, _, anchor = target.partition("#")
            dest = (page.parent / path).resolve() if path else page
            if not dest.exists() or (anchor and dest.suffix == ".md" and anchor not in anchors(dest)):
                dead.append(f"{page.name}: {target}")
    assert dead == []
