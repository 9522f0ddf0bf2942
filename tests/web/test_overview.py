"""The dashboard's other views on every store: throughput per minute (kept through
purge), workers with their last heartbeat, the periodic leader; their /metrics series;
and a flood of requests within the cache window reads the store once."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

import jobq
from jobq.backends.base import WorkerInfo
from tests.web.conftest import client_for, failed_job, metric_families, work_off


def test_throughput_per_minute_survives_purge(tasks_app: jobq.App) -> None:
    for n in range(3):
        tasks_app.enqueue("add", n, 1)
    failed_job(tasks_app)
    with client_for(tasks_app) as client:
        answer = client.get("/api/throughput", params={"minutes": 10}).json()
        assert answer["totals"] == {"default": {"succeeded": 3, "failed": 0, "retried": 0},
                                    "ops": {"succeeded": 0, "failed": 1, "retried": 0}}
        assert sum(m["succeeded"] for m in answer["minutes"]) == 3
        assert all(m["minute"].endswith(":00Z") for m in answer["minutes"])
        assert tasks_app.purge(statuses=["succeeded", "failed"]) == 4
        assert client.get("/api/throughput").json()["totals"] == answer["totals"]
        finished = metric_families(client.get("/metrics").text)["jobq_finished"]
        assert finished.type == "counter"
        series = {(s.labels["queue"], s.labels["outcome"]): s.value
                  for s in finished.samples if s.name == "jobq_finished_total"}
        assert series[("default", "succeeded")] == 3 and series[("ops", "failed")] == 1
        assert client.get("/api/throughput", params={"minutes": 0}).status_code == 422


def test_workers_with_their_last_heartbeat_and_the_periodic_leader(
    tasks_app: jobq.App,
) -> None:
    tasks_app.backend.register_worker(WorkerInfo("w-<b>1</b>", "host", 42, time.time(),
                                                 ("default",), ("add",)))
    with client_for(tasks_app) as client:
        (worker,) = client.get("/api/workers").json()
        assert (worker["id"], worker["pid"], worker["queues"]) == ("w-<b>1</b>", 42,
                                                                   ["default"])
        assert worker["last_heartbeat"].endswith("Z")
        assert client.get("/api/periodic").json() == {"leader": None, "tasks": []}
        lease = tasks_app.backend.lead("leader-a", None, 60.0)
        leader = client.get("/api/periodic").json()["leader"]
        assert (leader["holder"], leader["term"]) == ("leader-a", lease.term)
        workers = metric_families(client.get("/metrics").text)["jobq_workers"]
        assert [s.value for s in workers.samples] == [1]


def test_oldest_pending_age_in_stats_and_metrics(tasks_app: jobq.App) -> None:
    tasks_app.enqueue("add", 1, 2)
    with client_for(tasks_app) as client:
        stats = client.get("/api/stats").json()
        assert list(stats["oldest_pending"]) == ["default"]
        ages = metric_families(client.get("/metrics").text)["jobq_oldest_pending_age_seconds"]
        ((queue, age),) = [(s.labels["queue"], s.value) for s in ages.samples]
        assert queue == "default" and 0 <= age < 3600
        work_off(tasks_app)
        assert client.get("/api/stats").json()["oldest_pending"] == {}


def test_a_flood_within_the_window_reads_the_store_once(
    tasks_app: jobq.App, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = {"stats": 0, "throughput": 0}
    lock = threading.Lock()
    backend = tasks_app.backend
    for name in reads:
        real = getattr(backend, name)

        def counted(*args: Any, _real: Any = real, _name: str = name) -> Any:
            with lock:
                reads[_name] += 1
            return _real(*args)

        monkeypatch.setattr(backend, name, counted)
    with client_for(tasks_app, stats_ttl=3600) as client, ThreadPoolExecutor(8) as pool:
        paths = ["/metrics", "/api/stats", "/api/throughput"] * 10
        answers = list(pool.map(client.get, paths))
    assert {a.status_code for a in answers} == {200}
    assert reads == {"stats": 1, "throughput": 1}


def test_a_workflow_job_s_page_links_the_jobs_it_waits_for_and_its_waiters(
    tasks_app: jobq.App,
) -> None:
    add = tasks_app.get_task("add")
    handle = jobq.chain(add.call(1, 2), add.call(3), add.call(4)).enqueue()
    first, middle, last = (job.id for job in handle.jobs)
    with client_for(tasks_app) as client:
        page = client.get(f"/jobs/{middle}").text
    assert f'<ol class="links" id="dependencies"><li><a class="id" href="../jobs/{first}">' \
        in page
    assert f'<ul class="links" id="dependents"><li><a class="id" href="../jobs/{last}">' in page
