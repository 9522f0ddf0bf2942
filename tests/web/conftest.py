"""Fixtures for the HTTP API and dashboard tests: an App on each store with a few tasks,
and the FastAPI test client on it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

import jobq
from jobq.jobjson import job_json, stats_json
from jobq.web import create_app
from tests.waiting import wait_for

TOKEN = "test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
BASE = "http://localhost"


def add_tasks(app: jobq.App) -> None:
    """The tasks the API tests enqueue by name."""

    @app.task(name="add")
    def add(a: int, b: int) -> int:
        return a + b

    @app.task(name="boom", queue="ops")
    def boom(message: str = "boom") -> None:
        raise ValueError(message)


@pytest.fixture
def tasks_app(app: jobq.App) -> jobq.App:
    add_tasks(app)
    return app


def client_for(app: jobq.App, **options: Any) -> TestClient:
    options.setdefault("stats_ttl", 0)
    return TestClient(create_app(app, token=TOKEN, **options), base_url=BASE,
                      raise_server_exceptions=False)


@pytest.fixture
def client(tasks_app: jobq.App) -> Iterator[TestClient]:
    with client_for(tasks_app) as test_client:
        yield test_client


def work_off(app: jobq.App, queues: tuple[str, ...] = ("default", "ops")) -> None:
    app.run_worker(concurrency=2, burst=True, queues=list(queues))


def failed_job(app: jobq.App, message: str = "boom") -> jobq.Job:
    job = app.enqueue("boom", message)
    work_off(app)
    wait_for(lambda: job.refresh().status is jobq.Status.FAILED, what="the job to fail")
    return job


def snapshot(app: jobq.App) -> tuple[str, dict[str, Any]]:
    """Every job, every field, and the counts: to show a refused call changed nothing."""
    jobs = [job_json(job.record) for job in app.jobs(limit=10_000)]
    return json.dumps(jobs, sort_keys=True), stats_json(app.stats())


def one_line(detail: object) -> str:
    assert isinstance(detail, str) and detail, detail
    assert "\n" not in detail and "Traceback" not in detail, detail
    return detail


def metric_families(text: str) -> dict[str, Any]:
    """``/metrics`` text parsed by prometheus-client's own parser, by family name."""
    from prometheus_client.parser import text_string_to_metric_families

    return {f.name: f for f in text_string_to_metric_families(text)}
