"""Helpers and fixtures for worker tests: waiting on conditions, workers in a thread of
the test process, and workers in processes of their own (always killed at teardown)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest

import jobq
from jobq.backends.sqlite.files import sqlite_path
from jobq.worker import Worker
from tests import isolation
from tests.waiting import wait_for
from tests.worker import subject

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def worker_thread(app: jobq.App, **options: Any) -> Iterator[Worker]:
    """A worker running in a thread of the test; stopped (at once) on leaving."""
    worker = Worker(app, **options)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            worker.run()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run, name="test-worker", daemon=True)
    thread.start()
    try:
        yield worker
    finally:
        worker.stop(graceful=False)
        thread.join(30)
    assert not thread.is_alive(), "the worker did not stop within 30s"
    if errors:
        raise errors[0]


def _sqlite_writable(url: str) -> bool:
    path, _ = sqlite_path(url)
    conn = sqlite3.connect(path, timeout=0.5, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        conn.close()


class WorkerProcess:
    """A worker in a process of its own, running the app of ``module`` (by default
    ``tests.worker.subject``; it runs ``subject.main`` with its own ``build_app``)."""

    def __init__(self, config: dict[str, Any], log_path: Path,
                 module: str = "tests.worker.subject") -> None:
        self.log_path = log_path
        self.url: str = config["url"]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [
            str(ROOT), os.environ.get("PYTHONPATH")]))}
        with log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", module, json.dumps(config)],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def send(self, sig: signal.Signals) -> None:
        self.proc.send_signal(sig)

    def freeze(self) -> None:
        """SIGSTOP it, but never while it holds SQLite's write lock: a process frozen
        inside a write transaction stops every other writer of the file until it
        resumes (nothing can take the lock from it), which is not what a test of a frozen
        worker is about. On the server stores a frozen client holds nothing."""
        wait_for(self._frozen_outside_a_write, timeout=30,
                 what=f"worker {self.pid} to be frozen outside a SQLite write")

    def _frozen_outside_a_write(self) -> bool:
        self.send(signal.SIGSTOP)
        if not self.url.startswith("sqlite") or _sqlite_writable(self.url):
            return True
        self.send(signal.SIGCONT)  # let it finish its transaction; the next try stops it again
        return False

    def wait(self, timeout: float = 60.0) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"worker {self.pid} still running after {timeout}s; its log:\n{self.log()}"
            ) from None

    def kill(self) -> None:
        """SIGKILL, and wait until it is gone (a stopped process dies too)."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(30)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


class Workers:
    """Starts worker processes on one store; kills every one of them at teardown."""

    def __init__(self, store: isolation.Store, tmp_path: Path) -> None:
        self.store = store
        self.tmp_path = tmp_path
        self.started: list[WorkerProcess] = []

    def start(self, lease: float = 2.0, module: str = "tests.worker.subject",
              extra: dict[str, Any] | None = None, *, only: list[str] | None = None,
              url: str | None = None, **worker: Any) -> WorkerProcess:
        """A worker process running ``module``'s entry point; ``extra`` adds to its config,
        ``only`` leaves it just those tasks (an older release), ``url`` points it elsewhere
        than the store's own URL (through a proxy, say)."""
        config = {"url": url or self.store.url,
                  "options": {**self.store.options, "lease": lease},
                  "worker": worker, "parent": os.getpid(), "only": only, **(extra or {})}
        name = worker.get("name") or f"w{len(self.started)}"
        log_path = self.tmp_path / f"worker-{name}-{len(self.started)}.log"
        process = WorkerProcess(config, log_path, module)
        self.started.append(process)
        return process

    def kill_all(self) -> None:
        for process in self.started:
            process.kill()


@pytest.fixture
def store(backend_name: str, tmp_path: Path) -> Iterator[isolation.Store]:
    """The isolated store of this test (its URL and App options), on each backend."""
    opened = isolation.open_store(backend_name, tmp_path)
    try:
        yield opened
    finally:
        opened.drop()


@pytest.fixture
def store_app(store: isolation.Store) -> Iterator[Callable[..., jobq.App]]:
    """Apps of ``tests.worker.subject`` (or of another ``build``) on the test's store,
    closed at teardown."""
    apps: list[jobq.App] = []

    def factory(lease: float = 2.0,
                build: Callable[[str, dict[str, Any]], jobq.App] = subject.build_app) -> jobq.App:
        app = build(store.url, {**store.options, "lease": lease})
        apps.append(app)
        return app

    try:
        yield factory
    finally:
        for app in apps:
            app.close()


@pytest.fixture
def workers(store: isolation.Store, tmp_path: Path) -> Iterator[Workers]:
    """Start worker processes with ``workers.start(**options)``; none outlives the test."""
    started = Workers(store, tmp_path)
    try:
        yield started
    finally:
        started.kill_all()


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """Where ``subject`` tasks log their runs."""
    path = tmp_path / "runs"
    path.mkdir()
    return path
