"""What users do first: `dagster dev`, open the lineage page, click "Materialize all", launch
the backfill of every month it offers, and watch it finish, in headless Chromium. Then the
instance is asked whether every asset materialized and every check passed, and the adapter is loaded
with plain PEFT and generates. This is the slow suite's one run of the default-size graph."""
import os
import sys
import time
import urllib.request

import pytest

from .adapters import assert_adapter_generates
from .browser import headless_chromium
from .conftest import PROJECT_ROOT
from .fakes.loopback import free_port
from .processes import reaped_process

ASSETS = {"arxiv_metadata", "arxiv_pdfs", "paper_pages", "quarantined_papers", "paper_chunks", "chunk_index",
          "qa_pairs", "qa_dataset", "student_adapter", "rag_evaluation"}


def _wait_for(url: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(2)
    raise TimeoutError(f"{url} did not answer within {timeout_s:.0f}s")


def _click_button(driver, label: str, timeout_s: float = 60) -> bool:
    """Clicks the button whose text is `label` (a trailing "…" ignored: it only says a dialog follows).
    A click can land while a dialog is still closing or React re-renders the button (seen once in CI,
    right after "Skip"): such a click is retried until `timeout_s`, not taken as a missing button."""
    from selenium.common.exceptions import (ElementClickInterceptedException, ElementNotInteractableException,
                                            StaleElementReferenceException)
    from selenium.webdriver.common.by import By

    retry = (ElementClickInterceptedException, ElementNotInteractableException, StaleElementReferenceException)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            button = next((b for b in driver.find_elements(By.TAG_NAME, "button")
                           if b.text.strip().rstrip("…") == label), None)
            if button is not None:
                button.click()
                return True
        except retry:
            pass
        time.sleep(0.5)
    return False


def _figure_thumbnails(driver, asset_url: str) -> list[int]:
    """Widths of the figure thumbnails that `paper_chunks`' figures_preview shows once its
    "[Show Markdown]" is opened on the asset page (images loaded from data: URIs)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(asset_url)
    _click_button(driver, "Skip", timeout_s=5)
    key = WebDriverWait(driver, 60).until(lambda d: d.find_element(By.XPATH, "//*[text()='figures_preview']"))
    key.find_element(By.XPATH, "./ancestor::tr").find_element(By.TAG_NAME, "a").click()
    loaded = "return arguments[0].complete ? arguments[0].naturalWidth : 0"
    return WebDriverWait(driver, 30).until(lambda d: [
        width for img in d.find_elements(By.CSS_SELECTOR, "img[src^='data:image/png']")
        if (width := d.execute_script(loaded, img))])


@pytest.fixture
def dagster_dev(tmp_path):
    """`dagster dev` on a free port with its own DAGSTER_HOME and data dir."""
    home, data = tmp_path / "dagster_home", tmp_path / "data"
    home.mkdir()
    port = free_port()
    env = {**os.environ, "DAGSTER_HOME": str(home), "SPARK_ARXIV_DATA_DIR": str(data)}
    command = [sys.executable, "-m", "dagster", "dev", "-h", "127.0.0.1", "-p", str(port)]
    with reaped_process(command, tmp_path / "dagster-dev.log", env=env, cwd=PROJECT_ROOT):
        _wait_for(f"http://127.0.0.1:{port}/server_info", 240)
        yield f"http://127.0.0.1:{port}", home, data


@pytest.mark.slow
@pytest.mark.browser
def test_materialize_all_from_the_ui_succeeds_with_every_check_passing(dagster_dev, test_output):
    from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter
    from dagster._core.execution.backfill import BulkActionStatus  # not exported; the instance API returns it
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    url, home, data = dagster_dev
    instance = DagsterInstance.from_config(str(home))
    with headless_chromium(1600, 1000) as driver:
        driver.get(f"{url}/asset-groups")
        _click_button(driver, "Skip", timeout_s=15)  # the first-visit newsletter dialog, if shown
        assert _click_button(driver, "Materialize all"), "no 'Materialize all' button on the lineage page"
        # Partitioned assets: the dialog selects the months ("All") and launches one backfill; the
        # months run as a single run, then the unpartitioned assets.
        assert _click_button(driver, "All"), "no 'All' in the partition dialog"
        driver.save_screenshot(str(test_output / "dagster-backfill-dialog.png"))
        assert _click_button(driver, "Launch backfill"), "no 'Launch backfill' in the partition dialog"

        deadline = time.monotonic() + 1200
        while not instance.get_backfills() and time.monotonic() < deadline:
            time.sleep(2)
        [backfill] = instance.get_backfills()
        while instance.get_backfill(backfill.backfill_id).status == BulkActionStatus.REQUESTED \
                and time.monotonic() < deadline:
            time.sleep(5)
        backfill = instance.get_backfill(backfill.backfill_id)
        runs = instance.get_runs(filters=RunsFilter(tags={"dagster/backfill": backfill.backfill_id}))

        driver.get(f"{url}/runs/b/{backfill.backfill_id}")
        WebDriverWait(driver, 60).until(  # one "100% completed" bar per asset
            lambda d: d.find_element(By.TAG_NAME, "body").text.count("100% completed") == len(ASSETS))
        driver.save_screenshot(str(test_output / "dagster-run.png"))
        page = driver.find_element(By.TAG_NAME, "body").text
        thumbnails = _figure_thumbnails(driver, f"{url}/assets/paper_chunks")
        driver.save_screenshot(str(test_output / "dagster-figures.png"))

    assert backfill.status == BulkActionStatus.COMPLETED_SUCCESS, f"backfill {backfill.backfill_id}: {backfill.status}"
    assert runs and all(r.status == DagsterRunStatus.SUCCESS for r in runs)
    assert page.count("100% completed") == len(ASSETS) and "Succeeded" in page
    assert thumbnails and all(40 <= width <= 160 for width in thumbnails), thumbnails  # the sample's figure
    records = [r for run in runs for r in instance.get_records_for_run(
        run.run_id, of_type={DagsterEventType.ASSET_MATERIALIZATION, DagsterEventType.ASSET_CHECK_EVALUATION}).records]
    events = [r.event_log_entry.dagster_event for r in records]
    materialized = {e.asset_key.to_user_string() for e in events if e.is_step_materialization}
    assert materialized == ASSETS
    sample_month = [e.partition for e in events if e.is_step_materialization
                    and e.asset_key.to_user_string() == "paper_pages" and e.partition == "2000-01"]
    assert sample_month, "the sample's month was not among the backfilled partitions"
    checks = [e.event_specific_data for e in events if e.event_type == DagsterEventType.ASSET_CHECK_EVALUATION]
    assert len(checks) >= len(ASSETS) and [c.check_name for c in checks if not c.passed] == []
    assert (data / "evaluation" / "summary.json").exists()
    assert (data / "synthetic_arxiv_qa_dataset.json").exists()
    assert_adapter_generates(data / "models" / "final_adapter" / "current")
