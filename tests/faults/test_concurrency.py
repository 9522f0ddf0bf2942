"""Several worker processes on one store: every job runs once and succeeds once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

import jobq
from jobq import Status
from tests.worker.harness import Workers
from tests.worker.subject import read_runs

pytestmark = pytest.mark.slow

JOBS = 5_000
PROCESSES = 4
# No worker dies here, so the lease only has to outlast a stall of a busy machine.
LEASE = 30.0


def test_four_workers_drain_the_queue_running_each_job_exactly_once(
    store_app: Callable[..., jobq.App], workers: Workers, run_dir: Path,
) -> None:
    app = store_app(lease=LEASE)
    record = app.tasks["record"]
    jobs: list[jobq.Job] = []
    for _ in range(0, JOBS, 1_000):
        jobs += app.enqueue_many([record.call(str(run_dir)) for _ in range(1_000)])
    started = [workers.start(lease=LEASE, concurrency=4, burst=True)
               for _ in range(PROCESSES)]
    for worker in started:
        assert worker.wait(240) == 0, worker.log()

    runs = read_runs(run_dir)
    ids = {job.id for job in jobs}
    begun = Counter(r.job_id for r in runs if r.event == "start")
    completed = Counter(r.job_id for r in runs if r.event == "done")
    assert set(begun) == ids
    assert set(completed) == ids
    assert max(begun.values()) == 1, [j for j, n in begun.items() if n > 1][:5]
    assert max(completed.values()) == 1
    assert len({r.pid for r in runs}) >= 2, "the jobs were not shared between processes"

    ran_in = {r.job_id: r.pid for r in runs if r.event == "done"}
    records = app.jobs(status=Status.SUCCEEDED, limit=JOBS + 1)
    assert len(records) == JOBS
    for job in records:
        assert job.attempts == 1
        assert job.record.result == f"{ran_in[job.id]}:1"
    assert app.stats() == {"default": {"succeeded": JOBS}}
