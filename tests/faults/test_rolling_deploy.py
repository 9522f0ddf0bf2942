"""A rolling deploy: workers of an older release (without the task ``fresh``) and of a
newer one share the queue. Jobs of ``fresh`` wait for a worker that has it, using no
attempt, are shown as waiting for a task no running worker has, and all succeed, each
run by a worker that has its task."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import jobq
from jobq import Status
from tests.waiting import wait_for
from tests.worker.harness import Workers
from tests.worker.subject import read_runs

pytestmark = pytest.mark.slow

EACH = 40
LEASE = 2.0


def _succeeded(app: jobq.App) -> int:
    return app.stats().get("default", {}).get("succeeded", 0)


def test_jobs_of_a_task_only_newer_workers_have_wait_for_them_and_succeed(
    store_app: Callable[..., jobq.App], workers: Workers, run_dir: Path,
) -> None:
    app = store_app(lease=LEASE)
    record, fresh = app.tasks["record"], app.tasks["fresh"]
    old = workers.start(lease=LEASE, name="old", concurrency=2, only=["record"])
    wait_for(lambda: [w.pid for w in app.workers()] == [old.pid], timeout=60,
             what=f"the old worker to register; its log:\n{old.log()}")
    calls = [c for i in range(EACH)
             for c in (record.call(str(run_dir)), fresh.call(str(run_dir)))]
    jobs = app.enqueue_many(calls)
    fresh_ids = {job.id for job in jobs if job.task == "fresh"}

    # The old worker runs what it can and hands the rest back, saying so once.
    wait_for(lambda: _succeeded(app) == EACH, timeout=60, what="the old release's jobs to run")
    waiting = wait_for(lambda: app.waiting_for_tasks(), timeout=60,
                       what="jobs waiting for a task no running worker has")
    assert [(w.task, w.jobs) for w in waiting] == [("fresh", EACH)]
    assert all(job.refresh().status is not Status.FAILED for job in jobs)

    new = workers.start(lease=LEASE, name="new", concurrency=2)
    wait_for(lambda: _succeeded(app) == 2 * EACH, timeout=120,
             what=f"every job to succeed; new worker log:\n{new.log()}")
    assert app.waiting_for_tasks() == []

    ran_in = {r.job_id: r.pid for r in read_runs(run_dir) if r.event == "start"}
    for job in jobs:
        record_ = job.refresh().record
        assert (record_.status, record_.attempts) == (Status.SUCCEEDED, 1), job.id
        assert record_.unknown_task_since is None
        # Each ran once, in a worker that has its task.
        assert ran_in[job.id] == (new.pid if job.id in fresh_ids else old.pid), job.id
    assert sum(r.event == "start" for r in read_runs(run_dir)) == 2 * EACH
    assert old.log().count("no task named 'fresh' is registered") == 1
    assert "failed" not in old.log()
