"""Errors from the API: a store that is down answers 503 with one line that names it (its
password hidden), never a traceback; create_app refuses a bad token."""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import jobq
from jobq.errors import ConfigError
from jobq.web import create_app
from tests.web.conftest import AUTH, BASE, TOKEN, client_for, one_line


def _closed_port() -> int:
    """A local port nothing listens on (it was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _down_url(backend: str, tmp_path: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'no-such-folder' / 'jobs.db'}"
    if backend == "postgres":
        return f"postgresql://jobq:s3cret-pw@127.0.0.1:{_closed_port()}/test"
    return f"redis://:s3cret-pw@127.0.0.1:{_closed_port()}/0"


@pytest.fixture
def down(backend_name: str, tmp_path: Path) -> Iterator[TestClient]:
    app = jobq.App(_down_url(backend_name, tmp_path))
    try:
        with client_for(app) as client:
            yield client
    finally:
        app.close()


def test_store_down_is_503_with_one_line_naming_it(down: TestClient) -> None:
    answers = [
        down.get("/api/jobs"),
        down.get("/api/jobs/some-id"),
        down.get("/api/stats"),
        down.get("/metrics"),
        down.post("/api/jobs/some-id/retry", headers=AUTH),
        down.post("/api/jobs/some-id/cancel", headers=AUTH),
    ]
    for answer in answers:
        assert answer.status_code == 503, answer.text
        assert answer.headers["content-type"] == "application/json"
        detail = one_line(answer.json()["detail"])
        assert "s3cret-pw" not in detail
        assert "127.0.0.1" in detail or "no-such-folder" in detail, detail


def test_store_down_on_a_page_is_a_503_page(down: TestClient) -> None:
    page = down.get("/jobs/some-id")
    assert page.status_code == 503
    assert page.headers["content-type"].startswith("text/html")
    assert "Traceback" not in page.text and "s3cret-pw" not in page.text
    # The dashboard itself holds no data: it loads, and its script reports the 503.
    assert down.get("/").status_code == 200


def test_an_internal_error_is_500_without_a_traceback(tmp_path: Path) -> None:
    app = jobq.App(f"sqlite:///{tmp_path / 'jobs.db'}")
    web = create_app(app, token=TOKEN, stats_ttl=0)
    broken = object()  # a state the routes cannot use: every read fails inside the route
    web.state.jobq = dataclasses.replace(web.state.jobq, app=broken)
    with TestClient(web, base_url=BASE, raise_server_exceptions=False) as client:
        answer = client.get("/api/jobs")
    assert answer.status_code == 500
    detail = one_line(answer.json()["detail"])
    assert "AttributeError" in detail and "server log" in detail
    app.close()


@pytest.mark.parametrize("token", [None, "", "short", "has a space in it but long",
                                   "tab\there-0123456789"])
def test_create_app_refuses_a_weak_or_missing_token(tmp_path: Path, token: object) -> None:
    app = jobq.App(f"sqlite:///{tmp_path / 'jobs.db'}")
    with pytest.raises(ConfigError, match="token"):
        create_app(app, token=token)  # type: ignore[arg-type]


def test_create_app_checks_its_arguments(tmp_path: Path) -> None:
    app = jobq.App(f"sqlite:///{tmp_path / 'jobs.db'}")
    with pytest.raises(ConfigError, match=r"jobq\.App"):
        create_app("sqlite:///x.db", token=TOKEN)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="stats_ttl"):
        create_app(app, token=TOKEN, stats_ttl=-1)
