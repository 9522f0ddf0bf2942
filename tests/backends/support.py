"""Small helpers shared by the contract suite: waiting on a condition, claiming, finishing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jobq
from jobq.backends.base import ClaimedJob, Outcome
from jobq.job import JobError, Status

WORKER = "worker-a"


def claim(app: jobq.App, limit: int = 10, queues: Sequence[str] = ("default",),
          worker: str = WORKER, lease: float | None = None) -> list[ClaimedJob]:
    """Claim through the protocol, as a worker would."""
    return app.backend.claim(worker, list(queues), limit,
                             app.settings.lease if lease is None else lease)


def claim_one(app: jobq.App, **kwargs: Any) -> ClaimedJob:
    claimed = claim(app, limit=1, **kwargs)
    assert len(claimed) == 1, f"expected one job to claim, got {claimed}"
    return claimed[0]


def finish(app: jobq.App, claimed: ClaimedJob, status: Status, **fields: Any) -> bool:
    """Report one outcome under ``claimed``'s lease; True if the store applied it."""
    (applied,) = app.backend.finish([Outcome(claimed.id, claimed.token, status, **fields)])
    return applied


def fail(app: jobq.App, claimed: ClaimedJob, message: str = "boom") -> bool:
    return finish(app, claimed, Status.FAILED,
                  error=JobError("ValueError", message, "Traceback: ValueError: " + message))


def snapshot(app: jobq.App) -> dict[str, Any]:
    """Every stored record by id, to compare before and after a call that must change
    nothing."""
    return {job.id: job.record for job in app.jobs(limit=10_000)}



def reap_and_run_the_old_job(app: jobq.App) -> None:
    """A store written before lost leases were counted holds job "old" (no retries)
    running under a lease that ran out: it loses a lease, not its one attempt, and runs."""
    (reaped,) = app.backend.reap()
    assert (reaped.id, reaped.status, reaped.lost_leases) == ("old", Status.PENDING, 1)
    app.run_worker(concurrency=1, burst=True)
    job = app.get_job("old")
    assert job is not None
    record = job.record
    assert (record.status, record.attempts, record.lost_leases, record.max_lost) == (
        Status.SUCCEEDED, 1, 1, 3)


# (queue, status) of the jobs a store written before maintained counts holds.
OLD_JOBS = [("default", "succeeded")] * 3 + [("default", "failed"), ("mail", "cancelled"),
                                             ("mail", "pending")]


def check_old_jobs_counted(app: jobq.App) -> None:
    """The store holding ``OLD_JOBS``, upgraded: its counts come from those rows, and a
    purge of the finished ones is counted too."""
    assert app.stats() == {"default": {"succeeded": 3, "failed": 1},
                           "mail": {"cancelled": 1, "pending": 1}}
    assert app.purge() == 3
    assert app.stats() == {"default": {"failed": 1}, "mail": {"cancelled": 1, "pending": 1}}
