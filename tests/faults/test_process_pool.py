"""The process pool when things die: a child that crashes (segfault, exit, SIGKILL, out
of memory) fails its job with WorkerLost and the worker goes on; a worker killed with
SIGKILL takes its children with it; SIGTERM lets children finish within the grace, then
hands back and kills what is left."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import jobq
from jobq import Status
from tests.waiting import wait_for
from tests.worker import pooled
from tests.worker.harness import Workers
from tests.worker.pooled import PROCESS, alive, pool_children
from tests.worker.subject import RELEASE, read_runs

pytestmark = pytest.mark.slow

MODULE = "tests.worker.pooled"


@pytest.fixture
def app(store_app: Callable[..., jobq.App]) -> jobq.App:
    return store_app(2.0, pooled.build_app)


def started_by(run_dir: Path) -> dict[str, int]:
    """Job id → pid of the process that started its latest run."""
    return {run.job_id: run.pid for run in read_runs(run_dir) if run.event == "start"}


@pytest.mark.parametrize(("how", "cause"), [
    ("segfault", "was killed by SIGSEGV"),
    ("exit", "exited with code 3"),
    ("sigkill", "was killed by SIGKILL"),
    ("memory", "ran out of memory (MemoryError)"),
])
def test_a_child_that_dies_fails_its_job_with_worker_lost_and_the_worker_goes_on(
    app: jobq.App, workers: Workers, how: str, cause: str,
) -> None:
    crash = app.tasks["crash"].enqueue(how)
    ordinary = app.enqueue_many([app.tasks["double"].call(n) for n in range(100)])
    worker = workers.start(lease=2.0, module=MODULE, concurrency=2, **PROCESS)

    wait_for(lambda: crash.refresh().status is Status.FAILED, timeout=120,
             what=f"the job whose child {cause} to fail")
    assert [job.result(timeout=120) for job in ordinary] == [n * 2 for n in range(100)]
    assert crash.error is not None and crash.error.type == "WorkerLost"
    assert "the child process running this job (pid " in crash.error.message
    assert cause in crash.error.message
    assert crash.attempts == 1  # counted, as an error is

    # One worker, the same process all along, ran every job.
    assert worker.proc.poll() is None, worker.log()
    holders = {job.refresh().record.worker_id for job in [crash, *ordinary]}
    assert len(holders) == 1 and f":{worker.pid}:" in holders.pop()
    wait_for(lambda: len(pool_children(worker.pid)) == 2, timeout=60,
             what="the dead child to be replaced")
    worker.send(signal.SIGTERM)
    assert worker.wait(60) == 0, worker.log()


def test_a_worker_killed_with_sigkill_takes_its_children_and_its_jobs_come_back(
    app: jobq.App, workers: Workers, run_dir: Path,
) -> None:
    hold = app.tasks["hold"]
    jobs = app.enqueue_many([hold.call(str(run_dir)) for _ in range(2)])
    victim = workers.start(lease=2.0, module=MODULE, name="victim", concurrency=2, **PROCESS)
    children = set(wait_for(lambda: len(started_by(run_dir)) == 2 and started_by(run_dir),
                            timeout=120, what="both jobs to start").values())
    assert children == pool_children(victim.pid)

    victim.kill()
    wait_for(lambda: not any(alive(pid) for pid in children), timeout=5,
             what="the killed worker's children to exit")

    (run_dir / RELEASE).touch()
    workers.start(lease=2.0, module=MODULE, name="survivor", concurrency=2)
    for job in jobs:
        assert job.result(timeout=120) is not None
        assert job.record.worker_id == "survivor"


@pytest.mark.parametrize("release", [True, False], ids=["finished", "past-the-grace"])
def test_sigterm_lets_children_finish_within_the_grace_then_kills_the_rest(
    app: jobq.App, workers: Workers, run_dir: Path, release: bool,
) -> None:
    hold = app.tasks["hold"]
    jobs = app.enqueue_many([hold.call(str(run_dir)) for _ in range(4)])
    grace = 60 if release else 1
    worker = workers.start(lease=120.0, module=MODULE, concurrency=2, grace=grace, **PROCESS)
    running = wait_for(lambda: len(started_by(run_dir)) == 2 and started_by(run_dir),
                       timeout=120, what="two jobs to start")
    children = set(running.values())

    worker.send(signal.SIGTERM)
    if release:
        wait_for(lambda: all(job.refresh().status is Status.PENDING for job in jobs
                             if job.id not in running), what="the prefetched jobs back")
        (run_dir / RELEASE).touch()
    assert worker.wait(60) == 0, worker.log()
    assert not any(alive(pid) for pid in children)

    for job in jobs:
        job.refresh()
        if job.id in running and release:
            assert (job.status, job.attempts) == (Status.SUCCEEDED, 1)
        else:  # handed back: another worker takes it; the attempt is not counted
            assert (job.status, job.attempts) == (Status.PENDING, 0), job.id
    assert set(started_by(run_dir)) == set(running)


def test_process_pool_helpers_see_this_process() -> None:
    # pool_children and alive are what the tests above rely on: check them on a real
    # process tree.
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)",
                              "jobq.worker.pools.child"])
    try:
        assert alive(child.pid)
        assert child.pid in pool_children(os.getpid())
    finally:
        child.kill()
        child.wait()
    assert not alive(child.pid)
