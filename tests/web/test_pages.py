"""The pages: every string a job carries comes back as text, never markup; scripts come
from /static only, under a Content-Security-Policy."""

from __future__ import annotations

import html
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import jobq
from tests.waiting import wait_for
from tests.web.conftest import client_for, work_off

QUEUE = "<img src=x onerror=alert('queue')>"
TASK = "<script>alert('task')</script>"
ARGUMENT = "<script>alert('argument')</script>"
MESSAGE = "<svg onload=alert('traceback')>"
STATIC = Path(jobq.__file__).parent / "web" / "static"


class Tags(HTMLParser):
    """Every start tag and its attributes, and the text inside <script> elements."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.script_text = ""
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.script_text += data.strip()


def parse(page: str) -> Tags:
    tags = Tags()
    tags.feed(page)
    return tags


def check_no_markup_got_through(page: str) -> None:
    tags = parse(page)
    names = {tag for tag, _ in tags.tags}
    assert not names & {"img", "svg", "iframe", "object"}, names
    assert not any(name.startswith("on") for _, attrs in tags.tags for name in attrs)
    scripts = [attrs for tag, attrs in tags.tags if tag == "script"]
    assert scripts and all((a.get("src") or "").split("static/")[0] in ("./", "../")
                           for a in scripts), scripts
    assert tags.script_text == ""  # no inline script at all


@pytest.fixture
def evil_job(app: jobq.App) -> jobq.Job:
    @app.task(name=TASK, queue=QUEUE)
    def evil(argument: str) -> None:
        raise ValueError(MESSAGE)

    job = evil.enqueue(ARGUMENT)
    work_off(app, (QUEUE,))
    wait_for(lambda: job.refresh().status is jobq.Status.FAILED, what="the job to fail")
    return job


def test_a_job_page_shows_markup_as_text(app: jobq.App, evil_job: jobq.Job) -> None:
    with client_for(app) as client:
        page = client.get(f"/jobs/{evil_job.id}")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    text = page.text
    for raw in (QUEUE, TASK, ARGUMENT, MESSAGE):
        assert raw not in text
    for shown in (QUEUE, TASK, MESSAGE):
        assert html.escape(shown) in text
    assert html.escape(f'"{ARGUMENT}"') in text  # the argument, as JSON, as text
    assert "Traceback (most recent call last)" in text
    check_no_markup_got_through(text)


def test_the_api_returns_the_strings_as_data(app: jobq.App, evil_job: jobq.Job) -> None:
    with client_for(app) as client:
        answer = client.get(f"/api/jobs/{evil_job.id}")
        stats = client.get("/api/stats")
        metrics = client.get("/metrics")
    job = answer.json()
    assert (job["queue"], job["task"], job["args"]) == (QUEUE, TASK, [ARGUMENT])
    assert MESSAGE in job["error"]["traceback"]
    for reply in (answer, stats):
        assert reply.headers["content-type"] == "application/json"
        assert reply.headers["x-content-type-options"] == "nosniff"
    assert QUEUE in stats.json()["queues"]
    assert metrics.headers["content-type"].startswith("text/plain")
    assert metrics.headers["x-content-type-options"] == "nosniff"


def test_every_page_sends_the_csp_and_no_inline_script(client: TestClient,
                                                       tasks_app: jobq.App) -> None:
    job = tasks_app.enqueue("add", 1, 2)
    missing = "/jobs/%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E"
    pages = {"/": 200, f"/jobs/{job.id}": 200, missing: 404}
    for path, status in pages.items():
        page = client.get(path)
        assert page.status_code == status
        policy = page.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "default-src 'none'" in policy
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
        assert "frame-ancestors 'none'" in policy
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["referrer-policy"] == "no-referrer"
        check_no_markup_got_through(page.text)
    assert html.escape("'<img src=x onerror=alert(1)>'") in client.get(missing).text


def test_the_dashboard_carries_no_job_data(client: TestClient, tasks_app: jobq.App) -> None:
    tasks_app.enqueue("add", 1, 2)
    page = client.get("/").text
    assert "add" not in page.replace("address", "")  # it is filled in by its script


@pytest.mark.parametrize("name", sorted(p.name for p in STATIC.glob("*.js")))
def test_scripts_write_text_never_html(name: str) -> None:
    source = (STATIC / name).read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(",
                 "new Function"):
        assert sink not in source, f"{name} uses {sink}"
