"""SIGTERM and SIGINT on a worker process: a graceful stop, the end of the grace period,
and a second signal that stops at once."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path

import pytest

import jobq
from jobq import Status
from tests.waiting import wait_for
from tests.worker.harness import Workers
from tests.worker.subject import RELEASE, read_runs

pytestmark = pytest.mark.slow

# Longer than any of these tests: a job back in the queue got there by hand-back, not
# because its lease ran out.
LONG_LEASE = 120.0


def started(run_dir: Path) -> set[str]:
    return {run.job_id for run in read_runs(run_dir) if run.event == "start"}


def statuses(jobs: list[jobq.Job]) -> dict[str, Status]:
    return {job.id: job.refresh().status for job in jobs}


@pytest.mark.parametrize("first", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_first_signal_lets_running_jobs_finish_and_hands_back_prefetched_ones(
    store_app: Callable[..., jobq.App], workers: Workers, run_dir: Path,
    first: signal.Signals,
) -> None:
    app = store_app(lease=LONG_LEASE)
    hold = app.tasks["hold"]
    jobs = app.enqueue_many([hold.call(str(run_dir)) for _ in range(6)])
    worker = workers.start(lease=LONG_LEASE, concurrency=2, grace=60)
    # Two jobs run; the other four are claimed and wait in the worker's hands.
    wait_for(lambda: len(started(run_dir)) == 2, what="two jobs to start")
    wait_for(lambda: list(statuses(jobs).values()).count(Status.RUNNING) == 6,
             what="all six jobs to be claimed")

    worker.send(first)
    running = started(run_dir)
    prefetched = [job for job in jobs if job.id not in running]
    wait_for(lambda: all(s is Status.PENDING for s in statuses(prefetched).values()),
             what="the prefetched jobs to be handed back")
    late = hold.enqueue(str(run_dir))  # the stopping worker must not take new work
    (run_dir / RELEASE).touch()
    assert worker.wait(60) == 0, worker.log()

    assert started(run_dir) == running
    for job in jobs:
        job.refresh()
        if job.id in running:
            assert (job.status, job.attempts) == (Status.SUCCEEDED, 1)
        else:
            assert (job.status, job.attempts) == (Status.PENDING, 0)
    assert (late.refresh().status, late.attempts) == (Status.PENDING, 0)


def test_jobs_still_running_when_the_grace_period_ends_are_handed_back_at_once(
    store_app: Callable[..., jobq.App], workers: Workers, run_dir: Path,
) -> None:
    app = store_app(lease=LONG_LEASE)
    hold = app.tasks["hold"]
    jobs = app.enqueue_many([hold.call(str(run_dir)) for _ in range(2)])
    worker = workers.start(lease=LONG_LEASE, concurrency=2, grace=1.0)
    wait_for(lambda: len(started(run_dir)) == 2, what="both jobs to start")

    worker.send(signal.SIGTERM)
    assert worker.wait(60) == 0, worker.log()
    # Back in the queue, their attempt not counted, long before their lease would end.
    for job in jobs:
        job.refresh()
        assert (job.status, job.attempts) == (Status.PENDING, 0)

    # Another worker takes them straight away.
    (run_dir / RELEASE).touch()
    assert workers.start(lease=LONG_LEASE, concurrency=2, burst=True).wait(60) == 0
    for job in jobs:
        job.refresh()
        assert (job.status, job.attempts) == (Status.SUCCEEDED, 1)


def test_a_second_signal_stops_at_once(
    store_app: Callable[..., jobq.App], workers: Workers, run_dir: Path,
) -> None:
    app = store_app(lease=LONG_LEASE)
    hold = app.tasks["hold"]
    jobs = app.enqueue_many([hold.call(str(run_dir)) for _ in range(2)])
    worker = workers.start(lease=LONG_LEASE, concurrency=2, grace=LONG_LEASE)
    wait_for(lambda: len(started(run_dir)) == 2, what="both jobs to start")

    worker.send(signal.SIGTERM)
    wait_for(lambda: "stopping: finishing running jobs" in worker.log(),
             what="the worker to begin its graceful stop")
    worker.send(signal.SIGINT)
    # The grace period and the tasks' own wait are both far longer than this.
    assert worker.wait(30) == 0, worker.log()
    for job in jobs:
        job.refresh()
        assert (job.status, job.attempts) == (Status.PENDING, 0)
