"""The Airflow UI in headless Debian chromium: log in, open newswire_reprocess, fill the trigger
form (dates and one source), trigger, and wait until the UI shows the run succeeded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kernel.settings import get_settings
from newswire.airflow_support import source_choices

pytestmark = [pytest.mark.airflow, pytest.mark.browser, pytest.mark.engine]

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Debian's chromium is not installed at {CHROMIUM} (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield browser
        browser.close()


def test_trigger_reprocess_from_the_form_and_see_it_succeed(browser, airflow_server):
    from playwright.sync_api import expect

    airflow_server.wait_for_dag("newswire_reprocess")
    today = datetime.now(UTC).date()
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(60_000)

    page.goto(f"{airflow_server.url}/")
    page.get_by_label("Username").fill(airflow_server.username)
    page.get_by_label("Password").fill(airflow_server.password)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(f"{airflow_server.url}/")

    page.goto(f"{airflow_server.url}/dags/newswire_reprocess")
    page.get_by_role("button", name="Trigger").first.click()
    form = page.get_by_role("dialog")
    form.locator("#element_since").fill((today - timedelta(days=1)).isoformat())
    form.locator("#element_until").fill(today.isoformat())
    form.locator("#element_sources").click()
    page.get_by_role("option", name=source_choices(get_settings())["tasnim"]).click()
    form.get_by_role("button", name="Trigger").click()

    page.wait_for_url("**/dags/newswire_reprocess/runs/**")
    run_id = page.url.rsplit("/runs/", 1)[1]
    # The run's own badge comes first; the task instances' badges follow in the table.
    expect(page.get_by_test_id("state-badge").first).to_have_text("Success", timeout=240_000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "airflow-reprocess-success.png"), full_page=True)

    run = airflow_server.api("GET", f"/dags/newswire_reprocess/dagRuns/{run_id}")
    assert run["state"] == "success"
    assert run["conf"] == {"since": (today - timedelta(days=1)).isoformat(), "until": today.isoformat(),
                           "sources": ["tasnim"], "mode": "update", "dry_run": False}
    result = airflow_server.task_result("newswire_reprocess", run_id, "reprocess_archive")
    assert result["sources"] == ["tasnim"]
    assert result["warc_files"] == 1 and result["records"] >= 1 and result["dead_letter"] == 0
    assert result["outputs"] and all("/processed/tasnim/" in path for path in result["outputs"])
