"""Contract: ``stats()`` comes from maintained counts, and they stay exact through every
way a job moves (finish, cancel, retry, reap, workflow failures and releases, purge);
``oldest_pending()`` names the longest-waiting job per queue."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

import jobq
from jobq.job import Status
from tests.backends.support import claim, claim_one, fail, finish


def scanned(app: jobq.App) -> dict[str, dict[str, int]]:
    """The counts as a full listing of the store gives them."""
    counted = Counter((job.queue, job.status.value) for job in app.jobs(limit=10_000))
    out: dict[str, dict[str, int]] = {}
    for (queue, status), n in counted.items():
        out.setdefault(queue, {})[status] = n
    return out


def check(app: jobq.App) -> None:
    assert app.stats() == scanned(app)


def test_counts_stay_exact_through_every_move(app: jobq.App, noop: Any) -> None:
    mail = noop.with_options(queue="mail")
    for i in range(6):
        noop.enqueue(i)
    mail.enqueue()
    noop.with_options(delay=3600).enqueue()
    check(app)
    first, second, third = claim(app, limit=3)
    assert finish(app, first, Status.SUCCEEDED, result="null")
    assert fail(app, second)
    check(app)
    assert app.retry(second.id).status is Status.PENDING  # failed -> pending
    check(app)
    assert app.cancel(app.jobs(status="pending", limit=1)[0].id)  # pending -> cancelled
    app.retry(app.jobs(status="cancelled")[0].id)  # cancelled -> pending
    check(app)
    # A lease that ran out: reaped back to pending.
    assert [r.id for r in app.backend.reap(now=1e12)] == [third.id]
    check(app)
    # Workflows: a failure fails what waits for it; a retry brings the waiters back.
    head = noop.with_options(queue="flow")
    handle = jobq.chain(head.call(1), head.call(), head.call()).enqueue()
    check(app)
    assert fail(app, claim_one(app, queues=["flow"]))
    assert {j.refresh().status for j in handle.jobs[1:]} == {Status.FAILED}
    check(app)
    app.retry(handle.jobs[0].id)
    check(app)
    app.run_worker(concurrency=1, burst=True, queues=["default", "mail", "flow"])
    check(app)
    assert app.stats()["flow"] == {"succeeded": 3}
    assert app.purge() == 10
    check(app)
    assert app.purge(statuses=["failed", "cancelled"]) == 0
    assert app.stats() == {"default": {"scheduled": 1}}


def test_oldest_pending_is_the_longest_waiting_job_per_queue(app: jobq.App, noop: Any) -> None:
    assert app.backend.oldest_pending() == {}
    first = noop.enqueue()
    noop.with_options(priority=5).enqueue()  # first in line, but younger
    mail = noop.with_options(queue="mail").enqueue()
    noop.with_options(delay=3600).enqueue()  # not due: not waiting
    oldest = app.backend.oldest_pending()
    assert set(oldest) == {"default", "mail"}
    assert oldest["default"] == pytest.approx(first.record.run_at.timestamp(), abs=1e-3)
    assert oldest["mail"] == pytest.approx(mail.record.run_at.timestamp(), abs=1e-3)
