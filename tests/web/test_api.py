"""The JSON API on every store, in-process: each endpoint, each error code, and that a
refused changing call changes nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

import jobq
from jobq.cli import cli
from jobq.job import JobRecord
from jobq.jobjson import job_json, stats_json
from tests.web.conftest import (
    AUTH,
    TOKEN,
    client_for,
    failed_job,
    one_line,
    snapshot,
    work_off,
)

NOW = datetime.now(UTC)


def _cli_json(app: jobq.App, *args: str) -> Any:
    """``jobq … --json`` on the App's store, as scripts run it."""
    settings = app.settings
    env = {"JOBQ_URL": settings.url, "JOBQ_SCHEMA": settings.schema,
           "JOBQ_PREFIX": settings.prefix, "JOBQ_APP": None}
    result = CliRunner().invoke(cli, [*args, "--json"], env=env)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_a_job_is_the_same_json_as_jobq_show(client: TestClient, tasks_app: jobq.App) -> None:
    job = failed_job(tasks_app, "no paper")
    answer = client.get(f"/api/jobs/{job.id}")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == _cli_json(tasks_app, "show", job.id)
    assert answer.json()["error"]["message"] == "no paper"


def test_list_filters_newest_first(client: TestClient, tasks_app: jobq.App) -> None:
    first = tasks_app.enqueue("add", 1, 2)
    second = tasks_app.enqueue("add", 3, 4)
    bad = failed_job(tasks_app)
    listed = client.get("/api/jobs").json()
    assert [j["id"] for j in listed] == [bad.id, second.id, first.id]
    assert listed == _cli_json(tasks_app, "jobs")
    assert [j["id"] for j in client.get("/api/jobs?status=failed").json()] == [bad.id]
    assert [j["id"] for j in client.get("/api/jobs?queue=ops").json()] == [bad.id]
    assert [j["id"] for j in client.get("/api/jobs?task=add&limit=1").json()] == [second.id]
    assert client.get("/api/jobs?task=nothing-by-that-name").json() == []


@pytest.mark.parametrize("query", ["limit=0", "limit=501", "limit=ten", "status=lost"])
def test_bad_filters_are_422_naming_the_parameter(client: TestClient, query: str) -> None:
    answer = client.get(f"/api/jobs?{query}")
    assert answer.status_code == 422
    assert query.split("=")[0] in one_line(answer.json()["detail"])


def test_limit_is_bounded_at_500(client: TestClient) -> None:
    assert client.get("/api/jobs?limit=500").status_code == 200


def test_unknown_id_is_404_naming_it(client: TestClient) -> None:
    answer = client.get("/api/jobs/no-such-job")
    assert answer.status_code == 404
    assert "'no-such-job'" in one_line(answer.json()["detail"])
    for action in ("retry", "cancel"):
        answer = client.post(f"/api/jobs/no-such-job/{action}", headers=AUTH)
        assert answer.status_code == 404
        assert "'no-such-job'" in one_line(answer.json()["detail"])


def test_enqueue_by_name_with_options(client: TestClient, tasks_app: jobq.App) -> None:
    answer = client.post("/api/jobs", headers=AUTH, json={
        "task": "add", "args": [2], "kwargs": {"b": 40}, "queue": "math", "priority": 7,
    })
    assert answer.status_code == 201, answer.text
    made = answer.json()
    stored = tasks_app.get_job(made["id"])
    assert stored is not None
    assert (stored.queue, stored.record.priority, stored.status) == ("math", 7, "pending")
    assert made == _cli_json(tasks_app, "show", made["id"])
    work_off(tasks_app, ("math",))
    assert stored.result(timeout=30) == 42

    later = client.post("/api/jobs", headers=AUTH,
                        json={"task": "add", "args": [1, 1], "delay": 3600}).json()
    assert later["status"] == "scheduled"


def test_enqueue_with_a_live_key_returns_that_job(client: TestClient) -> None:
    body = {"task": "add", "args": [1, 2], "key": "sum:1+2"}
    first = client.post("/api/jobs", headers=AUTH, json=body).json()
    again = client.post("/api/jobs", headers=AUTH, json=body).json()
    assert again["id"] == first["id"]


def test_enqueue_unknown_task_is_404_naming_it(client: TestClient, tasks_app: jobq.App) -> None:
    before = snapshot(tasks_app)
    answer = client.post("/api/jobs", headers=AUTH, json={"task": "ad", "args": [1, 2]})
    assert answer.status_code == 404
    detail = one_line(answer.json()["detail"])
    assert "'ad'" in detail and "'add'" in detail  # names it, and the near miss
    assert snapshot(tasks_app) == before


@pytest.mark.parametrize("body, where", [
    ("{not json", "body"),
    ('{"args": [1, 2]}', "task"),
    ('{"task": "add", "args": "1, 2"}', "args"),
    ('{"task": "add", "kwargs": [1]}', "kwargs"),
    ('{"task": "add", "args": [1, 2], "dealy": 5}', "dealy"),
    ('{"task": "add", "args": [1, 2], "delay": -1}', "delay"),
    ('{"task": "add", "args": [1, 2], "priority": "high"}', "priority"),
    ('{"task": "add", "args": [1, 2], "queue": ""}', "queue"),
    ('{"task": "add", "args": [1, 2, 3]}', "add(a, b)"),
    ('{"task": "add", "args": [1, 2], "priority": 9999999999}', "priority"),
    ('[1, 2]', "body"),
])
def test_malformed_body_is_422_and_stores_nothing(client: TestClient, tasks_app: jobq.App,
                                                  body: str, where: str) -> None:
    before = snapshot(tasks_app)
    answer = client.post("/api/jobs", content=body,
                         headers={**AUTH, "Content-Type": "application/json"})
    assert answer.status_code == 422, answer.text
    assert where in one_line(answer.json()["detail"])
    assert snapshot(tasks_app) == before


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", None])
def test_a_body_that_is_not_json_is_415(client: TestClient, tasks_app: jobq.App,
                                        content_type: str | None) -> None:
    before = snapshot(tasks_app)
    headers = dict(AUTH)
    if content_type:
        headers["Content-Type"] = content_type
    answer = client.post("/api/jobs", content=b'{"task": "add", "args": [1, 2]}',
                         headers=headers)
    assert answer.status_code == 415
    assert "application/json" in one_line(answer.json()["detail"])
    assert snapshot(tasks_app) == before


def test_a_huge_or_unsized_body_is_refused(client: TestClient) -> None:
    big = b'{"task": "add", "args": ["' + b"x" * (1 << 20) + b'"]}'
    headers = {**AUTH, "Content-Type": "application/json"}
    assert client.post("/api/jobs", content=big, headers=headers).status_code == 413
    chunks = iter([b'{"task": "add", ', b'"args": [1, 2]}'])
    assert client.post("/api/jobs", content=chunks, headers=headers).status_code == 411


def test_retry_a_failed_job(client: TestClient, tasks_app: jobq.App) -> None:
    job = failed_job(tasks_app)
    answer = client.post(f"/api/jobs/{job.id}/retry", headers=AUTH)
    assert answer.status_code == 200
    assert answer.json()["status"] == "pending"
    assert job.refresh().status is jobq.Status.PENDING
    # Pending now: nothing to retry, and the answer says why.
    again = client.post(f"/api/jobs/{job.id}/retry", headers=AUTH)
    assert again.status_code == 409
    assert "pending" in one_line(again.json()["detail"])


def test_cancel_a_waiting_job(client: TestClient, tasks_app: jobq.App) -> None:
    job = tasks_app.enqueue("add", 1, 2)
    answer = client.post(f"/api/jobs/{job.id}/cancel", headers=AUTH)
    assert answer.status_code == 200
    assert answer.json()["status"] == "cancelled"
    assert job.refresh().status is jobq.Status.CANCELLED
    # As `jobq cancel` and app.cancel(): a cancelled job has already ended, nothing changes.
    again = client.post(f"/api/jobs/{job.id}/cancel", headers=AUTH)
    assert again.status_code == 409
    assert "already ended cancelled" in one_line(again.json()["detail"])


def test_cancel_a_finished_job_is_409(client: TestClient, tasks_app: jobq.App) -> None:
    job = tasks_app.enqueue("add", 1, 2)
    work_off(tasks_app)
    assert job.result(timeout=30) == 3
    answer = client.post(f"/api/jobs/{job.id}/cancel", headers=AUTH)
    assert answer.status_code == 409
    assert "already ended succeeded" in one_line(answer.json()["detail"])


def test_stats_are_jobq_stats_json(client: TestClient, tasks_app: jobq.App) -> None:
    tasks_app.enqueue("add", 1, 2)
    failed_job(tasks_app)
    answer = client.get("/api/stats")
    assert answer.status_code == 200
    assert answer.json() == _cli_json(tasks_app, "stats")
    assert answer.json() == stats_json(tasks_app.stats())
    assert answer.json()["queues"]["ops"]["failed"] == 1


# -- the token -----------------------------------------------------------------------------

REFUSED_AUTH = {
    "missing": {},
    "wrong": {"Authorization": "Bearer not-the-token-at-all-0000"},
    "wrong scheme": {"Authorization": f"Basic {TOKEN}"},
    "a prefix of it": {"Authorization": f"Bearer {TOKEN[:-1]}"},
    "in a cookie": {"Cookie": f"token={TOKEN}; jobq-api-token={TOKEN}"},
}


def _changing_calls(app: jobq.App) -> list[tuple[str, dict[str, Any] | None]]:
    bad = failed_job(app)
    waiting = app.enqueue("add", 1, 2)
    return [
        ("/api/jobs", {"task": "add", "args": [1, 2]}),
        (f"/api/jobs/{bad.id}/retry", None),
        (f"/api/jobs/{waiting.id}/cancel", None),
    ]


@pytest.mark.parametrize("how", list(REFUSED_AUTH))
def test_changing_calls_without_the_token_are_401_and_change_nothing(
        client: TestClient, tasks_app: jobq.App, how: str) -> None:
    calls = _changing_calls(tasks_app)
    before = snapshot(tasks_app)
    for path, body in calls:
        answer = client.post(path, json=body, headers=REFUSED_AUTH[how])
        assert answer.status_code == 401, (path, answer.text)
        assert answer.headers["www-authenticate"].startswith("Bearer")
        assert "Authorization: Bearer" in one_line(answer.json()["detail"])
    assert snapshot(tasks_app) == before


@pytest.mark.parametrize("query", [f"token={TOKEN}", f"access_token={TOKEN}",
                                   f"anything={TOKEN}", "api_key=x"])
def test_a_token_in_the_query_string_is_401_even_when_right(
        client: TestClient, tasks_app: jobq.App, query: str) -> None:
    calls = _changing_calls(tasks_app)
    before = snapshot(tasks_app)
    for path, body in calls:
        answer = client.post(f"{path}?{query}", json=body, headers=AUTH)
        assert answer.status_code == 401
        assert "URL" in one_line(answer.json()["detail"])
    assert client.get(f"/api/jobs?{query}").status_code == 401
    assert snapshot(tasks_app) == before


def test_no_response_sets_a_cookie(client: TestClient, tasks_app: jobq.App) -> None:
    job = failed_job(tasks_app)
    answers = [client.get(path) for path in ("/", f"/jobs/{job.id}", "/api/jobs", "/api/stats",
                                             "/metrics", "/static/common.js", "/nowhere")]
    answers.append(client.post(f"/api/jobs/{job.id}/retry", headers=AUTH))
    answers.append(client.post(f"/api/jobs/{job.id}/retry"))
    for answer in answers:
        assert "set-cookie" not in answer.headers


# -- the Host header -------------------------------------------------------------------------

@pytest.mark.parametrize("host", ["localhost", "localhost:8000", "127.0.0.1:8000", "[::1]:8000"])
def test_loopback_host_names_are_served(client: TestClient, host: str) -> None:
    assert client.get("/api/stats", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", "127.0.0.1.evil.example",
                                  ""])
def test_another_host_name_is_400(client: TestClient, tasks_app: jobq.App, host: str) -> None:
    before = snapshot(tasks_app)
    answer = client.get("/api/stats", headers={"Host": host})
    assert answer.status_code == 400
    assert "--allow-host" in one_line(answer.json()["detail"])
    refused = client.post("/api/jobs", json={"task": "add", "args": [1, 2]},
                          headers={**AUTH, "Host": host})
    assert refused.status_code == 400
    assert snapshot(tasks_app) == before


def test_allow_hosts_adds_a_proxy_name(tasks_app: jobq.App) -> None:
    with client_for(tasks_app, allow_hosts=["jobs.example.com", "0.0.0.0"]) as proxied:
        assert proxied.get("/api/stats", headers={"Host": "jobs.example.com"}).status_code == 200
        assert proxied.get("/api/stats", headers={"Host": "Jobs.Example.com:443"}).status_code \
            == 200
        # A wildcard bind address is not a name anyone connects by.
        assert proxied.get("/api/stats", headers={"Host": "0.0.0.0"}).status_code == 400


# -- OpenAPI -----------------------------------------------------------------------------

def test_openapi_schema_documents_the_api(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    assert set(paths) >= {"/api/jobs", "/api/jobs/{job_id}", "/api/jobs/{job_id}/retry",
                          "/api/jobs/{job_id}/cancel", "/api/stats", "/metrics"}
    assert "/" not in paths and "/jobs/{job_id}" not in paths
    for path, method in (("/api/jobs", "post"), ("/api/jobs/{job_id}/retry", "post"),
                         ("/api/jobs/{job_id}/cancel", "post")):
        operation = paths[path][method]
        assert operation["security"] == [{"HTTPBearer": []}]
        assert {"401", "415", "503"} <= set(operation["responses"])
    assert "security" not in paths["/api/jobs"]["get"]
    limit = next(p for p in paths["/api/jobs"]["get"]["parameters"] if p["name"] == "limit")
    assert limit["schema"]["maximum"] == 500
    job = schema["components"]["schemas"]["JobOut"]["properties"]
    assert set(job) == set(job_json(JobRecord(
        "id", "task", "queue", [], {}, 0, jobq.Status.PENDING, 0, 1, NOW, NOW)))
    # Swagger UI would load scripts from a CDN, which the CSP forbids: not served.
    assert client.get("/docs").status_code == 404
