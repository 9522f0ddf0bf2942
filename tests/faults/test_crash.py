"""A worker killed with SIGKILL while it holds running jobs: none is lost, and none
succeeds more often than at-least-once delivery allows."""

from __future__ import annotations

import signal
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import pytest

import jobq
from jobq import Status
from tests.waiting import wait_for
from tests.worker.harness import Workers
from tests.worker.subject import Run, read_runs

pytestmark = pytest.mark.slow

JOBS = 500
LEASE = 2.0  # short, so the victim's jobs come back soon after it dies
WORK = 0.02  # seconds each task runs, so the victim always has jobs in flight


def _victim_mid_run(run_dir: Path, pid: int) -> bool:
    runs = [r for r in read_runs(run_dir) if r.pid == pid]
    begun = {r.job_id for r in runs if r.event == "start"}
    ended = {r.job_id for r in runs if r.event == "done"}
    return len(begun) >= 40 and bool(begun - ended)


def test_killed_worker_loses_no_job_and_no_job_succeeds_twice(
    store_app: Callable[..., jobq.App], workers: Workers, run_dir: Path,
) -> None:
    app = store_app(lease=LEASE)
    task = app.tasks["record"]
    jobs = app.enqueue_many([task.call(str(run_dir), WORK) for _ in range(JOBS)])
    victim = workers.start(lease=LEASE, name="victim", concurrency=4)
    survivor = workers.start(lease=LEASE, name="survivor", concurrency=4)

    wait_for(lambda: _victim_mid_run(run_dir, victim.pid), timeout=60,
             what="the victim to have jobs in flight")
    victim.kill()
    # What the victim held when it died: nothing can change these rows but the reaper,
    # and the leases it renewed last still have over a second to run.
    held = {job.id for job in app.jobs(status=Status.RUNNING, limit=JOBS)
            if job.record.worker_id == "victim"}

    wait_for(lambda: app.stats().get("default", {}).get("succeeded") == JOBS, timeout=120,
             what=f"all {JOBS} jobs to succeed")
    survivor.send(signal.SIGTERM)
    assert survivor.wait(60) == 0, survivor.log()

    runs = read_runs(run_dir)
    completed: dict[str, list[Run]] = defaultdict(list)
    for run in runs:
        if run.event == "done":
            completed[run.job_id].append(run)
    interrupted = {r.job_id for r in runs if r.event == "start" and r.pid == victim.pid} - {
        r.job_id for r in runs if r.event == "done" and r.pid == victim.pid}
    assert held, "the victim held no job when it was killed"
    assert interrupted & held, "the victim was not killed in the middle of a task"

    records = {job.id: job.refresh().record for job in jobs}
    assert all(r.status is Status.SUCCEEDED for r in records.values())
    assert any(records[job_id].attempts == 2 for job_id in interrupted & held), (
        "no job the victim was running when it died was run again")
    for job_id, record in records.items():
        done = completed[job_id]
        # The success the store recorded is one of the runs that completed ...
        assert record.result in {f"{r.pid}:{r.attempt}" for r in done}, (job_id, done)
        if job_id in held and record.attempts == 1:
            # ... the victim's last finish was already on the wire when it died, and the
            # server applied it after the kill: its one run is the recorded success.
            assert len(done) == 1 and record.result == f"{victim.pid}:1", (job_id, done)
        elif job_id in held:
            # ... a job the victim held may have completed there unrecorded, then again.
            assert 1 <= len(done) <= 2, (job_id, done)
            assert record.attempts == 2, (job_id, record.attempts)
            assert record.result == f"{survivor.pid}:2"
        else:
            # ... and any other job completed exactly once, on its first attempt.
            assert len(done) == 1, (job_id, done)
            assert record.attempts == 1, (job_id, record.attempts)
        if len(done) == 2:
            assert {r.pid for r in done} == {victim.pid, survivor.pid}, (job_id, done)
