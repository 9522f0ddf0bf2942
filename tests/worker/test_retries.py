"""Retries in real worker runs: how many attempts, which failures, and how long between."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

import jobq
from jobq import Status

NO_WAIT = jobq.Backoff(base=0, cap=0)
# How late the worker may record a failure after the task raised (it hands the attempt
# from the pool thread to its loop first). Generous: the machine is shared.
SLACK = 0.5
# Stored times may be rounded (PostgreSQL keeps microseconds, Redis milliseconds).
ROUNDING = 0.002

ERRORS: dict[str, type[Exception]] = {
    "ValueError": ValueError,
    "KeyError": KeyError,
    "ConnectionResetError": ConnectionResetError,
}


def test_a_failing_task_runs_retries_plus_one_times_then_fails(app: jobq.App) -> None:
    attempts: list[int] = []

    @app.task(retries=2, backoff=NO_WAIT)
    def broken() -> None:
        attempts.append(jobq.current_job().attempts)
        raise ValueError("still broken")

    job = broken.enqueue()
    app.run_worker(concurrency=2, burst=True)

    assert attempts == [1, 2, 3]
    job.refresh()
    assert job.status is Status.FAILED
    assert job.attempts == job.max_attempts == 3
    assert job.error is not None
    assert (job.error.type, job.error.message) == ("ValueError", "still broken")
    assert "still broken" in job.error.traceback
    with pytest.raises(jobq.JobFailed, match="ValueError: still broken"):
        job.result(timeout=1)


def test_a_task_that_recovers_succeeds_on_a_later_attempt(app: jobq.App) -> None:
    @app.task(retries=3, backoff=NO_WAIT)
    def flaky() -> str:
        if jobq.current_job().attempts < 3:
            raise ConnectionError("try again")
        return "third time lucky"

    job = flaky.enqueue()
    app.run_worker(concurrency=1, burst=True)

    assert job.result(timeout=1) == "third time lucky"
    assert job.refresh().attempts == 3


def test_retry_raised_by_the_task_waits_its_delay(app: jobq.App) -> None:
    raised_at: list[float] = []
    seen: list[jobq.Job] = []

    @app.task(retries=1, backoff=jobq.Backoff(base=100, cap=100))
    def later() -> str:
        job = jobq.current_job()
        if job.attempts == 1:
            raised_at.append(time.time())
            raise jobq.Retry(delay=0.3)
        record = app.get_job(job.id)
        assert record is not None
        seen.append(record)
        return "done"

    job = later.enqueue()
    app.run_worker(concurrency=1, burst=True)

    assert job.result(timeout=1) == "done"
    (second,) = seen
    assert second.started_at is not None
    waited = second.run_at.timestamp() - raised_at[0]
    # The delay given to Retry, not the task's 100 s backoff.
    assert 0.3 - ROUNDING <= waited <= 0.3 + SLACK
    assert second.started_at >= second.run_at


def test_retry_raised_on_the_last_attempt_fails_the_job(app: jobq.App) -> None:
    @app.task(retries=1)
    def always_later() -> None:
        raise jobq.Retry(delay=0)

    job = always_later.enqueue()
    app.run_worker(concurrency=1, burst=True)

    job.refresh()
    assert (job.status, job.attempts) == (Status.FAILED, 2)
    assert job.error is not None and job.error.type == "Retry"


@pytest.mark.parametrize(
    ("options", "raised", "attempts"),
    [
        ({"retry_on": ConnectionError}, "ConnectionResetError", 3),
        ({"retry_on": ConnectionError}, "ValueError", 1),
        ({"dont_retry_on": (KeyError,)}, "KeyError", 1),
        ({"dont_retry_on": (KeyError,)}, "ValueError", 3),
    ],
)
def test_retry_on_and_dont_retry_on_choose_which_failures_run_again(
    app: jobq.App, options: dict[str, Any], raised: str, attempts: int
) -> None:
    @app.task(retries=2, backoff=NO_WAIT, **options)
    def picky(kind: str) -> None:
        raise ERRORS[kind]("boom")

    job = picky.enqueue(raised)
    app.run_worker(concurrency=1, burst=True)

    job.refresh()
    assert job.status is Status.FAILED
    assert job.attempts == attempts
    assert job.error is not None and job.error.type == raised


@pytest.mark.parametrize("jitter", [False, True])
def test_backoff_between_attempts_stays_within_its_bounds(
    make_app: Callable[..., jobq.App], jitter: bool
) -> None:
    app = make_app()
    # Ceilings 0.2 s, then 0.8 and 3.2 s capped to 0.5 s.
    backoff = jobq.Backoff(base=0.2, factor=4, cap=0.5, jitter=jitter)
    raised_at: dict[int, float] = {}
    records: dict[int, jobq.Job] = {}

    @app.task(retries=3, backoff=backoff)
    def failing() -> None:
        job = jobq.current_job()
        record = app.get_job(job.id)
        assert record is not None
        records[job.attempts] = record
        raised_at[job.attempts] = time.time()
        raise OSError("unreachable")

    job = failing.enqueue()
    app.run_worker(concurrency=1, burst=True)

    assert job.refresh().status is Status.FAILED
    assert sorted(records) == [1, 2, 3, 4]
    for retry in (1, 2, 3):
        record = records[retry + 1]
        assert record.started_at is not None
        waited = record.run_at.timestamp() - raised_at[retry]
        ceiling = backoff.ceiling(retry)
        lowest = ceiling if not jitter else 0.0
        assert lowest - ROUNDING <= waited <= ceiling + SLACK, (retry, waited, ceiling)
        assert record.started_at >= record.run_at  # never runs before it is due
