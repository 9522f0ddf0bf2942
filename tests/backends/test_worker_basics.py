"""Contract: the worker end to end on every backend, in burst mode."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

import jobq
from jobq import Backoff, Status
from tests.waiting import wait_for

FAST = Backoff(base=0.01, cap=0.05)


def test_runs_sync_and_async_tasks(app: jobq.App) -> None:
    @app.task
    def add(a: int, b: int) -> int:
        return a + b

    @app.task
    async def greet(name: str, punctuation: str = "!") -> str:
        await asyncio.sleep(0)
        return f"hello {name}{punctuation}"

    jobs = [add.enqueue(2, 3), greet.enqueue("ada"), greet.enqueue("bob", punctuation="?")]
    app.run_worker(concurrency=2, burst=True)
    assert [j.result(timeout=5) for j in jobs] == [5, "hello ada!", "hello bob?"]
    for job in jobs:
        assert job.status is Status.SUCCEEDED
        assert job.attempts == 1
        assert job.error is None


def test_current_job_is_visible_inside_the_task(app: jobq.App) -> None:
    @app.task(name="who")
    def who() -> dict[str, Any]:
        me = jobq.current_job()
        return {"id": me.id, "attempts": me.attempts, "task": me.task}

    job = who.enqueue()
    app.run_worker(concurrency=1, burst=True)
    assert job.result(timeout=5) == {"id": job.id, "attempts": 1, "task": "who"}


def test_a_failing_task_is_retried_with_backoff_then_succeeds(app: jobq.App) -> None:
    seen: list[int] = []

    @app.task(name="flaky", retries=3, backoff=FAST)
    def flaky() -> str:
        attempt = jobq.current_job().attempts
        seen.append(attempt)
        if attempt < 3:
            raise ConnectionError(f"refused on attempt {attempt}")
        return "ok"

    job = flaky.enqueue()
    app.run_worker(concurrency=1, burst=True)
    assert job.result(timeout=5) == "ok"
    assert seen == [1, 2, 3]
    assert job.attempts == 3


def test_retries_spent_ends_failed_with_the_error(app: jobq.App) -> None:
    calls: list[int] = []

    @app.task(name="broken", retries=2, backoff=FAST)
    def broken(n: int) -> None:
        calls.append(n)
        raise ValueError(f"bad value {n}")

    job = broken.enqueue(7)
    app.run_worker(concurrency=1, burst=True)
    assert calls == [7, 7, 7]  # retries=2: three attempts in all
    with pytest.raises(jobq.JobFailed) as info:
        job.result(timeout=5)
    assert info.value.error_type == "ValueError"
    assert info.value.error_message == "bad value 7"
    assert "ValueError: bad value 7" in info.value.traceback
    assert "broken" in info.value.traceback
    record = app.get_job(job.id)
    assert record is not None and record.status is Status.FAILED and record.attempts == 3
    assert [j.id for j in app.jobs(status="failed")] == [job.id]  # the dead-letter queue


def test_retry_raised_by_the_task_uses_its_delay(app: jobq.App) -> None:
    @app.task(name="polite", retries=1, backoff=Backoff(base=3600, cap=3600, jitter=False))
    def polite() -> str:
        if jobq.current_job().attempts == 1:
            raise jobq.Retry(delay=0.05, reason="not ready yet")
        return "done"

    job = polite.enqueue()
    # The task's own backoff would wait an hour; Retry(delay=0.05) overrides it.
    app.run_worker(concurrency=1, burst=True)
    assert job.result(timeout=5) == "done"
    assert job.attempts == 2


def test_retry_counts_against_the_attempts(app: jobq.App) -> None:
    @app.task(name="forever", retries=1)
    def forever() -> None:
        raise jobq.Retry(delay=0)

    job = forever.enqueue()
    app.run_worker(concurrency=1, burst=True)
    with pytest.raises(jobq.JobFailed) as info:
        job.result(timeout=5)
    assert info.value.error_type == "Retry"
    assert job.attempts == 2


def test_retry_on_and_dont_retry_on(app: jobq.App) -> None:
    counts = {"timeout": 0, "other": 0, "excluded": 0}

    @app.task(name="narrow", retries=3, backoff=FAST, retry_on=(TimeoutError,))
    def narrow(kind: str) -> None:
        counts[kind] += 1
        raise TimeoutError("slow") if kind == "timeout" else KeyError(kind)

    @app.task(name="broad", retries=3, backoff=FAST, dont_retry_on=PermissionError)
    def broad() -> None:
        counts["excluded"] += 1
        raise PermissionError("denied")

    jobs = [narrow.enqueue("timeout"), narrow.enqueue("other"), broad.enqueue()]
    app.run_worker(concurrency=1, burst=True)
    assert counts == {"timeout": 4, "other": 1, "excluded": 1}
    errors = []
    for job in jobs:
        with pytest.raises(jobq.JobFailed) as info:
            job.result(timeout=5)
        errors.append(info.value.error_type)
    assert errors == ["TimeoutError", "KeyError", "PermissionError"]


def test_result_times_out_while_the_job_waits(app: jobq.App) -> None:
    @app.task(name="idle")
    def idle() -> None: ...

    job = idle.enqueue()
    with pytest.raises(TimeoutError, match=job.id):
        job.result(timeout=0.1)
    assert job.status is Status.PENDING


def test_a_cancelled_job_raises_job_cancelled(app: jobq.App) -> None:
    @app.task(name="never")
    def never() -> None:
        raise AssertionError("a cancelled job ran")

    job = never.enqueue()
    job.cancel()
    app.run_worker(concurrency=1, burst=True)
    with pytest.raises(jobq.JobCancelled, match=job.id):
        job.result(timeout=5)


def test_a_result_that_is_not_json_fails_the_job(app: jobq.App) -> None:
    @app.task(name="leaky")
    def leaky() -> object:
        return object()

    job = leaky.enqueue()
    app.run_worker(concurrency=1, burst=True)
    with pytest.raises(jobq.JobFailed) as info:
        job.result(timeout=5)
    assert info.value.error_type == "SerializationError"
    assert "leaky" in info.value.error_message


def test_a_job_no_worker_has_the_task_of_fails_after_unknown_task_timeout(
    make_app: Any,
) -> None:
    producer, worker_app = make_app(), make_app(unknown_task_timeout=0.5)

    @producer.task(name="only_in_producer")
    def only_in_producer() -> None: ...

    @producer.task(name="shared")
    def shared_p() -> int:
        return 0

    @worker_app.task(name="shared")
    def shared_w() -> int:
        return 1

    lost, fine = only_in_producer.enqueue(), shared_p.enqueue()
    worker_app.run_worker(concurrency=1, burst=True)
    assert fine.result(timeout=5) == 1
    assert lost.refresh().status is Status.SCHEDULED  # handed back, waiting for its task
    wait_for(lambda: lost.run_at.timestamp() < time.time(), what="the job to come due")
    worker_app.run_worker(concurrency=1, burst=True)  # it has now waited past the limit
    with pytest.raises(jobq.JobFailed) as info:
        lost.result(timeout=5)
    assert info.value.error_type == "UnknownTask"
    assert "only_in_producer" in info.value.error_message
    assert f"jobq retry {lost.id}" in info.value.error_message
    assert (lost.attempts, lost.record.unknown_task_since) == (0, None)


def test_burst_waits_for_its_own_retries_but_leaves_delayed_jobs(app: jobq.App) -> None:
    runs: list[str] = []

    @app.task(name="once_flaky", retries=1, backoff=Backoff(base=0.3, cap=0.3, jitter=False))
    def once_flaky(label: str) -> str:
        runs.append(label)
        if jobq.current_job().attempts == 1:
            raise ConnectionError("first attempt refused")
        return label

    later = once_flaky.with_options(delay=3600).enqueue("later")
    now = once_flaky.enqueue("now")
    app.run_worker(concurrency=1, burst=True)
    # The retry of "now" was this worker's own unfinished work; "later" is not due for an hour.
    assert now.result(timeout=5) == "now"
    assert now.attempts == 2
    assert later.refresh().status is Status.SCHEDULED
    assert runs == ["now", "now"]
