"""The measurements behind ``jobq bench``: enqueue, drain and latency on one store.

Every measurement uses only the public API and ``jobq.worker.Worker``, on a store of its
own (a fresh SQLite file, or a unique PostgreSQL schema / Redis key prefix that is dropped
afterwards), so the figures never see each other's jobs. Workers run in real spawned
processes and import the tasks below, as a deployed worker imports an application.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from jobq.app import App
from jobq.benchmark.tasks import APP_REF, HELD, NOOP, STAMP, TICK, bench_app
from jobq.errors import JobqError
from jobq.logs import TextFormatter

BATCH = 1_000  # jobs per enqueue_many call

Progress = Callable[[int], None]  # called with how many jobs are done so far


# -- isolated stores ------------------------------------------------------------------


@dataclass
class Store:
    """Where one measurement runs: a URL plus the App options that isolate it."""

    url: str
    options: dict[str, Any]
    folder: Path  # scratch space, e.g. for worker log files


class Stores:
    """Hands out fresh isolated stores on one base URL and drops them afterwards.

    With no URL, each store is a new SQLite file in a temporary folder.
    """

    def __init__(self, url: str | None) -> None:
        self.base = url or ""
        self._tmp = tempfile.TemporaryDirectory(prefix="jobq-bench-")
        self.folder = Path(self._tmp.name)
        self.kind = urlsplit(url).scheme if url else "sqlite"

    def close(self) -> None:
        self._tmp.cleanup()

    @property
    def sqlite_options(self) -> dict[str, str]:
        """The options in a SQLite URL's query (``?synchronous=full``)."""
        return {k: v[-1] for k, v in parse_qs(urlsplit(self.base).query).items()}

    @property
    def sqlite_folder(self) -> Path:
        """Where SQLite files go: the temp folder, or beside the file a URL names."""
        if not self.base:
            return self.folder
        return Path(urlsplit(self.base).path[1:]).parent

    @contextmanager
    def sqlite_file(self) -> Iterator[Path]:
        """A new SQLite file path in ``sqlite_folder``, deleted afterwards."""
        path = self.sqlite_folder / f"jobq_bench_{uuid.uuid4().hex[:10]}.db"
        try:
            yield path
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)

    @contextmanager
    def fresh(self) -> Iterator[Store]:
        name = f"jobq_bench_{uuid.uuid4().hex[:10]}"
        if self.kind == "sqlite":
            # Each measurement gets a new file (beside the one a given URL names, with
            # that URL's options).
            query = urlsplit(self.base).query
            with self.sqlite_file() as path:
                yield Store(f"sqlite:///{path}" + (f"?{query}" if query else ""), {},
                            self.folder)
            return
        if self.kind.startswith("postgres"):
            store = Store(self.base, {"schema": name}, self.folder)
        elif self.kind.startswith("redis"):
            store = Store(self.base, {"prefix": name + ":"}, self.folder)
        else:
            raise JobqError(f"jobq bench does not know how to isolate a {self.kind} store")
        try:
            yield store
        finally:
            self._drop(store)

    def _drop(self, store: Store) -> None:
        if "schema" in store.options:
            import psycopg

            with psycopg.connect(store.url, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{store.options["schema"]}" CASCADE')
        elif "prefix" in store.options:
            import redis

            client = redis.Redis.from_url(store.url)
            keys = list(client.scan_iter(match=store.options["prefix"] + "*", count=1000))
            for start in range(0, len(keys), 500):
                client.delete(*keys[start:start + 500])
            client.close()


# -- enqueueing ---------------------------------------------------------------------------


def round_trips(url: str, calls: int) -> float:
    """Calls/s of the least request a client can make of a server store, one at a time
    (redis-py ``PING``, psycopg ``SELECT 1``): what one-by-one enqueueing compares with."""
    if urlsplit(url).scheme.startswith("redis"):
        import redis

        client = redis.Redis.from_url(url)
        request: Callable[[], Any] = client.ping
        close: Callable[[], Any] = client.close
    else:
        import psycopg

        conn = psycopg.connect(url, autocommit=True)
        request, close = (lambda: conn.execute("SELECT 1").fetchone()), conn.close
    try:
        request()  # connect
        start = time.perf_counter()
        for _ in range(calls):
            request()
        return calls / (time.perf_counter() - start)
    finally:
        close()


def single_enqueue(store: Store, jobs: int, progress: Progress, threads: int = 1) -> float:
    """Jobs/s enqueueing ``jobs`` no-op jobs one call at a time, from ``threads`` threads
    at once (as a web app's request threads do)."""
    app = bench_app(store.url, store.options)
    try:
        app.migrate()
        task = app.get_task(NOOP)
        task.enqueue()  # connect, outside the timing
        shares = [jobs // threads + (1 if i < jobs % threads else 0) for i in range(threads)]
        done = [0] * threads

        def caller(index: int) -> None:
            for n in range(1, shares[index] + 1):
                task.enqueue()
                if n % BATCH == 0:
                    done[index] = n
                    progress(sum(done))

        callers = [threading.Thread(target=caller, args=(i,)) for i in range(threads)]
        start = time.perf_counter()
        for thread in callers:
            thread.start()
        for thread in callers:
            thread.join()
        elapsed = time.perf_counter() - start
        progress(jobs)
        _expect(app, jobs + 1, "pending")
    finally:
        app.close()
    return jobs / elapsed


def bulk_enqueue(store: Store, jobs: int, progress: Progress) -> float:
    """Jobs/s enqueueing ``jobs`` no-op jobs with ``enqueue_many`` in batches."""
    app = bench_app(store.url, store.options)
    try:
        app.migrate()
        start = time.perf_counter()
        fill(app, jobs, progress)
        elapsed = time.perf_counter() - start
        _expect(app, jobs, "pending")
    finally:
        app.close()
    return jobs / elapsed


def fill(app: App, jobs: int, progress: Progress | None = None, task_name: str = NOOP,
          args: tuple[Any, ...] = ()) -> None:
    task = app.get_task(task_name)
    done = 0
    while done < jobs:
        size = min(BATCH, jobs - done)
        app.enqueue_many([task.call(*args) for _ in range(size)])
        done += size
        if progress is not None:
            progress(done)


def _counts(app: App) -> dict[str, int]:
    totals: dict[str, int] = {}
    for queue, by_status in app.stats().items():
        if queue == TICK:
            continue  # --periodic's ticks: nobody drains them
        for status, count in by_status.items():
            totals[status] = totals.get(status, 0) + count
    return totals


def _expect(app: App, jobs: int, status: str, others: dict[str, int] | None = None) -> None:
    """Fail loudly unless the store holds exactly ``jobs`` jobs, all in ``status`` (and
    the ``others`` of other statuses)."""
    counts = _counts(app)
    if counts != {status: jobs, **(others or {})}:
        raise JobqError(f"expected {jobs} {status} jobs in the store, found {counts}")


# -- worker processes ---------------------------------------------------------------------


def _worker_main(url: str, options: dict[str, Any], concurrency: int, burst: bool,
                 log_file: str | None, control: Any, pool: str,
                 periodic: bool = False) -> None:
    """A worker process: build the App and Worker, say "ready" on ``control``, wait for
    "go", then run until done (burst) or until the other end of ``control`` closes."""
    import threading

    from jobq.worker import Worker

    if log_file is None:
        logging.basicConfig(level=logging.WARNING)
    else:
        # The formatter `jobq worker` installs, so the figure is what an operator pays.
        handler = logging.FileHandler(log_file)
        handler.setFormatter(TextFormatter())
        logging.basicConfig(level=logging.INFO, handlers=[handler])
    app = bench_app(url, options, periodic)
    children = {"app_ref": APP_REF} if pool == "process" else {}
    worker = Worker(app, concurrency=concurrency, burst=burst, pool=pool, **children)
    app.backend.check_schema()  # connect now, not inside the timed part
    control.send("ready")
    control.recv()  # "go"

    def stop_when_closed() -> None:
        with suppress(EOFError, OSError):
            control.recv()
        worker.stop()

    threading.Thread(target=stop_when_closed, daemon=True).start()
    worker.run()
    app.close()


@dataclass
class Workers:
    """Started worker processes, each ready and held until ``go()``."""

    procs: list[Any]
    controls: list[Any]

    def go(self) -> None:
        for control in self.controls:
            control.send("go")


@contextmanager
def worker_processes(store: Store, count: int, concurrency: int, burst: bool,
                     log_file: str | None = None, pool: str = "thread",
                     periodic: bool = False) -> Iterator[Workers]:
    """Start ``count`` worker processes and wait until each is ready. On leaving, close
    their control pipes: a worker still running stops gracefully (a pipe, not a shared
    Event, so a process that exits while waiting can never block the others)."""
    ctx = multiprocessing.get_context("spawn")
    started = Workers([], [])
    try:
        for _ in range(count):
            ours, theirs = ctx.Pipe()
            proc = ctx.Process(
                target=_worker_main, daemon=True,
                args=(store.url, store.options, concurrency, burst, log_file, theirs, pool,
                      periodic),
            )
            proc.start()
            theirs.close()
            started.procs.append(proc)
            started.controls.append(ours)
        for proc, control in zip(started.procs, started.controls, strict=True):
            _wait_ready(proc, control)
        yield started
    finally:
        for control in started.controls:
            control.close()
        for proc in started.procs:
            proc.join(30.0)
            if proc.is_alive():
                proc.kill()
                proc.join()


def _wait_ready(proc: Any, control: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not control.poll(0.05):
        if not proc.is_alive() or time.monotonic() > deadline:
            raise JobqError(f"worker process {proc.pid} did not start "
                            f"(exit code {proc.exitcode})")
    control.recv()


# -- draining -------------------------------------------------------------------------------


def drain(store: Store, jobs: int, workers: int, concurrency: int, progress: Progress,
          log_file: str | None = None, pool: str = "thread", task_name: str = NOOP,
          periodic: bool = False, held: int = 0) -> float:
    """Jobs/s running ``jobs`` no-op jobs with ``workers`` burst worker processes (whose
    app, with ``periodic``, also fires a periodic task every second)."""
    return jobs / run_all(store, jobs, workers, concurrency, progress, log_file, pool,
                          task_name, periodic=periodic, held=held)


def run_all(store: Store, jobs: int, workers: int, concurrency: int, progress: Progress,
            log_file: str | None = None, pool: str = "thread", task_name: str = NOOP,
            args: tuple[Any, ...] = (), periodic: bool = False, held: int = 0) -> float:
    """Seconds ``workers`` burst worker processes take to run ``jobs`` jobs of
    ``task_name(*args)``, from the go (a process pool starting its children included)
    to the last success. ``held``: jobs of a task limited to one start an hour, in a
    queue of their own, enqueued first."""
    app = bench_app(store.url, store.options)
    try:
        app.migrate()
        if held:
            fill(app, held, task_name=HELD)
        fill(app, jobs, task_name=task_name, args=args)
        with worker_processes(store, workers, concurrency, True, log_file, pool,
                              periodic) as started:
            start = time.perf_counter()
            started.go()
            elapsed = _wait_succeeded(app, jobs, started.procs, start, progress)
        _expect(app, jobs, "succeeded", {"pending": held} if held else {})
    finally:
        app.close()
    return elapsed


def _wait_succeeded(app: App, jobs: int, procs: list[Any], start: float,
                    progress: Progress) -> float:
    """Poll ``app.stats()`` until all jobs succeeded; return the seconds it took."""
    while True:
        # Whether any worker runs is read before the count: a burst worker that recorded
        # the last job and exited between the two would otherwise look like a failure.
        running = any(p.is_alive() for p in procs)
        done = _counts(app).get("succeeded", 0)
        elapsed = time.perf_counter() - start
        progress(done)
        if done >= jobs:
            return elapsed
        if not running:
            raise JobqError(
                f"the workers exited with {done} of {jobs} jobs succeeded "
                f"(exit codes {[p.exitcode for p in procs]}; counts {_counts(app)})"
            )
        # Poll often enough for a fine timing, rarely enough not to steal the workers' CPU.
        time.sleep(min(0.05, max(0.005, elapsed / 100)))


# -- latency ----------------------------------------------------------------------------------


def latency(store: Store, jobs: int, interval: float, concurrency: int,
            progress: Progress) -> list[float]:
    """Enqueue-to-start delays (seconds) of ``jobs`` jobs enqueued every ``interval``
    seconds while one worker process idles."""
    app = bench_app(store.url, store.options)
    try:
        app.migrate()
        task = app.get_task(STAMP)
        with worker_processes(store, 1, concurrency, False) as started:
            started.go()
            time.sleep(0.5)  # let the worker reach its idle wait
            start = time.perf_counter()
            for i in range(jobs):
                pause = start + i * interval - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
                task.enqueue()
                if i % 50 == 0:
                    progress(i)
            progress(jobs)
            _wait_succeeded(app, jobs, started.procs, time.perf_counter(), lambda _: None)
        records = [job.record for job in app.jobs(status="succeeded", limit=jobs)]
    finally:
        app.close()
    if len(records) != jobs:
        raise JobqError(f"expected {jobs} succeeded latency jobs, found {len(records)}")
    return sorted(float(r.result) - r.created_at.timestamp() for r in records)


def percentile(values: list[float], pct: float) -> float:
    """The ``pct`` percentile of sorted ``values`` (nearest rank)."""
    rank = max(1, round(pct / 100 * len(values)))
    return values[min(rank, len(values)) - 1]


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


def load_average() -> tuple[float, float, float] | None:
    try:
        return os.getloadavg()
    except OSError:
        return None
