"""The process pool: jobs run in long-lived children that import the App by reference;
time limits, results that are not JSON, recycling, cancels and enqueueing from a child.

Crashing children and a killed worker are in ``tests/faults/test_process_pool.py``.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import jobq
from jobq import Status
from jobq.worker.pools import ProcessPool
from tests.waiting import wait_for
from tests.worker import pooled
from tests.worker.harness import ROOT, worker_thread
from tests.worker.pooled import PROCESS, REF, alive, noted_pids, pool_children


@pytest.fixture
def pool_app(store_app: Callable[..., jobq.App]) -> Callable[..., jobq.App]:
    """Apps with ``tests.worker.pooled``'s tasks on the test's store."""
    # A long lease: these tests are about the pool, and a lease lost on a busy machine
    # would only blur them.
    return lambda lease=10.0: store_app(lease, pooled.build_app)


def test_cpu_jobs_run_in_two_children_and_in_the_worker_with_threads(
    pool_app: Callable[..., jobq.App],
) -> None:
    # The time each pool takes is a benchmark figure (jobq bench, bench/RESULTS.md).
    app = pool_app()
    whoami = app.tasks["whoami"]
    by_processes = app.enqueue_many([whoami.call(0.05) for _ in range(8)])
    app.run_worker(concurrency=2, burst=True, **PROCESS)
    by_threads = app.enqueue_many([whoami.call(0.05) for _ in range(8)])
    app.run_worker(concurrency=2, burst=True)

    children = {job.result(timeout=1) for job in by_processes}
    assert len(children) == 2 and os.getpid() not in children
    assert {job.result(timeout=1) for job in by_threads} == {os.getpid()}


def test_a_timed_out_task_and_its_subprocess_are_gone_and_the_pool_is_full_again(
    pool_app: Callable[..., jobq.App], run_dir: Path,
) -> None:
    app = pool_app()
    job = app.tasks["sleeper"].enqueue(str(run_dir))  # timeout=1, retries=1
    with worker_thread(app, concurrency=2, kill_after=1, **PROCESS):
        wait_for(lambda: job.refresh().status is Status.FAILED, timeout=60,
                 what="the job to fail after its two attempts")
        assert job.attempts == 2
        assert job.error is not None and job.error.type == "Timeout"
        assert re.search(r"ran past its 1(\.0)?s time limit", job.error.message)
        started = noted_pids(run_dir)  # each attempt's child and the `sleep` it started
        assert len(started) == 4
        wait_for(lambda: not any(alive(pid) for pid in started), timeout=30,
                 what="no child or grandchild of the timed-out attempts to be left")
        wait_for(lambda: len(pool_children(os.getpid())) == 2, timeout=60,
                 what="the pool to be back to two children")
        assert app.tasks["double"].enqueue(21).result(timeout=60) == 42


@pytest.mark.parametrize("task", ["stubborn", "deaf"])
def test_a_task_past_its_hard_limit_is_killed_with_its_child(
    pool_app: Callable[..., jobq.App], run_dir: Path, task: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # stubborn catches its Timeout and carries on; deaf ignores the soft limit's signal
    # and sleeps in C. Both are still running at timeout + kill_after.
    caplog.set_level(logging.WARNING, logger="jobq.worker")
    app = pool_app()
    job = app.tasks[task].enqueue(str(run_dir))  # timeout=0.5
    with worker_thread(app, concurrency=1, kill_after=0.5, **PROCESS):
        wait_for(lambda: job.refresh().status is Status.FAILED, timeout=60,
                 what="the job to fail at its hard limit")
        assert job.error is not None and job.error.type == "Timeout"
        assert job.attempts == 1
        (child,) = noted_pids(run_dir)
        wait_for(lambda: not alive(child), timeout=30, what="its child to be killed")
        assert f"ran past its 0.5s time limit; {ProcessPool.abandons}" in caplog.text
        assert app.tasks["double"].enqueue(1).result(timeout=60) == 2


def test_a_result_that_is_not_json_fails_clearly_and_the_pool_goes_on(
    pool_app: Callable[..., jobq.App],
) -> None:
    app = pool_app()
    bad = app.tasks["not_json"].enqueue()
    after = app.tasks["whoami"].enqueue()
    app.run_worker(concurrency=1, burst=True, **PROCESS)

    bad.refresh()
    assert bad.status is Status.FAILED
    assert bad.error is not None and bad.error.type == "SerializationError"
    assert "not_json returned a set, which cannot be stored as JSON" in bad.error.message
    assert after.result(timeout=1) != os.getpid()


def test_a_task_in_a_child_may_enqueue_jobs(pool_app: Callable[..., jobq.App]) -> None:
    app = pool_app()
    job = app.tasks["spawn_double"].enqueue(21)
    app.run_worker(concurrency=1, burst=True, **PROCESS)

    spawned = app.get_job(job.result(timeout=1))
    assert spawned is not None and spawned.result(timeout=1) == 42


def test_max_tasks_per_child_replaces_children(pool_app: Callable[..., jobq.App]) -> None:
    app = pool_app()
    jobs = app.enqueue_many([app.tasks["whoami"].call() for _ in range(6)])
    app.run_worker(concurrency=1, burst=True, max_tasks_per_child=2, **PROCESS)

    pids = [job.result(timeout=1) for job in jobs]
    assert pids[0] == pids[1] != pids[2] == pids[3] != pids[4] == pids[5]


def test_max_memory_per_child_replaces_a_child_that_grew(
    pool_app: Callable[..., jobq.App],
) -> None:
    app = pool_app()
    bloat, whoami = app.tasks["bloat"], app.tasks["whoami"]
    jobs = [whoami.enqueue(), bloat.enqueue(300), whoami.enqueue()]
    app.run_worker(concurrency=1, burst=True, max_memory_per_child=200, **PROCESS)

    first, grown, after = (job.result(timeout=1) for job in jobs)
    assert first == grown != after


def test_a_running_job_in_a_child_hears_its_cancel(
    pool_app: Callable[..., jobq.App], run_dir: Path,
) -> None:
    app = pool_app(lease=2.0)  # heartbeats, which bring the cancel, every 0.5 s
    job = app.tasks["until_cancelled"].enqueue(str(run_dir))
    with worker_thread(app, concurrency=1, **PROCESS):
        wait_for(lambda: noted_pids(run_dir), timeout=60, what="the task to start")
        assert job.cancel() is True
        with pytest.raises(jobq.JobCancelled):
            job.result(timeout=30)
    assert job.refresh().attempts == 1


def test_a_coroutine_in_a_child_gets_its_timeout_inside(
    pool_app: Callable[..., jobq.App],
) -> None:
    app = pool_app()
    job = app.tasks["async_sleeper"].enqueue()
    app.run_worker(concurrency=1, burst=True, **PROCESS)

    result = job.result(timeout=1)
    assert result.startswith("Timeout raised inside") and str(os.getpid()) not in result


# -- what the children cannot find ------------------------------------------------------------


def test_an_app_no_child_can_import_is_refused(sqlite_url: str) -> None:
    app = jobq.App(sqlite_url)  # made here, in a function: no module holds it

    @app.task
    def work() -> None: ...

    with pytest.raises(jobq.ConfigError, match=r"pool='process' runs tasks in child "
                       r"processes that import the App.*pass app_ref='myapp:app'"):
        app.run_worker(pool="process", burst=True)


def test_an_app_ref_whose_module_lacks_the_workers_tasks_is_refused(
    pool_app: Callable[..., jobq.App],
) -> None:
    app = pool_app()

    @app.task(name="made_in_the_test")
    def made_in_the_test() -> None: ...

    with pytest.raises(jobq.ConfigError, match=r"children could not start: UnknownTask: "
                       r"importing tests.worker.pooled:app here registers no task named "
                       r"made_in_the_test"):
        app.run_worker(pool="process", app_ref=REF, burst=True)


def test_an_app_ref_to_a_missing_module_is_refused(pool_app: Callable[..., jobq.App]) -> None:
    app = pool_app()
    with pytest.raises(jobq.ConfigError, match=r"children could not start: "
                       r"TaskNotImportable: app_ref no_such_module:app: no module named "
                       r"'no_such_module'"):
        app.run_worker(pool="process", app_ref="no_such_module:app", burst=True)
    assert pool_children(os.getpid()) == set()


# -- a worker started from a script -----------------------------------------------------------

SCRIPT = '''
import os
import sys

import jobq

app = jobq.App(sys.argv[1])


@app.task
def whoami() -> int:
    return os.getpid()

{start}
'''
GUARDED = '''
if __name__ == "__main__":
    app.migrate()
    job = whoami.enqueue()
    app.run_worker(pool="process", concurrency=1, burst=True)
    print("ran in", job.result(timeout=5), "worker", os.getpid())
'''
UNGUARDED = '''
app.migrate()
app.run_worker(pool="process", concurrency=1, burst=True)
'''


def _run_script(tmp_path: Path, start: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "worker_script.py"
    script.write_text(SCRIPT.replace("{start}", start), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, str(script), f"sqlite:///{tmp_path / 'jobs.db'}"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def test_an_app_and_tasks_in_a_scripts_main_are_found_by_the_children(tmp_path: Path) -> None:
    done = _run_script(tmp_path, GUARDED)
    assert done.returncode == 0, done.stderr
    _, _, child, _, worker = done.stdout.split()
    assert child != worker


def test_a_script_that_starts_its_worker_unguarded_is_told_to_guard_it(tmp_path: Path) -> None:
    done = _run_script(tmp_path, UNGUARDED)
    assert done.returncode == 1
    assert "a worker was started while a process pool child imported the app" in done.stderr
    assert 'if __name__ == "__main__":' in done.stderr
