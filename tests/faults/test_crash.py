"""A worker killed with SIGKILL while it holds running and prefetched jobs: it costs time,
never a job. No job fails, not even with ``retries=0``; a job that had not started in the
killed worker runs once, one that had runs at most twice."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

import jobq
from jobq import Status
from tests.waiting import wait_for
from tests.worker.harness import Workers
from tests.worker.subject import Run, read_runs

pytestmark = pytest.mark.slow

JOBS = 100
LEASE = 2.0
WORK = 0.1  # seconds per job: the victim dies with some running, more in its buffer


def _runs_of(run_dir: Path, pid: int) -> list[Run]:
    return [r for r in read_runs(run_dir) if r.pid == pid]


def _finished(app: jobq.App) -> int:
    counts = app.stats().get("default", {})
    return sum(counts.get(s, 0) for s in ("succeeded", "failed", "cancelled"))


def test_a_killed_worker_fails_no_job_not_even_those_it_had_not_started(
    store_app: Callable[..., jobq.App], workers: Workers, run_dir: Path,
) -> None:
    app = store_app(lease=LEASE)
    task = app.tasks["record"]  # retries=0: one attempt in all
    jobs = app.enqueue_many([task.call(str(run_dir), WORK) for _ in range(JOBS)])
    victim = workers.start(lease=LEASE, name="victim", concurrency=4)
    # Some jobs done, some running, the rest of its claim waiting in its buffer.
    wait_for(lambda: sum(r.event == "done" for r in _runs_of(run_dir, victim.pid)) >= 4,
             timeout=60, what="the victim to finish a few jobs")
    victim.kill()
    held = {job.id for job in app.jobs(status=Status.RUNNING, limit=JOBS)
            if job.record.worker_id == "victim"}
    successor = workers.start(lease=LEASE, name="successor", concurrency=4)
    wait_for(lambda: _finished(app) == JOBS, timeout=120,
             what=f"all {JOBS} jobs to finish; successor log:\n{successor.log()}")

    assert app.stats() == {"default": {"succeeded": JOBS}}  # none failed
    runs = read_runs(run_dir)
    starts = Counter(r.job_id for r in runs if r.event == "start")
    in_victim = {r.job_id for r in runs if r.event == "start" and r.pid == victim.pid}
    done_in_victim = {r.job_id for r in runs if r.event == "done" and r.pid == victim.pid}
    never_started = held - in_victim
    assert never_started, "the victim held no job it had not started"
    for job in jobs:
        record = job.refresh().record
        assert (record.status, record.attempts) == (Status.SUCCEEDED, 1), job.id
        if job.id in in_victim:
            assert starts[job.id] <= 2, (job.id, starts[job.id])
        else:
            assert starts[job.id] == 1, (job.id, starts[job.id])
        if job.id in held and job.id not in done_in_victim:
            assert record.lost_leases == 1, job.id
        elif job.id not in held:
            assert record.lost_leases == 0, job.id
        # (A finish the victim sent just before it died may still have been applied.)
    print(f"\nkilled worker held {len(held)} jobs: {len(held & in_victim)} started there, "
          f"{len(never_started)} never started; 0 of {JOBS} failed")
