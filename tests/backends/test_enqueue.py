"""Contract: enqueueing, reading jobs back, filters, stats, priorities, delays and keys.

Written once against the public API; runs unchanged on every backend.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

import jobq
from jobq import Status
from tests.backends.support import claim, claim_one, fail, finish, snapshot
from tests.waiting import wait_for


@pytest.fixture
def echo(app: jobq.App) -> jobq.task.Task[..., Any]:
    @app.task(name="echo")
    def echo(*args: Any, **kwargs: Any) -> Any:
        return [list(args), kwargs]

    return echo


@pytest.fixture
def other(app: jobq.App) -> jobq.task.Task[..., Any]:
    @app.task(name="other", queue="mail")
    def other(n: int = 0) -> int:
        return n

    return other


# -- enqueue and read back ------------------------------------------------------------------


def test_enqueue_stores_a_pending_job_readable_by_id(app: jobq.App, echo: Any) -> None:
    before = time.time()
    job = echo.enqueue(1, "two", [3.5, None], flag=True, nested={"a": [1]})
    assert isinstance(job.id, str) and job.id
    assert job.status is Status.PENDING

    stored = app.get_job(job.id)
    assert stored is not None and stored == job
    assert stored.task == "echo"
    assert stored.queue == "default"
    assert stored.status is Status.PENDING
    assert stored.record.args == [1, "two", [3.5, None]]
    assert stored.record.kwargs == {"flag": True, "nested": {"a": [1]}}
    assert stored.attempts == 0
    assert stored.max_attempts == 1
    assert stored.created_at.tzinfo is not None
    assert before - 1 <= stored.created_at.timestamp() <= time.time() + 1
    assert stored.started_at is None and stored.finished_at is None
    assert stored.error is None


@pytest.mark.parametrize("options", [{}, {"delay": 60, "key": "k", "priority": 3}])
def test_the_returned_job_matches_what_was_stored(
    app: jobq.App, echo: Any, options: dict[str, Any]
) -> None:
    job = echo.with_options(**options).enqueue(1, b=[2])
    stored = app.get_job(job.id)
    assert stored is not None
    fields = ("id", "task", "queue", "args", "kwargs", "priority", "status", "attempts",
              "max_attempts", "key", "timeout", "started_at", "finished_at", "result",
              "error", "cancel_requested", "worker_id", "lease_expires_at")
    assert {f: getattr(job.record, f) for f in fields} == {
        f: getattr(stored.record, f) for f in fields
    }
    for f in ("run_at", "created_at"):
        assert getattr(job.record, f).timestamp() == pytest.approx(
            getattr(stored.record, f).timestamp(), abs=0.01)


def test_ids_are_unique_and_url_safe(app: jobq.App, echo: Any) -> None:
    jobs = [echo.enqueue(i) for i in range(20)]
    ids = {job.id for job in jobs}
    assert len(ids) == 20
    for job_id in ids:
        assert all(c.isalnum() or c in "-_" for c in job_id), job_id


def test_get_job_returns_none_for_an_unknown_id(app: jobq.App, echo: Any) -> None:
    echo.enqueue()
    assert app.get_job("no-such-job") is None


def test_enqueue_by_registered_name(app: jobq.App, echo: Any) -> None:
    job = app.enqueue("echo", "a", b=2)
    record = app.get_job(job.id)
    assert record is not None
    assert record.task == "echo"
    assert record.record.args == ["a"] and record.record.kwargs == {"b": 2}


def test_enqueue_many_stores_all_in_order(app: jobq.App, echo: Any, other: Any) -> None:
    jobs = app.enqueue_many([echo.call(i) for i in range(5)] + [other.call(n=9)])
    assert [j.task for j in jobs] == ["echo"] * 5 + ["other"]
    assert len({j.id for j in jobs}) == 6
    for i, job in enumerate(jobs[:5]):
        stored = app.get_job(job.id)
        assert stored is not None and stored.record.args == [i]
    assert app.get_job(jobs[5].id).queue == "mail"  # type: ignore[union-attr]
    # Same priority: claimed in the order given.
    assert [c.id for c in claim(app, limit=10)] == [j.id for j in jobs[:5]]


def test_enqueue_many_of_nothing_stores_nothing(app: jobq.App, echo: Any) -> None:
    assert app.enqueue_many([]) == []
    assert app.jobs() == []


def test_task_options_are_stored(app: jobq.App) -> None:
    @app.task(name="opts", retries=3, queue="q1", priority=7, timeout=9.5)
    def opts() -> None: ...

    job = opts.enqueue()
    stored = app.get_job(job.id)
    assert stored is not None
    assert (stored.queue, stored.record.priority, stored.max_attempts) == ("q1", 7, 4)
    assert stored.record.timeout == 9.5
    override = opts.with_options(queue="q2", priority=-3).enqueue()
    stored = app.get_job(override.id)
    assert stored is not None
    assert (stored.queue, stored.record.priority) == ("q2", -3)


# -- listing and stats -----------------------------------------------------------------------


def test_jobs_lists_newest_first_with_limit_and_offset(app: jobq.App, echo: Any) -> None:
    jobs = [echo.enqueue(i) for i in range(7)]
    newest_first = [j.id for j in reversed(jobs)]
    assert [j.id for j in app.jobs()] == newest_first
    assert [j.id for j in app.jobs(limit=3)] == newest_first[:3]
    assert [j.id for j in app.jobs(limit=3, offset=3)] == newest_first[3:6]
    assert [j.id for j in app.jobs(offset=6)] == newest_first[6:]
    assert app.jobs(offset=7) == []


def test_pending_jobs_list_newest_first_whatever_their_queue_and_priority(
    app: jobq.App, echo: Any
) -> None:
    # Claim order (priority first) is not listing order (age alone).
    kinds = [echo.with_options(queue=q, priority=p) for q in ("a", "b") for p in (5, 0, -5)]
    jobs = [kinds[(i * 7) % len(kinds)].enqueue(i) for i in range(15)]
    jobs += app.enqueue_many([kinds[i % len(kinds)].call(i) for i in range(15)])
    newest_first = [j.id for j in reversed(jobs)]
    assert [j.id for j in app.jobs(status="pending", limit=100)] == newest_first
    pages = [app.jobs(status="pending", limit=4, offset=o) for o in range(0, 32, 4)]
    assert [j.id for page in pages for j in page] == newest_first
    assert [j.id for j in app.jobs(status="pending", queue="b", limit=100)] == [
        j.id for j in reversed(jobs) if j.queue == "b"]


def test_jobs_filters_by_status_task_and_queue(app: jobq.App, echo: Any, other: Any) -> None:
    e1, e2, e3 = (echo.enqueue(i) for i in range(3))
    o1 = other.enqueue()
    d1 = echo.with_options(delay=3600).enqueue()
    assert finish(app, claim_one(app), Status.SUCCEEDED, result="1")  # e1
    assert fail(app, claim_one(app))  # e2

    def ids(**filters: Any) -> list[str]:
        return [j.id for j in app.jobs(**filters)]

    assert ids(status="succeeded") == [e1.id]
    assert ids(status=Status.FAILED) == [e2.id]
    assert ids(status="pending") == [o1.id, e3.id]
    assert ids(status="scheduled") == [d1.id]
    assert ids(status="running") == []
    assert ids(task="other") == [o1.id]
    assert ids(task="echo") == [d1.id, e3.id, e2.id, e1.id]
    assert ids(queue="mail") == [o1.id]
    assert ids(queue="default", status="pending") == [e3.id]
    assert ids(task="echo", queue="mail") == []
    assert ids(task="nobody") == []


def test_stats_counts_by_queue_and_status(app: jobq.App, echo: Any, other: Any) -> None:
    assert [n for counts in app.stats().values() for n in counts.values() if n] == []
    for i in range(3):
        echo.enqueue(i)
    other.enqueue()
    other.enqueue()
    echo.with_options(delay=3600).enqueue()
    assert finish(app, claim_one(app), Status.SUCCEEDED, result="null")
    claim_one(app)  # one running

    stats = app.stats()
    nonzero = {q: {s: n for s, n in counts.items() if n} for q, counts in stats.items()}
    assert nonzero == {
        "default": {"succeeded": 1, "running": 1, "pending": 1, "scheduled": 1},
        "mail": {"pending": 2},
    }


# -- priorities ------------------------------------------------------------------------------


def test_higher_priority_first_then_oldest_first(app: jobq.App, echo: Any) -> None:
    plan = [0, 5, 0, -1, 5, 10, 0, 5]
    jobs = [echo.with_options(priority=p).enqueue(i) for i, p in enumerate(plan)]
    expected = [j.id for _, _, j in sorted(
        ((-p, i, j) for i, (p, j) in enumerate(zip(plan, jobs, strict=True))),
        key=lambda t: (t[0], t[1]),
    )]
    got: list[str] = []
    for limit in (1, 3, 1, 10):  # several claims of different sizes
        got.extend(c.id for c in claim(app, limit=limit))
    assert got == expected


def test_task_default_priority_applies(app: jobq.App, echo: Any) -> None:
    @app.task(name="urgent", priority=100)
    def urgent() -> None: ...

    low = echo.enqueue()
    high = urgent.enqueue()
    assert [c.id for c in claim(app, limit=2)] == [high.id, low.id]


# -- delays ----------------------------------------------------------------------------------


def test_delay_schedules_the_job_until_it_is_due(app: jobq.App, echo: Any) -> None:
    start = time.time()
    job = echo.with_options(delay=0.5).enqueue("later")
    now_job = echo.enqueue("now")
    stored = app.get_job(job.id)
    assert stored is not None and stored.status is Status.SCHEDULED
    assert stored.run_at.timestamp() == pytest.approx(start + 0.5, abs=0.25)

    assert [c.id for c in claim(app)] == [now_job.id]  # the delayed one is not yet due
    claimed = wait_for(lambda: claim(app), what="the delayed job to become claimable")
    assert [c.id for c in claimed] == [job.id]
    assert time.time() >= stored.run_at.timestamp() - 0.05


def test_at_schedules_the_job_for_an_aware_datetime(app: jobq.App, echo: Any) -> None:
    when = datetime.now(UTC) + timedelta(seconds=0.5)
    job = echo.with_options(at=when).enqueue()
    stored = app.get_job(job.id)
    assert stored is not None and stored.status is Status.SCHEDULED
    assert stored.run_at.timestamp() == pytest.approx(when.timestamp(), abs=0.01)
    assert claim(app) == []
    claimed = wait_for(lambda: claim(app), what="the job to become due")
    assert [c.id for c in claimed] == [job.id]
    assert time.time() >= when.timestamp() - 0.05


def test_at_in_another_timezone_and_in_the_past(app: jobq.App, echo: Any) -> None:
    tz = datetime.now(UTC).astimezone(timezone(timedelta(hours=-7)))
    past = echo.with_options(at=tz - timedelta(hours=1)).enqueue()
    assert app.get_job(past.id).status is Status.PENDING  # type: ignore[union-attr]
    future = echo.with_options(at=tz + timedelta(hours=1)).enqueue()
    stored = app.get_job(future.id)
    assert stored is not None and stored.status is Status.SCHEDULED
    assert stored.run_at.timestamp() == pytest.approx(time.time() + 3600, abs=5)


def test_next_due_is_the_earliest_scheduled_time_in_the_queues(
    app: jobq.App, echo: Any, other: Any
) -> None:
    assert app.backend.next_due(["default"]) is None
    echo.enqueue()  # pending jobs are not "due" later
    later = echo.with_options(delay=600).enqueue()
    sooner = echo.with_options(delay=300).enqueue()
    mail = other.with_options(delay=100).enqueue()
    run_at = app.get_job(sooner.id).run_at.timestamp()  # type: ignore[union-attr]
    assert app.backend.next_due(["default"]) == pytest.approx(run_at, abs=0.01)
    mail_at = app.get_job(mail.id).run_at.timestamp()  # type: ignore[union-attr]
    assert app.backend.next_due(["default", "mail"]) == pytest.approx(mail_at, abs=0.01)
    assert app.backend.next_due(["nothing-here"]) is None
    assert later.status is Status.SCHEDULED


# -- idempotency keys ------------------------------------------------------------------------


def test_same_live_key_returns_the_first_job(app: jobq.App, echo: Any) -> None:
    first = echo.with_options(key="welcome:42").enqueue("first")
    before = snapshot(app)
    second = echo.with_options(key="welcome:42").enqueue("second")
    assert second.id == first.id
    assert second.record.args == ["first"]
    assert snapshot(app) == before
    # Another key is another job.
    third = echo.with_options(key="welcome:43").enqueue()
    assert third.id != first.id
    assert len(app.jobs()) == 2


def test_key_held_while_scheduled_and_running(app: jobq.App, echo: Any) -> None:
    scheduled = echo.with_options(key="k", delay=3600).enqueue()
    assert echo.with_options(key="k").enqueue().id == scheduled.id
    pending = echo.with_options(key="r").enqueue()
    claim_one(app)
    assert echo.with_options(key="r").enqueue().id == pending.id
    assert len(app.jobs()) == 2


@pytest.mark.parametrize("outcome", ["succeeded", "failed", "cancelled"])
def test_key_is_free_again_once_the_job_finished(
    app: jobq.App, echo: Any, outcome: str
) -> None:
    first = echo.with_options(key="once").enqueue()
    if outcome == "cancelled":
        assert first.cancel()
    else:
        claimed = claim_one(app)
        if outcome == "succeeded":
            assert finish(app, claimed, Status.SUCCEEDED, result="1")
        else:
            assert fail(app, claimed)
    again = echo.with_options(key="once").enqueue()
    assert again.id != first.id
    assert again.status is Status.PENDING
    assert app.get_job(first.id).status.value == outcome  # type: ignore[union-attr]
    assert len(app.jobs()) == 2


def test_enqueue_many_with_keys(app: jobq.App, echo: Any) -> None:
    held = echo.with_options(key="a").enqueue("held")
    jobs = app.enqueue_many([
        echo.with_options(key="a").call("dup-of-held"),
        echo.with_options(key="b").call("new-b"),
        echo.call("no-key"),
        echo.with_options(key="b").call("dup-in-batch"),
    ])
    assert jobs[0].id == held.id
    assert jobs[3].id == jobs[1].id
    assert len({j.id for j in jobs}) == 3
    assert sorted(tuple(j.record.args) for j in app.jobs()) == [
        ("held",), ("new-b",), ("no-key",)
    ]
