"""A worker whose Redis connections are cut goes on working and loses nothing (a Redis
restart: tests/faults/test_restarts.py)."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path

import pytest

import jobq
from jobq import Status
from tests.redis.layout import check_layout, raw_client
from tests.waiting import wait_for
from tests.worker.harness import Workers

pytestmark = pytest.mark.slow

JOBS = 1000
WORK = 0.01  # seconds per task: the drain lasts long enough to be cut many times
LEASE = 2.0


def _succeeded(app: jobq.App) -> int:
    return app.stats().get("default", {}).get("succeeded", 0)


def _kill_connections(pid: int) -> int:
    """CLIENT KILL every connection of the worker process ``pid``; how many were cut."""
    client = raw_client()
    killed = 0
    for info in client.client_list():
        if info["name"] == f"jobq-{pid}":
            killed += int(client.execute_command("CLIENT", "KILL", "ID", info["id"]))
    return killed


def test_a_worker_whose_connections_are_killed_drains_every_job(
    store_app: Callable[..., jobq.App], workers: Workers, run_dir: Path,
) -> None:
    app = store_app(lease=LEASE)
    task = app.tasks["record"]  # one attempt only: a lost claim costs none
    jobs = app.enqueue_many([task.call(str(run_dir), WORK) for _ in range(JOBS)])
    worker = workers.start(lease=LEASE, concurrency=4)

    rounds = 0
    for threshold in range(50, JOBS - 100, 100):
        wait_for(lambda t=threshold: _succeeded(app) >= t, timeout=60,
                 what=f"{threshold} jobs to succeed; worker log:\n{worker.log()}")
        if _kill_connections(worker.pid):
            rounds += 1
    wait_for(lambda: _succeeded(app) == JOBS, timeout=120,
             what=f"all {JOBS} jobs to succeed; worker log:\n{worker.log()}")
    worker.send(signal.SIGTERM)
    assert worker.wait(60) == 0, worker.log()

    assert rounds >= 5, "the drain ended before the connections were cut a few times"
    assert app.stats() == {"default": {"succeeded": JOBS}}
    assert {job.refresh().status for job in jobs} == {Status.SUCCEEDED}
    check_layout(raw_client(), app.settings.prefix)
