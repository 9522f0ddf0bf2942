"""``python -m jobq`` as a real process: the worker, signals, --app from the current
directory, and the command list."""

from __future__ import annotations

import importlib.util
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import jobq
from tests.cli import sample_app
from tests.cli.conftest import APP, REPO, python_m_jobq

SHOP = '''
import jobq

app = jobq.App()  # the URL comes from --url


@app.task(name="total")
def total(prices: list[float], discount: float = 0.0) -> float:
    return round(sum(prices) * (1 - discount), 2)
'''


def test_worker_burst_runs_jobs_and_logs_each_state_change(url: str, sample: jobq.App) -> None:
    ok = sample_app.add.enqueue(20, 22)
    bad = sample_app.explode.enqueue("no paper")
    mail = sample_app.greet.enqueue("ada")
    done = python_m_jobq("--app", APP, "--url", url, "worker", "--burst", "--concurrency", "2",
                         "--queues", "default,mail")
    assert done.returncode == 0, done.stderr
    assert ok.result(timeout=5) == 42 and mail.result(timeout=5) == "hello ada!"
    assert bad.refresh().status is jobq.Status.FAILED
    log = done.stderr
    assert f"INFO    job {ok.id} (tests.cli.sample_app.add) succeeded" in log
    assert f"ERROR   job {bad.id} (explode) failed after 1 attempt(s): ValueError: no paper" in log
    # Each line: date, time, level, message.
    first = log.splitlines()[0].split()
    assert len(first[0]) == 10 and first[0][4] == "-" and first[2] == "INFO"


def test_worker_log_level_warning_hides_info(url: str, sample: jobq.App) -> None:
    sample_app.add.enqueue(1, 2)
    done = python_m_jobq("--app", APP, "--url", url, "worker", "--burst",
                         "--log-level", "warning")
    assert done.returncode == 0, done.stderr
    assert "INFO" not in done.stderr


def _lines(stream: object) -> tuple[queue.SimpleQueue[str], threading.Thread]:
    """The stream's lines as they come, read by a thread that ends at end of file."""
    found: queue.SimpleQueue[str] = queue.SimpleQueue()

    def pump() -> None:
        for line in stream:  # type: ignore[attr-defined]
            found.put(line)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    return found, reader


def _wait_for(lines: queue.SimpleQueue[str], text: str, deadline: float) -> None:
    while True:
        left = deadline - time.monotonic()
        assert left > 0, f"no log line containing {text!r}"
        try:
            if text in lines.get(timeout=left):
                return
        except queue.Empty:
            continue


def test_worker_stops_on_sigterm_with_exit_code_0(url: str, sample: jobq.App) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBQ_")}
    with subprocess.Popen(
        [sys.executable, "-m", "jobq", "--app", APP, "--url", url, "worker"], cwd=REPO,
        env=env, stderr=subprocess.PIPE, text=True,
    ) as child:
        lines, reader = _lines(child.stderr)
        try:
            _wait_for(lines, "started: queues=default", time.monotonic() + 60)
            job = sample_app.add.enqueue(2, 2)
            assert job.result(timeout=30) == 4
            child.send_signal(signal.SIGTERM)
            assert child.wait(timeout=60) == 0
            _wait_for(lines, "stopped", time.monotonic() + 10)
        finally:
            if child.poll() is None:
                child.kill()
            child.wait()
            reader.join(10)  # it reaches end of file once the worker has exited


def test_app_is_imported_from_the_current_directory(tmp_path: Path) -> None:
    (tmp_path / "shop_tasks.py").write_text(SHOP)
    store = "sqlite:///shop.db"  # relative: the file lands in the current directory

    def jobq_here(*args: str) -> subprocess.CompletedProcess[str]:
        return python_m_jobq("--app", "shop_tasks:app", "--url", store, *args, cwd=tmp_path)

    enqueued = jobq_here("enqueue", "total", "[[10, 20.5]]", "--kwargs", '{"discount": 0.5}')
    assert enqueued.returncode == 0, enqueued.stderr
    job_id = enqueued.stdout.strip()
    assert jobq_here("worker", "--burst").returncode == 0
    shown = jobq_here("show", job_id, "--json")
    assert json.loads(shown.stdout)["result"] == 15.25
    assert (tmp_path / "shop.db").exists()


def test_help_lists_every_command_and_the_exit_codes() -> None:
    done = python_m_jobq("--help")
    assert done.returncode == 0
    for command in ("worker", "jobs", "show", "enqueue", "retry", "cancel", "stats", "purge",
                    "migrate", "demo"):
        assert f"  {command} " in done.stdout, command
    assert "3 configuration or" in done.stdout
    # bench comes from its own module and is listed exactly when that module exists.
    has_bench = importlib.util.find_spec("jobq.benchmark") is not None
    assert ("  bench " in done.stdout) is has_bench


def test_errors_are_one_line_without_traceback_in_a_real_process(tmp_path: Path) -> None:
    done = python_m_jobq("--url", f"sqlite:///{tmp_path / 'none.db'}", "show", "abc")
    assert done.returncode == 3
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def test_worker_with_the_process_pool_runs_jobs_in_children_on_the_given_store(
    url: str,
) -> None:
    from tests.worker import pooled

    app = pooled.build_app(url, {})
    try:
        app.migrate()
        spawner = app.tasks["spawn_double"].enqueue(21)
        whoami = app.tasks["whoami"].enqueue()
        done = python_m_jobq("--app", pooled.REF, "--url", url, "worker", "--burst",
                             "--pool", "process", "--concurrency", "2",
                             "--max-tasks-per-child", "5")
        assert done.returncode == 0, done.stderr
        # The child enqueued into the store --url names, and the same burst ran it.
        spawned = app.get_job(spawner.result(timeout=5))
        assert spawned is not None and spawned.result(timeout=5) == 42
        assert "pool=process" in done.stderr
        assert isinstance(whoami.result(timeout=5), int)
    finally:
        app.close()


def test_worker_refuses_a_child_limit_with_another_pool(url: str, sample: jobq.App) -> None:
    done = python_m_jobq("--app", APP, "--url", url, "worker", "--burst",
                         "--max-tasks-per-child", "3")
    assert done.returncode == 1
    assert "max_tasks_per_child applies to pool='process' only, not to pool='thread'" in (
        done.stderr)
    bad = python_m_jobq("--app", APP, "--url", url, "worker", "--kill-after", "-1")
    assert bad.returncode == 2 and "--kill-after" in bad.stderr
