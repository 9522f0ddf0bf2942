"""The dashboard (``/``) and a job's page (``/jobs/{id}``).

The dashboard is a page without data: its script (static/dashboard.js) reads the JSON
API and writes every value with ``textContent``. A job's page is rendered here, every
value through ``h()`` (HTML-escaped), so a task name, queue, argument or traceback that
holds markup shows as the text it is. Neither page has inline script: the
Content-Security-Policy (jobq.web.guard) allows scripts from /static only.
"""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from string import Template
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from jobq.backends.base import Links
from jobq.config import redact_url
from jobq.errors import JobNotFound
from jobq.job import FINISHED, JobRecord, Status
from jobq.jobjson import iso
from jobq.web.state import state

TEMPLATES = Path(__file__).parent / "templates"
DASHBOARD_REFRESH = 5  # seconds; the pages' scripts read it from <body data-refresh>
JOB_REFRESH = 3
# Paths whose errors are answered in JSON; pages get an HTML error page.
JSON_PATHS = ("/api/", "/metrics", "/openapi.json")

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)


@cache
def _template(name: str) -> Template:
    return Template((TEMPLATES / name).read_text(encoding="utf-8"))


def h(value: object) -> str:
    """``value`` as HTML text: markup in it is shown, never interpreted."""
    return html.escape(str(value), quote=True)


def _page(request: Request, title: str, body: str, scripts: tuple[str, ...] = (),
          refresh: int | None = None) -> str:
    root = _root(request.url.path)
    tags = "\n".join(f'<script src="{root}static/{name}" defer></script>' for name in scripts)
    return _template("base.html").substitute(
        title=h(title), root=root, scripts=tags, body=body, refresh=refresh or "",
        store=h(redact_url(state(request).app.settings.url)),
    )


def _root(path: str) -> str:
    """The relative way back to the app's root from ``path``, so the pages work unchanged
    behind a reverse proxy that serves them under a prefix (``/jobq/``)."""
    depth = max(path.count("/") - 1, 0)
    return "../" * depth or "./"


@router.get("/")
def dashboard(request: Request) -> str:
    headers = "".join(f'<th scope="col" class="status-{s.value}">{s.value}</th>' for s in Status)
    body = _template("dashboard.html").substitute(status_headers=headers,
                                                  refresh=DASHBOARD_REFRESH)
    return _page(request, "dashboard", body, ("dashboard.js",), DASHBOARD_REFRESH)


@router.get("/jobs/{job_id}")
def job_page(request: Request, job_id: str) -> str:
    app = state(request).app
    job = app.get_job(job_id)
    if job is None:
        raise JobNotFound(f"no job with id {job_id!r}")
    record: JobRecord = job.record
    links = app.backend.links(record.id)
    finished = record.status in FINISHED
    body = _template("job.html").substitute(
        job_id=h(record.id), finished="true" if finished else "false",
        status=h(record.status.value), actions=_actions(record), fields=_fields(record),
        timeline=_timeline(record), error=_error(record), links=_links(request, links),
        call=h(_json(
            {"args": record.args, "kwargs": record.kwargs})),
        result=_section("Result", f'<pre class="json">{h(_json(record.result))}</pre>')
        if record.status is Status.SUCCEEDED else "",
        refresh_note="" if finished else
        f"refreshes every {JOB_REFRESH} s while this tab is visible and the job is unfinished",
    )
    return _page(request, f"job {record.id}", body, ("job.js",),
                 None if finished else JOB_REFRESH)


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False)


def _section(title: str, inner: str) -> str:
    return f"<section><h2>{h(title)}</h2>{inner}</section>"


def _actions(record: JobRecord) -> str:
    buttons = []
    if record.status in (Status.FAILED, Status.CANCELLED):
        buttons.append(f'<button type="button" class="retry" data-action="retry" '
                       f'data-job-id="{h(record.id)}">Retry</button>')
    if record.status not in FINISHED:
        buttons.append(f'<button type="button" class="cancel" data-action="cancel" '
                       f'data-job-id="{h(record.id)}">Cancel</button>')
    return "".join(buttons)


def _fields(record: JobRecord) -> str:
    rows: list[tuple[str, object]] = [
        ("task", record.task),
        ("queue", record.queue),
        ("attempts", f"{record.attempts} of at most {record.max_attempts}"),
        ("priority", record.priority),
    ]
    if record.key:
        rows.append(("idempotency key", record.key))
    if record.timeout:
        rows.append(("time limit", f"{record.timeout:g} s"))
    if record.worker_id:
        rows.append(("worker", record.worker_id))
    return "".join(f"<dt>{h(k)}</dt><dd>{h(v)}</dd>" for k, v in rows)


def _when(moment: datetime) -> str:
    shown = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f'<time datetime="{h(iso(moment))}">{h(shown)}</time>'


def _timeline(record: JobRecord) -> str:
    """What happened to the job, in order. The store keeps the latest attempt's start
    and the end, so earlier attempts show only in the attempt count."""
    steps: list[tuple[datetime, str]] = [(record.created_at, "created")]
    if record.run_at != record.created_at:  # a delay, a retry's backoff, or a retry
        waiting = record.status in (Status.SCHEDULED, Status.BLOCKED)
        steps.append((record.run_at, "due to run" if waiting else "became due"))
    if record.started_at is not None:
        steps.append((record.started_at, f"attempt {record.attempts} started"))
    if record.status is Status.RUNNING and record.lease_expires_at is not None:
        steps.append((record.lease_expires_at, "lease runs out unless renewed"))
    if record.finished_at is not None:
        steps.append((record.finished_at, f"finished: {record.status.value}"))
    steps.sort(key=lambda step: step[0])
    items = [f"<li>{_when(moment)} <span>{h(label)}</span></li>" for moment, label in steps]
    if record.cancel_requested and record.status not in FINISHED:
        items.append("<li><span>cancel asked; the job stops when its task checks</span></li>")
    return "".join(items)


def _links(request: Request, links: Links) -> str:
    """The jobs this one waits for (in order) and those waiting for it, as links."""
    if not links.dependencies and not links.dependents:
        return ""
    root = _root(request.url.path)

    def items(ids: tuple[str, ...]) -> str:
        return "".join(f'<li><a class="id" href="{root}jobs/{h(quote(i, safe=""))}">{h(i)}</a>'
                       "</li>" for i in ids)

    inner = ""
    if links.dependencies:
        inner += f'<h3>Waits for</h3><ol class="links" id="dependencies">' \
                 f"{items(links.dependencies)}</ol>"
    if links.dependents:
        inner += f'<h3>Waited for by</h3><ul class="links" id="dependents">' \
                 f"{items(links.dependents)}</ul>"
    return _section("Workflow", inner)


def _error(record: JobRecord) -> str:
    error = record.error
    if error is None:
        return ""
    title = "Earlier error" if record.status is Status.SUCCEEDED else "Error"
    inner = f'<p class="error-line">{h(error.type)}: {h(error.message)}</p>'
    if error.traceback.strip():
        inner += f'<pre class="traceback">{h(error.traceback.rstrip())}</pre>'
    return _section(title, inner)


def error_response(request: Request, status: int, detail: str) -> Response:
    """An error as JSON for the API, as a small page for a browser."""
    if request.url.path.startswith(JSON_PATHS):
        return JSONResponse({"detail": detail}, status_code=status)
    body = _template("error.html").substitute(status=status, detail=h(detail),
                                              root=_root(request.url.path))
    return HTMLResponse(_page(request, f"error {status}", body), status_code=status)
