"""Cancelling jobs: a waiting job never runs; a running one is asked to stop."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import pytest

import jobq
from jobq import Status
from tests.waiting import wait_for
from tests.worker.harness import worker_thread

# A 1 s lease: the worker heartbeats, and so hears of cancel requests, every 0.25 s.
LEASE = 1.0


@pytest.mark.parametrize("delay", [None, 30.0])
def test_a_cancelled_waiting_job_never_runs(app: jobq.App, delay: float | None) -> None:
    ran: list[int] = []

    @app.task
    def work(n: int) -> None:
        ran.append(n)

    job = work.with_options(delay=delay).enqueue(1)
    assert job.status is (Status.PENDING if delay is None else Status.SCHEDULED)
    assert job.cancel() is True
    assert job.status is Status.CANCELLED
    other = work.enqueue(2)
    app.run_worker(concurrency=1, burst=True)

    assert ran == [2]
    assert other.refresh().status is Status.SUCCEEDED
    assert job.refresh().status is Status.CANCELLED
    assert job.attempts == 0
    with pytest.raises(jobq.JobCancelled):
        job.result(timeout=1)


def test_a_running_sync_task_sees_cancel_requested_and_ends_cancelled(
    make_app: Callable[..., jobq.App],
) -> None:
    app = make_app(lease=LEASE)
    started = threading.Event()
    seen: list[bool] = []

    @app.task(retries=3)
    def long_loop() -> str:
        job = jobq.current_job()
        seen.append(job.cancel_requested)
        started.set()
        deadline = time.monotonic() + 20
        while not job.cancel_requested and time.monotonic() < deadline:
            time.sleep(0.01)
        seen.append(job.cancel_requested)
        raise RuntimeError("stopped on request")

    job = long_loop.enqueue()
    with worker_thread(app, concurrency=1):
        wait_for(started.is_set, what="the task to start")
        assert job.cancel() is True
        with pytest.raises(jobq.JobCancelled):
            job.result(timeout=20)

    assert seen == [False, True]
    job.refresh()
    assert job.status is Status.CANCELLED
    assert job.attempts == 1  # cancelled, not retried


@pytest.mark.parametrize("pool", ["thread", "async"])
def test_a_running_async_task_is_cancelled(make_app: Callable[..., jobq.App], pool: str) -> None:
    app = make_app(lease=LEASE)
    started = threading.Event()
    seen: list[str] = []

    @app.task(retries=3)
    async def long_sleep() -> str:
        started.set()
        try:
            await asyncio.sleep(20)
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise
        return "slept"

    job = long_sleep.enqueue()
    with worker_thread(app, concurrency=1, pool=pool):
        wait_for(started.is_set, what="the task to start")
        job.cancel()
        with pytest.raises(jobq.JobCancelled):
            job.result(timeout=20)

    assert seen == ["cancelled"]
    assert job.refresh().attempts == 1


def test_a_prefetched_job_cancelled_before_it_starts_never_runs(
    make_app: Callable[..., jobq.App],
) -> None:
    app = make_app(lease=LEASE)
    release = threading.Event()
    ran: list[str] = []

    @app.task
    def blocker() -> None:
        ran.append("blocker")
        release.wait(20)

    @app.task
    def queued() -> None:
        ran.append("queued")

    first = blocker.with_options(priority=1).enqueue()
    second = queued.enqueue()
    try:
        # One thread, so the second job waits in the worker's hands while the first runs.
        with worker_thread(app, concurrency=1, prefetch=1):
            wait_for(lambda: second.refresh().status is Status.RUNNING,
                     what="the second job to be claimed")
            # Claimed in one batch with the first: its thread may start a moment later.
            wait_for(lambda: ran == ["blocker"], what="the first job to start")
            assert second.cancel() is True
            with pytest.raises(jobq.JobCancelled):
                second.result(timeout=20)
            release.set()
            assert first.result(timeout=20) is None
    finally:
        release.set()
    assert ran == ["blocker"]
