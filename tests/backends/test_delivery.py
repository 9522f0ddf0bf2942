"""Contract: jobs of tasks a worker lacks (postpone, skipped claims, waiting tasks), the
worker registry, and enqueueing calls whose job ids were fixed before."""

from __future__ import annotations

import os
import time
from dataclasses import replace
from typing import Any

import pytest

import jobq
from jobq import Status
from jobq.backends.base import UNKNOWN_TASK_DELAY, Postponed, WorkerInfo
from tests.backends.support import claim, claim_one, finish


def _postponed(job_id: str, token: str) -> Postponed:
    return Postponed(job_id, token, "waiting for a worker with noop", "gave up on noop")


# -- postpone ------------------------------------------------------------------------------


def test_postpone_hands_the_job_back_without_using_an_attempt(app: jobq.App, noop: Any) -> None:
    job = noop.enqueue()
    claimed = claim_one(app)
    before = time.time()
    assert app.backend.postpone([_postponed(claimed.id, claimed.token)], 3600.0) == [
        Status.SCHEDULED]
    record = job.refresh().record
    assert (record.status, record.attempts, record.lost_leases) == (Status.SCHEDULED, 0, 0)
    assert record.error is not None and record.error.type == "UnknownTask"
    assert record.error.message == "waiting for a worker with noop"
    assert record.unknown_task_since is not None
    assert record.unknown_task_since.timestamp() == pytest.approx(before, abs=5)
    delay = (record.run_at - record.unknown_task_since).total_seconds()
    assert UNKNOWN_TASK_DELAY[0] - 0.01 <= delay <= UNKNOWN_TASK_DELAY[1]
    assert record.worker_id is None and record.lease_expires_at is None
    # Its lease is gone: a second hand-back under the same token is refused.
    assert app.backend.postpone([_postponed(claimed.id, claimed.token)], 3600.0) == [None]


def test_a_job_that_waited_long_enough_fails_with_unknown_task(app: jobq.App, noop: Any) -> None:
    job = noop.enqueue()
    claimed = claim_one(app)
    assert app.backend.postpone([_postponed(claimed.id, claimed.token)], 0.0) == [Status.FAILED]
    record = job.refresh().record
    assert (record.status, record.attempts) == (Status.FAILED, 0)
    assert record.error is not None and record.error.type == "UnknownTask"
    assert record.error.message == "gave up on noop"
    assert record.finished_at is not None and record.unknown_task_since is None
    assert app.backend.waiting_tasks() == []


def test_postpone_never_gives_up_without_a_limit_and_ends_a_cancelled_job(
    app: jobq.App, noop: Any
) -> None:
    kept, stopped = noop.enqueue(1), noop.enqueue(2)
    by_id = {c.id: c for c in claim(app, limit=2)}
    assert stopped.cancel()
    result = app.backend.postpone(
        [_postponed(kept.id, by_id[kept.id].token),
         _postponed(stopped.id, by_id[stopped.id].token),
         _postponed("no-such-job", "x")], None)
    assert result == [Status.SCHEDULED, Status.CANCELLED, None]
    assert stopped.refresh().status is Status.CANCELLED


def test_a_waiting_job_cancelled_no_longer_waits_for_its_task(app: jobq.App, noop: Any) -> None:
    job = noop.enqueue()
    claimed = claim_one(app)
    app.backend.postpone([_postponed(claimed.id, claimed.token)], 3600.0)
    assert job.cancel()
    assert (job.status, job.record.unknown_task_since) == (Status.CANCELLED, None)
    assert app.backend.waiting_tasks() == []


def test_waiting_tasks_counts_handed_back_jobs_until_a_worker_runs_them(
    app: jobq.App, noop: Any
) -> None:
    jobs = [noop.enqueue(i) for i in range(3)]
    claimed = claim(app, limit=3)
    app.backend.postpone([_postponed(c.id, c.token) for c in claimed], 3600.0)
    (waiting,) = app.backend.waiting_tasks()
    assert (waiting.task, waiting.jobs) == ("noop", 3)
    assert waiting.since == pytest.approx(time.time(), abs=5)

    # A worker that has the task runs one (once due): it no longer waits.
    again = _due(app)
    assert finish(app, again, Status.SUCCEEDED, result="0")
    assert [(w.task, w.jobs) for w in app.backend.waiting_tasks()] == [("noop", 2)]
    done = next(job for job in jobs if job.id == again.id).refresh().record
    assert (done.status, done.attempts, done.unknown_task_since) == (Status.SUCCEEDED, 1, None)


def _due(app: jobq.App) -> Any:
    """Claim a postponed job once it is due (the shortest delay is a second)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        got = app.backend.claim("w", ["default"], 1, 30.0)
        if got:
            return got[0]
        time.sleep(0.05)  # polling a condition (the job is due) with a deadline
    raise AssertionError("the postponed job never came due")


def test_a_claim_skips_the_named_tasks(app: jobq.App, noop: Any) -> None:
    @app.task(name="other")
    def other() -> None: ...

    skipped = noop.enqueue()
    taken = other.enqueue()
    got = app.backend.claim("w", ["default"], 10, 30.0, skip_tasks=["noop", "absent"])
    assert [c.id for c in got] == [taken.id]
    assert [c.id for c in claim(app)] == [skipped.id]


# -- the worker registry -------------------------------------------------------------------


STARTED = time.time() - 10


def _worker(worker_id: str, tasks: tuple[str, ...] = ("noop",), age: float = 0) -> WorkerInfo:
    return WorkerInfo(worker_id, "host-1", os.getpid(), STARTED - age, ("default", "mail"),
                      tasks)


def test_registered_workers_are_listed_until_they_leave(app: jobq.App) -> None:
    assert app.backend.workers(60.0) == []
    app.backend.register_worker(_worker("w-1", age=1))
    app.backend.register_worker(_worker("w-2", ("a", "b")))
    app.backend.register_worker(_worker("w-1", age=1))  # a refresh, not a second row
    listed = app.backend.workers(60.0)
    assert [w.id for w in listed] == ["w-1", "w-2"]
    first = listed[0]
    assert (first.host, first.pid, first.queues, first.tasks) == (
        "host-1", os.getpid(), ("default", "mail"), ("noop",))
    assert first.started_at == pytest.approx(STARTED - 1)
    assert first.last_seen == pytest.approx(time.time(), abs=5)
    app.backend.unregister_worker("w-1")
    assert [w.id for w in app.backend.workers(60.0)] == ["w-2"]


def test_a_worker_not_seen_lately_is_ignored(app: jobq.App) -> None:
    app.backend.register_worker(_worker("w-1"))
    time.sleep(0.2)  # the registry's clock must move past the worker's last sighting
    assert app.backend.workers(0.1) == []
    assert [w.id for w in app.backend.workers(60.0)] == ["w-1"]


def test_waiting_for_tasks_leaves_out_tasks_a_running_worker_has(
    app: jobq.App, noop: Any
) -> None:
    noop.enqueue()
    claimed = claim_one(app)
    app.backend.postpone([_postponed(claimed.id, claimed.token)], 3600.0)
    assert [w.task for w in app.waiting_for_tasks()] == ["noop"]
    app.backend.register_worker(_worker("w-new", ("noop",)))
    assert app.waiting_for_tasks() == []


# -- ids fixed before enqueueing -----------------------------------------------------------


def test_a_call_whose_id_is_stored_returns_that_job(app: jobq.App, noop: Any) -> None:
    first = noop.enqueue(1)
    again = app.enqueue_many([noop.call(3), replace(noop.call(2), id=first.id)])
    assert again[1].id == first.id
    assert again[1].record.args == [1]  # the stored job, not the call's arguments
    same = app.enqueue_call(replace(noop.call(9), id=first.id))
    assert same.id == first.id and same.record.args == [1]
    assert len(app.jobs()) == 2


def test_a_batch_of_fixed_ids_enqueued_twice_stores_each_job_once(
    app: jobq.App, noop: Any
) -> None:
    calls = [noop.call(i) for i in range(300)]  # past every store's one-statement path
    fixed = [replace(c, id=f"fixed-{i}") for i, c in enumerate(calls)]
    first = app.enqueue_many(fixed[:100])
    both = app.enqueue_many(fixed)
    assert [j.id for j in both] == [f"fixed-{i}" for i in range(300)]
    assert [j.id for j in first] == [f"fixed-{i}" for i in range(100)]
    assert len(app.jobs(limit=1000)) == 300
    assert both[5].record.args == [5] and both[250].record.args == [250]


def test_durability_warnings_are_sentences_pointing_to_the_docs(app: jobq.App) -> None:
    warnings = app.backend.durability_warnings()
    assert isinstance(warnings, list)
    assert all(isinstance(w, str) and "docs/" in w for w in warnings)
