"""A job that kills every worker it touches (``os._exit``, as a crash or an out-of-memory
kill would) ends failed with WorkerLost after ``max_lost`` lost leases; the jobs running
or prefetched beside it lose no attempt and all succeed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import jobq
from jobq import Status
from jobq.job import DEFAULT_MAX_LOST
from tests.waiting import wait_for
from tests.worker.harness import WorkerProcess, Workers

pytestmark = pytest.mark.slow

NORMAL = 50
LEASE = 1.5
WORK = 0.05


def test_a_job_that_kills_its_worker_fails_after_max_lost_and_spares_its_neighbours(
    store_app: Callable[..., jobq.App], workers: Workers, run_dir: Path,
) -> None:
    app = store_app(lease=LEASE)
    record, die = app.tasks["record"], app.tasks["die"]
    calls = [record.call(str(run_dir), WORK) for _ in range(NORMAL)]
    calls.insert(NORMAL // 5, die.call(str(run_dir)))  # among the first claimed
    jobs = app.enqueue_many(calls)
    poison = jobs[NORMAL // 5]
    normal = [job for job in jobs if job != poison]

    running: list[WorkerProcess] = [workers.start(lease=LEASE, concurrency=4)]
    deaths = 0

    def settled() -> bool:
        # Restart the worker as it dies, as a supervisor (systemd, Kubernetes) would.
        nonlocal deaths
        if running[-1].proc.poll() is not None:
            deaths += 1
            running.append(workers.start(lease=LEASE, concurrency=4))
        counts = app.stats().get("default", {})
        return counts.get("succeeded", 0) + counts.get("failed", 0) == len(jobs)

    wait_for(settled, timeout=180, interval=0.05,
             what=f"every job to finish; last worker log:\n{running[-1].log()}")

    record_ = poison.refresh().record
    assert record_.status is Status.FAILED
    assert record_.error is not None and record_.error.type == "WorkerLost"
    assert f"{DEFAULT_MAX_LOST} times" in record_.error.message
    assert (record_.attempts, record_.lost_leases) == (0, DEFAULT_MAX_LOST)
    assert deaths == DEFAULT_MAX_LOST
    for job in normal:
        done = job.refresh().record
        assert (done.status, done.attempts) == (Status.SUCCEEDED, 1), job.id
        assert done.lost_leases < DEFAULT_MAX_LOST, job.id
    neighbours = sum(1 for job in normal if job.lost_leases)
    print(f"\npoison job killed {deaths} workers; {neighbours} neighbours lost a lease "
          f"(at most {max(j.lost_leases for j in normal)} each); all {NORMAL} succeeded")
