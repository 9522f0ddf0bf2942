"""The dashboard in a real browser (Debian's Chromium, driven by Playwright) against a live
``jobq serve`` on SQLite: it shows the queues and the failed jobs, shows markup as text,
and its retry button, with the token pasted once, brings a job back for a worker to run.

``make screenshot`` runs this test with ``--dashboard-png docs/dashboard.png`` to retake
the README's screenshot.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import jobq
from jobq.backends.base import WorkerInfo
from jobq.web import new_token
from tests.services import unavailable
from tests.waiting import wait_for
from tests.web import browser_app
from tests.web.live import Server, serving

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
WAIT_MS = 30_000
APP = "tests.web.browser_app:app"
WORKER_HOST = "web-1<i>.internal</i>"  # markup from a worker's host name: shown as text
ODD_QUEUE = "<img src=x onerror=\"document.title='pwned'\">"


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[jobq.App]:
    """The browser app on a store in tmp_path: a morning's jobs, three of them failed."""
    app = browser_app.app
    app.reconfigure(url=f"sqlite:///{tmp_path / 'jobs.db'}")
    app.migrate()
    for n in range(14):
        browser_app.resize.enqueue(f"photos/{n:03}.jpg", width=640)
    for name in ("ada", "bo", "cy", "di", "ed"):
        browser_app.send_welcome.enqueue(f"{name}@example.com")
    browser_app.send_welcome.enqueue("nobody")
    browser_app.render_invoice.enqueue(1042)
    app.enqueue("partner.sync_stock", str(tmp_path / "tried"))
    app.run_worker(concurrency=4, burst=True, queues=["default", "mail", "billing"])
    for n in range(3):
        browser_app.resize.enqueue(f"photos/{n:03}.png", width=1280)  # still pending
    browser_app.send_welcome.with_options(delay=3600).enqueue("fa@example.com")
    # A worker's row in the registry, as a running worker keeps it fresh.
    app.backend.register_worker(WorkerInfo("web-1:4242:ab12cd", "web-1", 4242, time.time(),
                                           ("default", "mail", "billing"), ()))
    yield app
    app.close()


@pytest.fixture
def page(tmp_path: Path) -> Iterator[object]:
    if not CHROMIUM.exists():
        unavailable("Chromium", f"{CHROMIUM} is missing (make test installs it with apt-get)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.set_default_timeout(WAIT_MS)
            sync_api.expect.set_options(timeout=WAIT_MS)  # expect() has its own default
            yield context.new_page()
        finally:
            browser.close()


def _job_in(app: jobq.App, task: str, status: jobq.Status) -> jobq.Job:
    (job,) = app.jobs(task=task, status=status)
    return job


def test_the_dashboard_in_a_browser(shop: jobq.App, page: object, tmp_path: Path,
                                    request: pytest.FixtureRequest) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    stuck = _job_in(shop, "partner.sync_stock", jobq.Status.FAILED)
    token = new_token()
    # Run from tmp_path with a relative URL: the header shows sqlite:///jobs.db.
    with serving(tmp_path, ["--app", APP, "--url", "sqlite:///jobs.db"],
                 ["--token", token]) as server:
        page.goto(server.base + "/")
        page.fill("#token-input", token)
        page.click("#token-form button[type=submit]")
        expect(page.locator("#token-state")).to_have_text("set for this tab")

        _shows_the_queues_and_failures(page, shop)
        _shows_throughput_workers_and_periodic(page)
        page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
        wanted = request.config.getoption("--dashboard-png")
        if wanted:
            shutil.copyfile(tmp_path / "dashboard.png", wanted)

        _shows_markup_as_text(page, shop)
        _refreshing_pauses_while_hidden(page, shop)
        _retry_then_a_worker_runs_it(page, shop, server, stuck)
        page.screenshot(path=str(tmp_path / "job.png"), full_page=True)
    assert (tmp_path / "dashboard.png").stat().st_size > 10_000


def _shows_the_queues_and_failures(page: object, shop: jobq.App) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    stats = shop.stats()
    for queue in ("default", "mail", "billing"):
        row = page.locator(f'#queues tbody tr[data-queue="{queue}"]')
        expect(row).to_be_visible()
        for state, count in stats[queue].items():
            expect(row.locator(f'td[data-state="{state}"]')).to_have_text(f"{count:,}")
    failed = page.locator("#failed > li")
    expect(failed).to_have_count(3)
    stuck = _job_in(shop, "partner.sync_stock", jobq.Status.FAILED)
    item = page.locator(f'#failed li[data-job-id="{stuck.id}"]')
    expect(item.locator(".error-line")).to_have_text(
        "TimeoutError: partner API did not answer within 10s")
    item.locator("summary").click()
    expect(item.locator("pre.traceback")).to_contain_text("Traceback (most recent call last)")
    # The invoice's error holds markup: it shows as the text it is.
    invoice = _job_in(shop, "billing.render_invoice", jobq.Status.FAILED)
    line = page.locator(f'#failed li[data-job-id="{invoice.id}"] .error-line')
    expect(line).to_contain_text("<b>{{ total }}</b>")
    expect(line.locator("b")).to_have_count(0)


def _shows_throughput_workers_and_periodic(page: object) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    # The burst worker's succeeded and failed attempts, as bars of this minute.
    expect(page.locator("#throughput svg rect.bar.succeeded").first).to_be_attached()
    expect(page.locator("#throughput svg rect.bar.failed").first).to_be_attached()
    expect(page.locator("#throughput-totals")).to_contain_text("succeeded ")
    oldest = page.locator('#queues tbody tr[data-queue="default"] td.oldest')
    expect(oldest).to_have_text(re.compile(r"^\d+ s$"))
    worker = page.locator('#workers tbody tr[data-worker-id="web-1:4242:ab12cd"]')
    expect(worker).to_contain_text("ago")
    expect(page.locator("#leader")).to_have_text(re.compile("^leader: none"))


def _shows_markup_as_text(page: object, shop: jobq.App) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    browser_app.resize.with_options(queue=ODD_QUEUE).enqueue("<script>x</script>", width=1)
    shop.backend.register_worker(WorkerInfo("web-2:1:ef34ab", WORKER_HOST, 1, time.time(),
                                            (ODD_QUEUE,), ()))
    worker = page.locator('#workers tbody tr[data-worker-id="web-2:1:ef34ab"]')
    expect(worker.locator("td").nth(1)).to_have_text(WORKER_HOST)
    expect(page.locator("#workers i, #workers img")).to_have_count(0)
    # The next refresh brings the new queue; its name is text, not an element.
    header = page.locator("#queues tbody th", has_text="onerror")
    expect(header).to_have_text(ODD_QUEUE)
    expect(page.locator("#queues img")).to_have_count(0)
    assert page.title() != "pwned"
    link = page.locator("#recent tbody tr").first.locator("td.task")
    expect(link).to_have_text("images.resize")


HIDE = """() => {
  Object.defineProperty(document, "hidden", {configurable: true, get: () => true});
  Object.defineProperty(document, "visibilityState", {configurable: true, get: () => "hidden"});
  document.dispatchEvent(new Event("visibilitychange"));
}"""
SHOW = """() => {
  delete document.hidden;
  delete document.visibilityState;
  document.dispatchEvent(new Event("visibilitychange"));
}"""


def _refreshing_pauses_while_hidden(page: object, shop: jobq.App) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    body = page.locator("body")
    expect(body).to_have_attribute("data-refreshing", "on")
    page.evaluate(HIDE)  # as the browser does when the tab goes to the background
    expect(body).to_have_attribute("data-refreshing", "paused")
    hidden_at = int(body.get_attribute("data-refreshes") or 0)
    job = browser_app.resize.with_options(queue="thumbnails").enqueue("a.png", width=64)
    page.evaluate(SHOW)
    expect(body).to_have_attribute("data-refreshing", "on")
    expect(page.locator(f'#recent tr[data-job-id="{job.id}"]')).to_be_visible()
    expect(page.locator('#queues tbody tr[data-queue="thumbnails"]')).to_be_visible()
    assert int(body.get_attribute("data-refreshes") or 0) > hidden_at


def _retry_then_a_worker_runs_it(page: object, shop: jobq.App, server: Server,
                                 stuck: jobq.Job) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    page.locator(f'#failed li[data-job-id="{stuck.id}"] button.retry').click()
    wait_for(lambda: stuck.refresh().status is jobq.Status.PENDING, what="the retry to land")
    expect(page.locator(f'#failed li[data-job-id="{stuck.id}"]')).to_have_count(0)
    expect(page.locator("#failed > li")).to_have_count(2)

    shop.run_worker(concurrency=1, burst=True, queues=["default"])
    assert stuck.result(timeout=30) == "stock synced"
    row = page.locator(f'#recent tr[data-job-id="{stuck.id}"]')
    expect(row.locator(".status")).to_have_text("succeeded")

    row.locator("a").click()
    expect(page.locator("#job h1 .status")).to_have_text("succeeded")
    expect(page.locator(".timeline")).to_contain_text("finished: succeeded")
    expect(page.locator(".fields")).to_contain_text("1 of at most 1")
    status, body = server.call(f"/api/jobs/{stuck.id}")
    assert status == 200 and body["result"] == "stock synced"
    assert json.loads(page.locator("pre.json").first.inner_text())["args"] == body["args"]
