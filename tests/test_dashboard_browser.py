"""The dashboard in a real browser: Debian's Chromium driven by Selenium (through Debian's
ChromeDriver: nothing is downloaded), against the dashboard served by uvicorn on
127.0.0.1, on SQLite with a fake clock. The screenshots in docs/dashboard.md and
docs/operations.md are taken here, so they show what the code renders."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from simple_async_tasks import AsyncTaskStatus
from simple_async_tasks.dashboard import create_dashboard
from simple_async_tasks.testing import FakeClock

from .cli_app import runs
from .ops_app import Invoice, Report, app
from .serving import serving

S = AsyncTaskStatus
TOKEN = "browser-test-token"
SHOTS = Path(__file__).resolve().parents[1] / "docs" / "images"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.fail(
            "the browser tests need Debian's Chromium and ChromeDriver: "
            "apt-get install -y chromium chromium-driver (.ci/run installs them)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,900",
    ):
        options.add_argument(flag)
    import tempfile

    with tempfile.TemporaryDirectory() as profile_dir:
        options.add_argument(f"--user-data-dir={profile_dir}")
        driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
        driver.set_page_load_timeout(30)
        try:
            yield driver
        finally:
            driver.quit()


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, FakeClock]]:
    monkeypatch.setenv("SAT_CLI_DIR", str(tmp_path))
    clock = FakeClock(datetime(2026, 1, 1, 6, 0, tzinfo=timezone.utc))
    app.use(f"sqlite:///{tmp_path / 't.db'}", clock=clock)
    try:
        with serving(create_dashboard(app, token=TOKEN)) as base:
            yield base, clock
    finally:
        app.use("memory://")


def run_worker() -> None:
    worker = app.worker(concurrency=1, schedule=False, poll_wait=timedelta(0), register=False)
    worker.run(max_idle=timedelta(seconds=0.3), handle_signals=False)


def fail_invoice(tmp_path: Path, invoice_id: str) -> None:
    (tmp_path / f"fail-{invoice_id}").touch()
    app.enqueue(Invoice(invoice_id=invoice_id, note="net 30"))
    run_worker()
    (tmp_path / f"fail-{invoice_id}").unlink()
    assert app.dao(Invoice).get(invoice_id).status is S.FAILED


def shot(browser: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SHOTS / f"dashboard-{name}.png"))


def text(browser: Any, css: str) -> str:
    """The text of the element at ``css``, waiting up to 10 s for it (a click on a form's
    button may return before the next page has loaded)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    located = expected_conditions.presence_of_element_located((By.CSS_SELECTOR, css))
    return str(WebDriverWait(browser, 10).until(located).text)


def submit(browser: Any, button: Any) -> None:
    """Click a form's button and wait until the next page replaced this one."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    page = browser.find_element(By.TAG_NAME, "html")
    button.click()
    WebDriverWait(browser, 10).until(lambda _: replaced(page))


def replaced(page: Any) -> bool:
    """Whether ``page`` has left the document: Selenium's ``staleness_of``, plus the form
    Chromium sometimes gives it while the next page loads ("Node with given id does not
    belong to the document", an unknown error rather than a stale element)."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException

    try:
        page.is_enabled()
    except StaleElementReferenceException:
        return True
    except WebDriverException as error:
        if "does not belong to the document" in str(error):
            return True
        raise
    return False


def sign_in(browser: Any, base: str) -> None:
    from selenium.webdriver.common.by import By

    browser.get(base + "/login")
    browser.find_element(By.NAME, "token").send_keys(TOKEN)
    submit(browser, browser.find_element(By.CSS_SELECTOR, "#login button"))
    assert text(browser, "#notice") == "signed in"


def test_the_pages_load_and_a_failed_task_is_retried_from_its_page(browser, served, tmp_path):
    from selenium.webdriver.common.by import By

    base, _ = served
    fail_invoice(tmp_path, "inv-7")
    app.enqueue(Invoice(invoice_id="inv-8"))
    sign_in(browser, base)
    browser.get(base + "/")
    assert "Invoice" in text(browser, "#stats")
    shot(browser, "overview")
    for path, marker in (
        ("/workers", "main"),
        ("/queues", "#queues"),
        ("/dead-letters", "main"),
        ("/schedules", "main"),
    ):
        browser.get(base + path)
        assert text(browser, marker)
        assert browser.title.endswith("simple-async-tasks")
    browser.get(base + "/queues")
    shot(browser, "queues")

    browser.get(base + "/tasks?task_type=Invoice&status=FAILED")
    assert "inv-7" in text(browser, "#tasks")
    shot(browser, "tasks")
    submit(browser, browser.find_element(By.LINK_TEXT, "inv-7"))
    assert "inv-7 is marked to fail" in text(browser, "#last-error")
    assert "attempt 1 started, 1 failed" in text(browser, "#history")
    shot(browser, "task")
    submit(browser, browser.find_element(By.CSS_SELECTOR, "#action-retry button"))
    assert text(browser, "#notice") == "retried Invoice inv-7"
    assert app.dao(Invoice).get("inv-7").status is S.QUEUED
    run_worker()
    browser.refresh()
    assert "FULFILLED" in text(browser, "#fields")
    assert "invoice inv-7" in runs(tmp_path)


def test_a_schedule_created_in_the_form_fires_once_at_its_time(browser, served, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    base, clock = served
    sign_in(browser, base)
    browser.get(base + "/schedules")
    form = browser.find_element(By.ID, "schedule-form")
    form.find_element(By.NAME, "name").send_keys("daily-sales")
    Select(form.find_element(By.NAME, "job_name")).select_by_value("Report")
    Select(form.find_element(By.NAME, "recurring_interval")).select_by_value("EVERY_DAY")
    for name, value in (("hour", "6"), ("minute", "30")):
        box = form.find_element(By.NAME, name)
        box.clear()
        box.send_keys(value)
    payload = form.find_element(By.NAME, "payload")
    payload.clear()
    payload.send_keys(json.dumps({"report": "sales", "recipients": ["ops@example.com"]}))
    form.find_element(By.NAME, "creator").send_keys("ada")
    submit(browser, form.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    assert text(browser, "#notice") == "created schedule daily-sales"
    assert "30 6 * * *" in text(browser, "#fields")
    browser.get(base + "/schedules")
    assert "2026-01-01T06:30:00+00:00" in text(browser, "#schedules")
    shot(browser, "schedules")

    scheduler = app.scheduler()
    clock.set(datetime(2026, 1, 1, 6, 29, 59, tzinfo=timezone.utc))
    assert scheduler.run_once().enqueued == 0  # not yet
    clock.set(datetime(2026, 1, 1, 6, 30, tzinfo=timezone.utc))
    assert scheduler.run_once().enqueued == 1
    clock.advance(20)
    assert scheduler.run_once().enqueued == 0  # once per occurrence
    run_worker()
    assert runs(tmp_path) == ["report sales 2026-01-01T06:30:00+00:00"]
    stored = app.dao(Report).find_by_status(S.FULFILLED).items
    assert [t.recipients for t in stored] == [["ops@example.com"]]

    # a bad schedule is refused by the form, with the reason, and nothing is stored
    browser.get(base + "/schedules")
    form = browser.find_element(By.ID, "schedule-form")
    form.find_element(By.NAME, "name").send_keys("broken")
    Select(form.find_element(By.NAME, "job_name")).select_by_value("Invoice")
    submit(browser, form.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    assert "no datetime field to hold the occurrence" in text(browser, "#error")
    assert [s.name for s in app.schedules().list()] == ["daily-sales"]


def test_without_the_token_actions_are_refused(browser, served, tmp_path):
    from selenium.webdriver.common.by import By

    base, _ = served
    fail_invoice(tmp_path, "inv-9")
    browser.delete_all_cookies()  # not signed in
    browser.get(base + "/task?task_type=Invoice&key=inv-9")
    submit(browser, browser.find_element(By.CSS_SELECTOR, "#action-retry button"))
    assert "sign in with the dashboard token first" in text(browser, "#error")
    assert app.dao(Invoice).get("inv-9").status is S.FAILED
    request = urllib.request.Request(
        base + "/api/tasks/Invoice/actions/retry",
        data=json.dumps({"unique_key": "inv-9"}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 401
    body = json.loads(refused.value.read())
    assert (body["success"], body["data"]) == (False, None)
    assert app.dao(Invoice).get("inv-9").status is S.FAILED
