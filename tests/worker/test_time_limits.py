"""Time limits in the thread pool (and for coroutines in the async pool): the attempt
fails with Timeout when the limit passes, a late result is thrown away, and the pool
keeps its size meanwhile. The process pool's are in ``test_process_pool.py``."""

from __future__ import annotations

import asyncio
import logging
import threading

import pytest

import jobq
from jobq import Status
from tests.waiting import wait_for
from tests.worker.harness import worker_thread

LATE = "finished late; its result is discarded"


@pytest.fixture
def worker_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="jobq.worker")
    return caplog


def test_a_sync_task_past_its_limit_fails_and_its_late_result_is_discarded(
    app: jobq.App, worker_logs: pytest.LogCaptureFixture
) -> None:
    release = threading.Event()
    quick_ran = threading.Event()

    @app.task(timeout=0.3)
    def stuck() -> str:
        release.wait(30)
        return "too late"

    @app.task
    def quick() -> str:
        quick_ran.set()
        return "quick"

    # One thread: the quick job can only run if the stuck thread is replaced.
    slow_job = stuck.with_options(priority=10).enqueue()
    quick_job = quick.enqueue()
    try:
        with worker_thread(app, concurrency=1):
            assert quick_job.result(timeout=30) == "quick"
            assert not release.is_set()  # the stuck task is still running
            slow_job.refresh()
            assert slow_job.status is Status.FAILED
            assert slow_job.error is not None and slow_job.error.type == "Timeout"
            assert "0.3s time limit" in slow_job.error.message

            release.set()
            wait_for(lambda: LATE in worker_logs.text, what="the stuck thread to return")
            slow_job.refresh()
            assert slow_job.status is Status.FAILED
            assert slow_job.record.result is None
    finally:
        release.set()


def test_a_timed_out_attempt_is_retried_and_the_retry_result_stands(
    app: jobq.App, worker_logs: pytest.LogCaptureFixture
) -> None:
    release = threading.Event()

    @app.task(timeout=0.3, retries=1, backoff=jobq.Backoff(base=0, cap=0))
    def sometimes_stuck() -> str:
        if jobq.current_job().attempts == 1:
            release.wait(30)
            return "first attempt, late"
        return "second attempt"

    job = sometimes_stuck.enqueue()
    try:
        with worker_thread(app, concurrency=1):
            assert job.result(timeout=30) == "second attempt"
            assert job.refresh().attempts == 2
            release.set()
            wait_for(lambda: LATE in worker_logs.text, what="the first attempt to return")
            assert job.result(timeout=1) == "second attempt"
            assert job.refresh().status is Status.SUCCEEDED
    finally:
        release.set()


@pytest.mark.parametrize("pool", ["thread", "async"])
def test_an_async_task_past_its_limit_gets_timeout_raised_inside_it(
    app: jobq.App, pool: str
) -> None:
    seen: list[str] = []

    @app.task(timeout=0.3)
    async def sleepy() -> str:
        try:
            await asyncio.sleep(30)
        except jobq.Timeout:
            seen.append("Timeout")
            raise
        except asyncio.CancelledError:
            seen.append("CancelledError")
            raise
        return "woke up"

    job = sleepy.enqueue()
    app.run_worker(concurrency=1, burst=True, pool=pool)

    assert seen == ["Timeout"]
    job.refresh()
    assert job.status is Status.FAILED
    assert job.error is not None and job.error.type == "Timeout"


def test_an_async_task_may_catch_its_timeout_and_clean_up(app: jobq.App) -> None:
    @app.task(timeout=0.3, retries=2)
    async def tidy() -> str:
        try:
            await asyncio.sleep(30)
        except jobq.Timeout:
            await asyncio.sleep(0)  # the loop still runs: cleanup may await
            return "cleaned up"
        return "woke up"

    job = tidy.enqueue()
    app.run_worker(concurrency=1, burst=True)

    assert job.result(timeout=1) == "cleaned up"
    assert job.refresh().attempts == 1
