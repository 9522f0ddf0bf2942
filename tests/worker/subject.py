"""An app whose tasks log every run, and a worker entry point, for tests that run workers
in their own processes:

    python -m tests.worker.subject '{"url": ..., "options": {...}, "worker": {...}}'

Each run appends ``start`` and ``done`` lines (job id, attempt, pid) to a log file of its
own process in the run folder, so a test can count how many times each job started
and completed, even across a SIGKILL: a line is one ``write`` to an O_APPEND file.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jobq
from jobq.worker import Worker

RELEASE = "release"  # the file whose presence lets ``hold`` tasks return


@dataclass(frozen=True)
class Run:
    event: str  # "start" or "done"
    job_id: str
    attempt: int
    pid: int


def append_line(run_dir: str, stem: str, line: str) -> None:
    """Append ``line`` to this process's ``<stem>-<pid>.log`` in one write, so lines of
    many threads never interleave."""
    fd = os.open(Path(run_dir) / f"{stem}-{os.getpid()}.log",
                 os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def log_run(run_dir: str, event: str) -> None:
    job = jobq.current_job()
    append_line(run_dir, "runs", f"{event} {job.id} {job.attempts} {os.getpid()}\n")


def read_runs(run_dir: Path) -> list[Run]:
    """Every run line written so far, from every process."""
    runs = []
    for path in sorted(run_dir.glob("runs-*.log")):
        for line in path.read_text().splitlines():
            event, job_id, attempt, pid = line.split()
            runs.append(Run(event, job_id, int(attempt), int(pid)))
    return runs


def outcome_of_run() -> str:
    """What a task returns: which process ran which attempt, to compare with the store."""
    return f"{os.getpid()}:{jobq.current_job().attempts}"


def build_app(url: str, options: dict[str, Any]) -> jobq.App:
    app = jobq.App(url, **options)

    # No retries: a job whose worker died runs again without using one.
    @app.task(name="record")
    def record(run_dir: str, seconds: float = 0.0) -> str:
        log_run(run_dir, "start")
        if seconds:
            time.sleep(seconds)  # stands in for the task's work
        log_run(run_dir, "done")
        return outcome_of_run()

    @app.task(name="hold", retries=2)
    def hold(run_dir: str, held_attempts: int = 1_000, limit: float = 60.0) -> str:
        """Runs until the test creates the release file (attempts above
        ``held_attempts`` return at once)."""
        log_run(run_dir, "start")
        release = Path(run_dir) / RELEASE
        deadline = time.monotonic() + limit
        if jobq.current_job().attempts <= held_attempts:
            while not release.exists() and time.monotonic() < deadline:
                time.sleep(0.01)
        log_run(run_dir, "done")
        return outcome_of_run()

    # Workflows: a chord member returns a value of its own; the callback returns the
    # results it was given, so the store shows what it received.
    @app.task(name="member", retries=2)
    def member(run_dir: str, value: int, seconds: float = 0.0) -> int:
        log_run(run_dir, "start")
        if seconds:
            time.sleep(seconds)
        log_run(run_dir, "done")
        return value

    @app.task(name="gather", retries=2)
    def gather(results: list[Any], run_dir: str) -> list[Any]:
        log_run(run_dir, "start")
        log_run(run_dir, "done")
        return results

    @app.task(name="stall")
    def stall(run_dir: str, release: str = RELEASE, limit: float = 60.0) -> str:
        """The job's first run anywhere waits until the test creates ``release`` in the run
        folder; any later run of it returns at once."""
        # Claim "first" before logging the start: a test that freezes the worker as soon
        # as it sees the start line must find the first run already taken.
        first = _first_run(Path(run_dir), jobq.current_job().id)
        log_run(run_dir, "start")
        deadline = time.monotonic() + limit
        while first and not (Path(run_dir) / release).exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        log_run(run_dir, "done")
        return outcome_of_run()

    @app.task(name="die")
    def die(run_dir: str) -> None:
        """Kills the worker running it, as a crash or an out-of-memory kill would."""
        log_run(run_dir, "start")
        os._exit(1)

    @app.task(name="fresh")
    def fresh(run_dir: str, seconds: float = 0.0) -> str:
        """As ``record``: a task a newer release added (workers given ``only`` lack it)."""
        return record(run_dir, seconds)

    return app


def _first_run(run_dir: Path, job_id: str) -> bool:
    """True for exactly one caller per job, across processes (an exclusive create)."""
    try:
        os.close(os.open(run_dir / f"first-{job_id}", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


def _die_with(parent: int) -> None:
    """Never outlive the test process, even one killed before its teardown ran."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main(argv: list[str], build: Callable[[str, dict[str, Any]], jobq.App] | None = None) -> int:
    config = json.loads(argv[1])
    _die_with(config["parent"])
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    app = (build or build_app)(config["url"], config["options"])
    only = config.get("only")
    if only is not None:  # an older release: it lacks the tasks not named here
        app.tasks = {name: task for name, task in app.tasks.items() if name in only}
    try:
        Worker(app, **config["worker"]).run()
    finally:
        app.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
