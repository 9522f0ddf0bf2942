"""Contract: every outcome of an attempt, cancel, retry, purge and waiting for work."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

import jobq
from jobq import Status
from jobq.errors import JobNotFound
from jobq.job import JobError
from tests.backends.support import claim, claim_one, fail, finish, snapshot
from tests.waiting import wait_for


@pytest.fixture
def noop(app: jobq.App) -> Any:
    @app.task(name="noop", retries=1)
    def noop(n: int = 0) -> int:
        return n

    return noop


# -- outcomes --------------------------------------------------------------------------------


def test_succeeded_stores_the_result(app: jobq.App, noop: Any) -> None:
    job = noop.enqueue()
    claimed = claim_one(app)
    assert finish(app, claimed, Status.SUCCEEDED, result='{"answer": [4, 2], "ok": true}')
    assert job.result(timeout=5) == {"answer": [4, 2], "ok": True}
    record = job.record
    assert record.status is Status.SUCCEEDED
    assert record.finished_at is not None and record.started_at is not None
    assert record.finished_at >= record.started_at
    assert record.attempts == 1
    assert record.lease_expires_at is None


def test_succeeded_with_a_null_result(app: jobq.App, noop: Any) -> None:
    job = noop.enqueue()
    assert finish(app, claim_one(app), Status.SUCCEEDED, result="null")
    assert job.result(timeout=5) is None
    assert job.status is Status.SUCCEEDED


def test_failed_stores_the_error(app: jobq.App, noop: Any) -> None:
    job = noop.enqueue()
    claimed = claim_one(app)
    error = JobError("KeyError", "'user' not found — ünïcode", "Traceback (most recent...)\n")
    assert finish(app, claimed, Status.FAILED, error=error)
    record = app.get_job(job.id)
    assert record is not None and record.status is Status.FAILED
    assert record.error == error
    assert record.finished_at is not None
    with pytest.raises(jobq.JobFailed) as info:
        job.result(timeout=5)
    assert info.value.job_id == job.id
    assert info.value.error_type == "KeyError"
    assert info.value.error_message == error.message
    assert info.value.traceback == error.traceback
    assert "KeyError" in str(info.value)
    assert claim(app) == []  # the dead letter is not claimed again


def test_scheduled_retries_the_job_at_run_at(app: jobq.App, noop: Any) -> None:
    job = noop.enqueue()
    claimed = claim_one(app)
    run_at = time.time() + 0.4
    error = JobError("ConnectionError", "refused", "tb")
    assert finish(app, claimed, Status.SCHEDULED, error=error, run_at=run_at)
    record = app.get_job(job.id)
    assert record is not None
    assert record.status is Status.SCHEDULED
    assert record.run_at.timestamp() == pytest.approx(run_at, abs=0.01)
    assert record.attempts == 1
    assert record.finished_at is None
    assert app.backend.next_due(["default"]) == pytest.approx(run_at, abs=0.01)
    assert claim(app) == []
    again = wait_for(lambda: claim(app), what="the retry to become due")
    assert [(c.id, c.attempts) for c in again] == [(job.id, 2)]


def test_cancelled_outcome(app: jobq.App, noop: Any) -> None:
    job = noop.enqueue()
    assert finish(app, claim_one(app), Status.CANCELLED)
    record = app.get_job(job.id)
    assert record is not None and record.status is Status.CANCELLED
    assert record.finished_at is not None
    with pytest.raises(jobq.JobCancelled) as info:
        job.result(timeout=5)
    assert info.value.job_id == job.id


def test_pending_hands_the_job_back_without_counting_the_attempt(
    app: jobq.App, noop: Any
) -> None:
    job = noop.enqueue()
    claimed = claim_one(app)
    assert finish(app, claimed, Status.PENDING)
    record = app.get_job(job.id)
    assert record is not None
    assert record.status is Status.PENDING
    assert record.attempts == 0
    assert record.record.lease_expires_at is None
    assert app.backend.heartbeat([(claimed.id, claimed.token)], 30.0).lost == {job.id}
    again = claim_one(app)
    assert (again.id, again.attempts) == (job.id, 1)
    assert again.token != claimed.token


# -- cancel ----------------------------------------------------------------------------------


def _counting_task(app: jobq.App) -> tuple[Any, list[Any]]:
    calls: list[Any] = []

    @app.task(name="counted")
    def counted(n: int) -> int:
        calls.append(n)
        return n

    return counted, calls


def test_cancel_a_pending_job_and_it_never_runs(app: jobq.App) -> None:
    counted, calls = _counting_task(app)
    job, keep = counted.enqueue(1), counted.enqueue(2)
    assert job.cancel() is True
    assert job.status is Status.CANCELLED
    assert app.get_job(job.id).status is Status.CANCELLED  # type: ignore[union-attr]
    app.run_worker(concurrency=1, burst=True)
    assert calls == [2]
    assert keep.result(timeout=5) == 2
    with pytest.raises(jobq.JobCancelled):
        job.result(timeout=5)


def test_cancel_a_scheduled_job(app: jobq.App) -> None:
    counted, calls = _counting_task(app)
    job = counted.with_options(delay=0.2).enqueue(1)
    assert app.cancel(job.id) is True
    assert app.get_job(job.id).status is Status.CANCELLED  # type: ignore[union-attr]
    assert app.cancel(job.id) is False  # already finished: nothing to cancel
    assert app.backend.next_due(["default"]) is None
    wait_for(lambda: time.time() > job.run_at.timestamp() + 0.1, what="the job's run_at")
    assert claim(app) == []
    assert calls == []
    assert app.get_job(job.id).status is Status.CANCELLED  # type: ignore[union-attr]


def test_cancel_a_running_job_is_reported_by_the_heartbeat(app: jobq.App, noop: Any) -> None:
    job = noop.enqueue()
    claimed = claim_one(app)
    assert job.cancel() is True
    assert job.status is Status.RUNNING  # cooperative: the worker decides when to stop
    assert job.record.cancel_requested
    reply = app.backend.heartbeat([(claimed.id, claimed.token)], 30.0)
    assert reply.cancel_requested == {job.id}
    assert reply.lost == frozenset()
    assert finish(app, claimed, Status.CANCELLED)
    assert app.get_job(job.id).status is Status.CANCELLED  # type: ignore[union-attr]


def test_cancel_a_running_job_twice(app: jobq.App, noop: Any) -> None:
    job = noop.enqueue()
    claimed = claim_one(app)
    assert job.cancel() is True
    assert job.cancel() is True  # still running, still asked to stop
    reply = app.backend.heartbeat([(claimed.id, claimed.token)], 30.0)
    assert reply.cancel_requested == {job.id}


@pytest.mark.parametrize("end", [Status.SCHEDULED, Status.PENDING])
def test_a_job_asked_to_cancel_is_not_run_again_after_its_attempt_ends(
    app: jobq.App, noop: Any, end: Status
) -> None:
    job = noop.enqueue()
    claimed = claim_one(app)
    assert job.cancel()
    # The attempt ended before the worker heard of the cancel: it reports a retry, or
    # hands the job back while stopping. Neither may run the job again.
    run_at = time.time() - 1 if end is Status.SCHEDULED else None
    assert finish(app, claimed, end, run_at=run_at)
    record = app.get_job(job.id)
    assert record is not None and record.status is Status.CANCELLED
    assert record.finished_at is not None
    assert claim(app) == []


def test_a_job_asked_to_cancel_whose_worker_died_is_cancelled_by_the_reaper(
    app: jobq.App, noop: Any
) -> None:
    job = noop.enqueue()
    claim_one(app, worker="dead-worker")
    assert job.cancel()
    reaped = app.backend.reap(now=time.time() + app.settings.lease + 60)
    assert [(r.id, r.status) for r in reaped] == [(job.id, Status.CANCELLED)]
    assert app.get_job(job.id).status is Status.CANCELLED  # type: ignore[union-attr]
    assert claim(app) == []


@pytest.mark.parametrize("outcome", [Status.SUCCEEDED, Status.FAILED, Status.CANCELLED])
def test_cancel_a_finished_job_changes_nothing(
    app: jobq.App, noop: Any, outcome: Status
) -> None:
    job = noop.enqueue()
    claimed = claim_one(app)
    assert finish(app, claimed, outcome, result="7" if outcome is Status.SUCCEEDED else None)
    before = snapshot(app)
    assert job.cancel() is False
    assert job.status is outcome
    assert snapshot(app) == before


def test_cancel_an_unknown_job(app: jobq.App) -> None:
    with pytest.raises(JobNotFound, match="no-such-id"):
        app.cancel("no-such-id")


# -- retry -----------------------------------------------------------------------------------


@pytest.mark.parametrize("end", [Status.FAILED, Status.CANCELLED])
def test_retry_a_failed_or_cancelled_job_runs_it_again_with_fresh_attempts(
    app: jobq.App, noop: Any, end: Status
) -> None:
    job = noop.enqueue(3)
    for _ in range(2):  # use up both attempts
        claimed = claim_one(app)
        if end is Status.CANCELLED:
            assert finish(app, claimed, Status.CANCELLED)
            break
        assert fail(app, claimed) if claimed.attempts == 2 else finish(
            app, claimed, Status.SCHEDULED, run_at=time.time() - 1
        )
    assert app.get_job(job.id).status is end  # type: ignore[union-attr]

    again = app.retry(job.id)
    assert again.id == job.id
    assert again.status is Status.PENDING
    assert again.attempts == 0
    assert again.error is None
    assert again.finished_at is None
    claimed = claim_one(app)
    assert (claimed.id, claimed.attempts, claimed.max_attempts) == (job.id, 1, 2)
    assert finish(app, claimed, Status.SUCCEEDED, result="3")
    assert job.result(timeout=5) == 3


@pytest.mark.parametrize("state", ["pending", "scheduled", "running", "succeeded"])
def test_retry_of_a_job_that_is_not_failed_or_cancelled_is_refused(
    app: jobq.App, noop: Any, state: str
) -> None:
    job = noop.with_options(delay=3600 if state == "scheduled" else None).enqueue()
    if state in ("running", "succeeded"):
        claimed = claim_one(app)
        if state == "succeeded":
            assert finish(app, claimed, Status.SUCCEEDED, result="0")
    before = snapshot(app)
    with pytest.raises(jobq.JobqError, match=rf"{job.id}.*{state}.*failed or cancelled"):
        app.retry(job.id)
    assert snapshot(app) == before


def test_retry_refused_while_another_live_job_holds_the_key(app: jobq.App, noop: Any) -> None:
    first = noop.with_options(key="report:7").enqueue()
    assert first.cancel()
    second = noop.with_options(key="report:7").enqueue()
    assert second.id != first.id
    before = snapshot(app)
    with pytest.raises(jobq.KeyConflict, match=f"{first.id}.*idempotency key") as refused:
        app.retry(first.id)
    assert refused.value.job_id == first.id
    assert snapshot(app) == before
    assert second.cancel()
    assert app.retry(first.id).status is Status.PENDING  # the key is free again


def test_retry_of_an_unknown_job(app: jobq.App, noop: Any) -> None:
    noop.enqueue()
    before = snapshot(app)
    with pytest.raises(JobNotFound, match="nope"):
        app.retry("nope")
    assert snapshot(app) == before


# -- purge -----------------------------------------------------------------------------------


def test_purge_deletes_only_finished_jobs_older_than_the_cutoff(
    app: jobq.App, noop: Any
) -> None:
    # Claims go oldest first, so each claim_one below takes the next of these four.
    old_ok, old_failed, new_ok, running = (noop.enqueue(i) for i in range(4))
    assert finish(app, claim_one(app), Status.SUCCEEDED, result="0")
    assert fail(app, claim_one(app))
    old_at = app.get_job(old_ok.id).finished_at.timestamp()  # type: ignore[union-attr]
    wait_for(lambda: time.time() > old_at + 1.0, what="time to pass")
    assert finish(app, claim_one(app), Status.SUCCEEDED, result="0")
    assert claim_one(app).id == running.id
    pending = noop.enqueue()
    scheduled = noop.with_options(delay=3600).enqueue()
    new_at = app.get_job(new_ok.id).finished_at.timestamp()  # type: ignore[union-attr]

    # A cutoff between the two finish times: only the older success goes.
    assert app.purge(older_than=time.time() - (old_at + new_at) / 2) == 1
    assert app.get_job(old_ok.id) is None
    assert len(app.jobs(limit=100)) == 5

    assert app.purge(older_than=0, statuses=["failed", "cancelled"]) == 1
    assert app.get_job(old_failed.id) is None
    assert app.purge(older_than=0) == 1
    assert app.get_job(new_ok.id) is None
    live = {j.id: j.status for j in app.jobs(limit=100)}
    assert live == {running.id: Status.RUNNING, pending.id: Status.PENDING,
                    scheduled.id: Status.SCHEDULED}
    assert app.purge(older_than=0, statuses=["succeeded", "failed", "cancelled"]) == 0


def test_purge_refuses_live_statuses(app: jobq.App, noop: Any) -> None:
    noop.enqueue()
    before = snapshot(app)
    with pytest.raises(jobq.ConfigError, match="pending"):
        app.purge(statuses=["pending"])
    with pytest.raises(jobq.ConfigError, match="older_than"):
        app.purge(older_than=-1)
    assert snapshot(app) == before


# -- waiting for work ------------------------------------------------------------------------


def test_wait_for_work_returns_when_another_app_enqueues(
    make_app: Callable[..., jobq.App]
) -> None:
    waiter, producer = make_app(), make_app()
    producer.task(name="noop")(lambda: None)
    waiter.backend.get("warm-up")  # connect (and create the schema) before waiting
    returned = threading.Event()
    started = time.monotonic()

    def wait() -> None:
        waiter.backend.wait_for_work(30.0)
        returned.set()

    thread = threading.Thread(target=wait, daemon=True)
    thread.start()
    # Enqueue until the waiter wakes: a job stored before the waiter began to listen
    # cannot wake it, so one enqueue alone would make this test racy.
    while not returned.wait(0.5):
        producer.enqueue("noop")
        assert time.monotonic() - started < 10, "wait_for_work did not return"
    assert time.monotonic() - started < 5
    thread.join(5)


def test_wait_for_work_returns_when_woken(app: jobq.App) -> None:
    app.backend.get("warm-up")
    wake = threading.Event()
    returned = threading.Event()
    thread = threading.Thread(
        target=lambda: (app.backend.wait_for_work(30.0, wake), returned.set()), daemon=True
    )
    started = time.monotonic()
    thread.start()
    wake.set()
    assert returned.wait(5), "wait_for_work ignored its wake event"
    assert time.monotonic() - started < 5


def test_wait_for_work_returns_after_its_timeout(app: jobq.App) -> None:
    app.backend.get("warm-up")
    started = time.monotonic()
    app.backend.wait_for_work(0.2)
    assert 0.15 <= time.monotonic() - started < 5
