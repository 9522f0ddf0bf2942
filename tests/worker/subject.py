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


def log_run(run_dir: str, event: str) -> None:
    job = jobq.current_job()
    line = f"{event} {job.id} {job.attempts} {os.getpid()}\n".encode()
    fd = os.open(Path(run_dir) / f"runs-{os.getpid()}.log",
                 os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


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

    # Retries let a job whose worker died run again: the lost attempt counts as one.
    @app.task(name="record", retries=2)
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

    return app


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
    try:
        Worker(app, **config["worker"]).run()
    finally:
        app.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
