"""Four workers drain a queue while two of them are SIGKILLed and restarted at random
moments, five times over: nothing is lost, nothing fails, and the jobs run more than once
are bounded by what the killed workers held (concurrency + prefetch each)."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

import jobq
from tests.waiting import wait_for
from tests.worker.harness import WorkerProcess, Workers
from tests.worker.subject import read_runs

pytestmark = pytest.mark.slow

JOBS = 2_000
WORKERS = 4
CONCURRENCY = 4
PREFETCH = 16  # the worker's default: four times the concurrency
ROUNDS = 5
LEASE = 2.0
WORK = 0.01


def _succeeded(app: jobq.App) -> int:
    return app.stats().get("default", {}).get("succeeded", 0)


def test_workers_killed_at_random_moments_lose_and_fail_nothing(
    store_app: Callable[..., jobq.App], workers: Workers, run_dir: Path,
) -> None:
    app = store_app(lease=LEASE)
    task = app.tasks["record"]  # retries=0
    jobs = app.enqueue_many([task.call(str(run_dir), WORK) for _ in range(JOBS)])
    seed = random.randrange(2**32)
    rng = random.Random(seed)

    def start() -> WorkerProcess:
        return workers.start(lease=LEASE, concurrency=CONCURRENCY, prefetch=PREFETCH)

    running = [start() for _ in range(WORKERS)]
    kills, mark = 0, 0
    for _ in range(ROUNDS):
        # A random moment: after a random number of further jobs have succeeded.
        mark = min(_succeeded(app) + rng.randrange(50, 250), JOBS - 100)
        wait_for(lambda m=mark: _succeeded(app) >= m, timeout=120,
                 what=f"{mark} jobs to succeed (seed {seed})")
        for index in rng.sample(range(WORKERS), 2):
            running[index].kill()
            kills += 1
            running[index] = start()
    wait_for(lambda: _succeeded(app) == JOBS, timeout=180,
             what=f"all {JOBS} jobs to succeed (seed {seed})")

    assert app.stats() == {"default": {"succeeded": JOBS}}  # nothing lost, nothing failed
    assert all(job.refresh().attempts == 1 for job in jobs)
    starts = Counter(r.job_id for r in read_runs(run_dir) if r.event == "start")
    assert set(starts) == {job.id for job in jobs}
    duplicates = sum(starts.values()) - JOBS
    bound = kills * (CONCURRENCY + PREFETCH)
    print(f"\nkills={kills} duplicates={duplicates} bound={bound} (seed {seed})")
    assert kills == 2 * ROUNDS
    assert duplicates <= bound, f"{duplicates} duplicate runs after {kills} kills (seed {seed})"
