"""The async pool: coroutines on one event loop, plain functions on threads beside it,
a coroutine that ignores its time limit given up on, and one that blocks the loop
keeping its lease while the watchdog names it. (Its soft limit and cancels are tested
beside the thread pool's, in test_time_limits.py and test_cancel.py.)"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable

import pytest

import jobq
from jobq import Status
from tests.worker.harness import worker_thread


@pytest.fixture
def worker_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="jobq.worker")
    return caplog


def test_a_hundred_coroutines_run_at_once_on_one_thread(app: jobq.App) -> None:
    # The time 1,000 asyncio.sleep(0.1) jobs take is a benchmark figure (jobq bench).
    in_flight = 0
    most = 0
    everyone_in = threading.Event()
    threads: set[int] = set()

    @app.task
    async def gather(n: int) -> int:
        nonlocal in_flight, most
        threads.add(threading.get_ident())
        in_flight += 1
        most = max(most, in_flight)
        if in_flight == 100:
            everyone_in.set()
        while not everyone_in.is_set():
            await asyncio.sleep(0.01)
        in_flight -= 1
        return n

    jobs = app.enqueue_many([gather.call(n) for n in range(100)])
    app.run_worker(concurrency=100, pool="async", burst=True)

    assert [job.result(timeout=1) for job in jobs] == list(range(100))
    assert most == 100
    assert len(threads) == 1 and threading.get_ident() not in threads


def test_coroutines_never_run_more_than_the_concurrency_at_once(app: jobq.App) -> None:
    in_flight = 0
    most = 0

    @app.task
    async def step() -> None:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1

    app.enqueue_many([step.call() for _ in range(60)])
    app.run_worker(concurrency=5, pool="async", burst=True)

    assert most == 5
    assert app.stats()["default"] == {"succeeded": 60}


def test_plain_functions_run_on_threads_beside_the_loop(app: jobq.App) -> None:
    loop_free = threading.Event()

    @app.task
    def blocking() -> int:
        # Waits for a coroutine that can only run while this function blocks its thread.
        assert loop_free.wait(30), "the coroutine never ran"
        return threading.get_ident()

    @app.task
    async def coroutine() -> int:
        loop_free.set()
        return threading.get_ident()

    sync_job = blocking.enqueue()
    async_job = coroutine.with_options(priority=-1).enqueue()  # claimed second
    app.run_worker(concurrency=2, pool="async", burst=True)

    assert sync_job.result(timeout=1) != async_job.result(timeout=1)


def test_a_coroutine_that_swallows_its_timeout_is_abandoned_and_its_slot_freed(
    app: jobq.App, worker_logs: pytest.LogCaptureFixture,
) -> None:
    stop = threading.Event()

    @app.task(timeout=0.3)
    async def stubborn() -> None:
        while not stop.is_set():
            try:
                await asyncio.sleep(0.05)
            except (jobq.Timeout, asyncio.CancelledError):
                continue

    @app.task
    async def quick() -> str:
        return "quick"

    slow_job = stubborn.with_options(priority=10).enqueue()
    quick_job = quick.enqueue()
    try:
        # One slot: the quick job runs only once the stubborn one gives its slot up.
        with worker_thread(app, concurrency=1, pool="async", kill_after=0.3):
            assert quick_job.result(timeout=30) == "quick"
            slow_job.refresh()
            assert slow_job.status is Status.FAILED
            assert slow_job.error is not None and slow_job.error.type == "Timeout"
            assert "its coroutine or thread is abandoned" in worker_logs.text
    finally:
        stop.set()


def test_a_coroutine_that_blocks_the_loop_keeps_its_lease_and_the_watchdog_names_it(
    make_app: Callable[..., jobq.App], worker_logs: pytest.LogCaptureFixture,
) -> None:
    app = make_app(lease=2.0)

    @app.task
    async def blocks() -> str:
        time.sleep(5)  # blocks the event loop, well past the 2 s lease
        return "done"

    job = blocks.enqueue()
    app.run_worker(concurrency=4, pool="async", burst=True)

    assert job.result(timeout=1) == "done"
    assert job.refresh().attempts == 1
    actions = [getattr(r, "action", None) for r in worker_logs.records]
    assert "lease_lost" not in actions and "reaped_pending" not in actions
    blocked = [r for r in worker_logs.records if getattr(r, "action", None) == "loop_blocked"]
    assert blocked and all(getattr(r, "job_id", None) == job.id for r in blocked)
    assert "has blocked the async pool's event loop for" in blocked[0].getMessage()
    assert any(f"job {job.id} ({blocks.name}) let the async pool's event loop run again"
               in r.getMessage() for r in worker_logs.records)
