"""A worker that freezes past its lease cannot overwrite the attempt that took over."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

import jobq
from jobq import Status
from tests.waiting import wait_for
from tests.worker.harness import Workers, worker_thread
from tests.worker.subject import RELEASE, read_runs

pytestmark = pytest.mark.slow

LEASE = 1.0


def test_a_frozen_worker_resuming_late_cannot_overwrite_the_newer_attempt(
    store_app: Callable[..., jobq.App], workers: Workers, run_dir: Path,
) -> None:
    app = store_app(lease=LEASE)
    # The first run waits until released; any later run returns at once.
    job = app.tasks["stall"].enqueue(str(run_dir))
    frozen = workers.start(lease=LEASE, name="frozen", concurrency=1)
    wait_for(lambda: any(r.job_id == job.id for r in read_runs(run_dir)),
             what="the first attempt to start")
    frozen.freeze()

    # Its lease runs out; a worker here reaps the job and runs it again.
    with worker_thread(app, concurrency=1):
        newer = f"{os.getpid()}:1"  # the lost lease used no attempt
        assert job.result(timeout=30) == newer

    # The frozen worker resumes, and its first attempt completes after all.
    (run_dir / RELEASE).touch()
    frozen.send(signal.SIGCONT)
    wait_for(lambda: any(r.pid == frozen.pid and r.event == "done"
                         for r in read_runs(run_dir)),
             what="the frozen attempt to complete")
    # It finds its lease gone: by its own clock, or by the store's answer.
    wait_for(lambda: "lease lost" in frozen.log() or "taken over" in frozen.log(),
             what="the resumed worker to find its lease lost")
    frozen.send(signal.SIGTERM)
    assert frozen.wait(30) == 0, frozen.log()

    job.refresh()
    assert (job.status, job.attempts, job.lost_leases) == (Status.SUCCEEDED, 1, 1)
    assert job.record.result == newer
