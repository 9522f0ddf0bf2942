"""Contract: claiming, leases, heartbeats, fencing tokens and the reaper."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

import jobq
from jobq import Status
from jobq.backends.base import ClaimedJob
from tests.backends.support import claim, claim_one, fail, finish, snapshot


def _future(app: jobq.App, seconds: float = 60.0) -> float:
    """A time at which every lease taken now has run out."""
    return time.time() + app.settings.lease + seconds


# -- claim -----------------------------------------------------------------------------------


def test_claim_leases_the_job_to_the_worker(app: jobq.App, noop: Any) -> None:
    job = noop.enqueue(5)
    before = time.time()
    claimed = claim_one(app, worker="w-1", lease=30.0)
    assert isinstance(claimed, ClaimedJob)
    assert (claimed.id, claimed.task, claimed.queue) == (job.id, "noop", "default")
    assert jobq.serializer.loads(claimed.args) == [5]
    assert jobq.serializer.loads(claimed.kwargs) == {}
    assert (claimed.attempts, claimed.max_attempts) == (1, 3)
    assert claimed.token

    record = app.get_job(job.id)
    assert record is not None
    assert record.status is Status.RUNNING
    assert record.attempts == 1
    assert record.record.worker_id == "w-1"
    assert record.started_at is not None and record.started_at.timestamp() >= before - 1
    lease_end = record.record.lease_expires_at
    assert lease_end is not None
    assert lease_end.timestamp() == pytest.approx(time.time() + 30.0, abs=5)
    assert claim(app) == []  # a running job is not claimed again


def test_claim_honours_the_batch_limit(app: jobq.App, noop: Any) -> None:
    app.enqueue_many([noop.call(i) for i in range(7)])
    sizes = [len(claim(app, limit=3)) for _ in range(4)]
    assert sizes == [3, 3, 1, 0]


def test_claim_of_nothing_takes_nothing(app: jobq.App, noop: Any) -> None:
    noop.enqueue()
    before = snapshot(app)
    assert claim(app, limit=0) == []
    assert claim(app, queues=[]) == []
    assert snapshot(app) == before


def test_claim_takes_only_the_named_queues(app: jobq.App, noop: Any) -> None:
    default = noop.enqueue()
    mail = noop.with_options(queue="mail").enqueue()
    sms = noop.with_options(queue="sms").enqueue()
    assert claim(app, queues=["nothing"]) == []
    assert [c.id for c in claim(app, queues=["mail"])] == [mail.id]
    got = {c.id for c in claim(app, queues=["default", "sms", "mail"])}
    assert got == {default.id, sms.id}


def test_consecutive_claims_never_return_the_same_job(
    app: jobq.App, noop: Any
) -> None:
    app.enqueue_many([noop.call(i) for i in range(4)])
    first, second = claim(app, limit=2), claim(app, limit=2)
    assert len({c.id for c in first + second}) == 4


def test_two_apps_claiming_concurrently_never_share_a_job(
    make_app: Callable[..., jobq.App]
) -> None:
    apps = [make_app(lease=30.0), make_app(lease=30.0)]
    for a in apps:
        a.task(name="noop")(lambda: None)
    total = 150
    apps[0].enqueue_many([apps[0].tasks["noop"].call() for _ in range(total)])
    seen: list[str] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def hammer(a: jobq.App, worker: str) -> None:
        try:
            while True:
                got = claim(a, limit=3, worker=worker)
                if not got:
                    return
                with lock:
                    seen.extend(c.id for c in got)
        except BaseException as exc:  # surfaced below: a thread must not hide a failure
            errors.append(exc)

    threads = [
        threading.Thread(target=hammer, args=(apps[i % 2], f"w{i}")) for i in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert not any(t.is_alive() for t in threads)
    dupes = [job_id for job_id, n in Counter(seen).items() if n > 1]
    assert dupes == []
    assert len(seen) == total
    assert apps[1].stats()["default"].get("running") == total


# -- heartbeat and fencing -------------------------------------------------------------------


def test_heartbeat_extends_the_lease(app: jobq.App, noop: Any) -> None:
    job = noop.enqueue()
    claimed = claim_one(app, lease=1.0)
    reply = app.backend.heartbeat([(claimed.id, claimed.token)], 120.0)
    assert reply.lost == frozenset() and reply.cancel_requested == frozenset()
    record = app.get_job(job.id)
    assert record is not None and record.record.lease_expires_at is not None
    assert record.record.lease_expires_at.timestamp() == pytest.approx(time.time() + 120, abs=5)
    # The renewed lease outlives the original one: the reaper leaves it alone.
    assert app.backend.reap(now=time.time() + 30) == []
    assert app.get_job(job.id).status is Status.RUNNING  # type: ignore[union-attr]


def test_heartbeat_with_a_wrong_token_or_finished_job_reports_it_lost(
    app: jobq.App, noop: Any
) -> None:
    noop.enqueue()
    noop.enqueue()
    running, done = claim(app, limit=2)
    assert finish(app, done, Status.SUCCEEDED, result="0")
    reply = app.backend.heartbeat(
        [(running.id, "not-the-token"), (done.id, done.token), ("no-such-job", "x")], 30.0
    )
    assert reply.lost == {running.id, done.id, "no-such-job"}
    assert app.get_job(running.id).status is Status.RUNNING  # type: ignore[union-attr]


def test_finish_with_a_wrong_token_is_not_applied(app: jobq.App, noop: Any) -> None:
    noop.enqueue()
    claimed = claim_one(app)
    before = snapshot(app)
    forged = ClaimedJob(**{**_fields(claimed), "token": "forged"})
    for status in (Status.SUCCEEDED, Status.FAILED, Status.SCHEDULED, Status.CANCELLED,
                   Status.PENDING):
        extra: dict[str, Any] = {"run_at": time.time()} if status is Status.SCHEDULED else {}
        assert finish(app, forged, status, **extra) is False
    assert snapshot(app) == before


def test_finish_reports_per_outcome_in_one_call(app: jobq.App, noop: Any) -> None:
    from jobq.backends.base import Outcome

    a, b = noop.enqueue(), noop.enqueue()
    ca, cb = claim(app, limit=2)
    applied = app.backend.finish([
        Outcome(ca.id, ca.token, Status.SUCCEEDED, result="1"),
        Outcome(cb.id, "stale", Status.SUCCEEDED, result="2"),
    ])
    assert applied == [True, False]
    assert app.get_job(a.id).status is Status.SUCCEEDED  # type: ignore[union-attr]
    assert app.get_job(b.id).status is Status.RUNNING  # type: ignore[union-attr]


def test_finish_twice_is_applied_once(app: jobq.App, noop: Any) -> None:
    job = noop.enqueue()
    claimed = claim_one(app)
    assert finish(app, claimed, Status.SUCCEEDED, result='"first"')
    assert finish(app, claimed, Status.FAILED) is False
    assert job.result(timeout=1) == "first"


# -- the reaper ------------------------------------------------------------------------------


def test_reap_leaves_live_leases_alone(app: jobq.App, noop: Any) -> None:
    noop.enqueue()
    claim_one(app, lease=60.0)
    before = snapshot(app)
    assert app.backend.reap() == []
    assert snapshot(app) == before


def test_an_expired_lease_returns_the_job_to_pending_without_using_an_attempt(
    app: jobq.App, noop: Any
) -> None:
    job = noop.enqueue()
    claimed = claim_one(app, worker="dead-worker", lease=1.0)
    reaped = app.backend.reap(now=_future(app))
    assert [(r.id, r.task, r.status, r.worker_id, r.lost_leases) for r in reaped] == [
        (job.id, "noop", Status.PENDING, "dead-worker", 1)
    ]
    record = app.get_job(job.id)
    assert record is not None
    assert record.status is Status.PENDING
    assert (record.attempts, record.lost_leases) == (0, 1)  # a lost lease, not an attempt
    assert app.backend.reap(now=_future(app)) == []  # reaped once

    again = claim_one(app, worker="live-worker")
    assert (again.attempts, again.lost_leases) == (1, 1)
    assert again.token != claimed.token


def test_a_job_without_retries_survives_a_lost_lease(app: jobq.App) -> None:
    @app.task(name="fragile")  # retries=0: one attempt in all
    def fragile() -> None: ...

    job = fragile.enqueue()
    claim_one(app, worker="dead-worker")
    (reaped,) = app.backend.reap(now=_future(app))
    assert reaped.status is Status.PENDING
    again = claim_one(app)
    assert (again.attempts, again.max_attempts) == (1, 1)
    assert finish(app, again, Status.SUCCEEDED, result="null")
    record = job.refresh().record
    assert (record.status, record.attempts, record.lost_leases) == (Status.SUCCEEDED, 1, 1)


def test_a_job_fails_with_worker_lost_at_its_max_lost_th_lost_lease(
    app: jobq.App, noop: Any
) -> None:
    job = noop.enqueue()  # max_lost=3 by default
    statuses = []
    for _ in range(3):
        claim_one(app)
        (reaped,) = app.backend.reap(now=_future(app))
        statuses.append((reaped.status, reaped.lost_leases))
    assert statuses == [(Status.PENDING, 1), (Status.PENDING, 2), (Status.FAILED, 3)]
    record = job.refresh().record
    assert (record.status, record.attempts, record.lost_leases) == (Status.FAILED, 0, 3)
    assert record.error is not None and record.error.type == "WorkerLost"
    assert "3 times" in record.error.message and "max_lost=3" in record.error.message
    assert record.finished_at is not None
    with pytest.raises(jobq.JobFailed) as info:
        job.result(timeout=1)
    assert info.value.error_type == "WorkerLost"
    assert claim(app) == []


def test_max_lost_comes_from_the_task_or_the_enqueue(app: jobq.App) -> None:
    @app.task(name="touchy", max_lost=1)
    def touchy() -> None: ...

    by_task = touchy.enqueue()
    by_call = touchy.with_options(max_lost=2).enqueue()
    assert (by_task.record.max_lost, by_call.record.max_lost) == (1, 2)
    assert app.get_job(by_call.id).record.max_lost == 2  # type: ignore[union-attr]
    claim(app, limit=2)
    reaped = {r.id: r.status for r in app.backend.reap(now=_future(app))}
    assert reaped == {by_task.id: Status.FAILED, by_call.id: Status.PENDING}


def test_errors_and_lost_leases_are_counted_apart(app: jobq.App, noop: Any) -> None:
    job = noop.enqueue()  # three attempts, three lost leases
    claimed = claim_one(app)
    assert finish(app, claimed, Status.SCHEDULED, run_at=time.time() - 1,
                  error=jobq.job.JobError("ValueError", "first"))
    claim_one(app)
    app.backend.reap(now=_future(app))
    third = claim_one(app)
    assert (third.attempts, third.lost_leases) == (2, 1)
    assert fail(app, third, "second")
    record = job.refresh().record
    assert (record.status, record.attempts, record.lost_leases) == (Status.FAILED, 2, 1)


def test_a_cancelled_job_whose_worker_died_ends_cancelled(app: jobq.App, noop: Any) -> None:
    job = noop.enqueue()
    claim_one(app)
    assert job.cancel()
    (reaped,) = app.backend.reap(now=_future(app))
    assert reaped.status is Status.CANCELLED
    record = job.refresh().record
    assert (record.status, record.attempts, record.lost_leases) == (Status.CANCELLED, 0, 1)


def test_retry_clears_the_lost_leases(app: jobq.App) -> None:
    @app.task(name="touchy", max_lost=1)
    def touchy() -> None: ...

    job = touchy.enqueue()
    claim_one(app)
    app.backend.reap(now=_future(app))
    assert app.retry(job.id).record.lost_leases == 0
    assert claim_one(app).lost_leases == 0


def test_a_claim_takes_at_most_the_allowed_jobs_that_lost_a_lease(
    app: jobq.App, noop: Any
) -> None:
    lost = [noop.enqueue(i) for i in range(3)]
    claim(app, limit=3)
    assert len(app.backend.reap(now=_future(app))) == 3
    fresh = [noop.enqueue(i) for i in range(3)]
    busy = app.backend.claim("w", ["default"], 10, 30.0, suspects=0)
    assert {c.id for c in busy} == {j.id for j in fresh}
    idle = app.backend.claim("w", ["default"], 10, 30.0, suspects=1)
    assert [(c.id, c.lost_leases) for c in idle] == [(lost[0].id, 1)]  # the oldest one
    rest = app.backend.claim("w", ["default", "other"], 10, 30.0)
    assert [c.id for c in rest] == [lost[1].id]


def test_a_stale_worker_cannot_overwrite_the_newer_attempt(app: jobq.App, noop: Any) -> None:
    job = noop.enqueue()
    stale = claim_one(app, worker="stalled")
    app.backend.reap(now=_future(app))
    fresh = claim_one(app, worker="fresh")

    assert finish(app, stale, Status.SUCCEEDED, result='"stale"') is False
    assert app.backend.heartbeat([(stale.id, stale.token)], 30.0).lost == {stale.id}
    record = app.get_job(job.id)
    assert record is not None
    assert record.status is Status.RUNNING and record.record.worker_id == "fresh"

    assert fail(app, fresh, "the newer attempt's error")
    assert finish(app, stale, Status.SUCCEEDED, result='"stale"') is False
    record = app.get_job(job.id)
    assert record is not None and record.status is Status.FAILED
    assert record.error is not None and record.error.message == "the newer attempt's error"


def _fields(claimed: ClaimedJob) -> dict[str, Any]:
    return {name: getattr(claimed, name) for name in ClaimedJob.__slots__}
