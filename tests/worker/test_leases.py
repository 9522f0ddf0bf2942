"""Heartbeats keep a long job's lease: another worker's reaper never takes it over."""

from __future__ import annotations

import time
from collections.abc import Callable

import jobq
from jobq import Status
from tests.worker.harness import worker_thread

LEASE = 1.0  # heartbeat every 0.25 s, reaper every 0.5 s


def test_a_task_running_past_its_lease_keeps_it_while_the_worker_heartbeats(
    make_app: Callable[..., jobq.App],
) -> None:
    app, other = make_app(lease=LEASE), make_app(lease=LEASE)
    runs: list[int] = []

    @app.task(name="long", retries=3)
    def long_task() -> str:
        runs.append(jobq.current_job().attempts)
        time.sleep(2.5 * LEASE)  # the work outlasts the lease it was claimed with
        return "done"

    other.task(name="long", retries=3)(long_task.fn)
    job = long_task.enqueue()
    # The second worker's reaper would take the job if the first stopped renewing it.
    with worker_thread(other, concurrency=1), worker_thread(app, concurrency=1):
        assert job.result(timeout=30) == "done"

    assert runs == [1]
    job.refresh()
    assert (job.status, job.attempts) == (Status.SUCCEEDED, 1)
