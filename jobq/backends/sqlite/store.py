"""The embedded store: one SQLite file in WAL mode, safe for several worker processes.

Every write runs in a ``BEGIN IMMEDIATE`` transaction, so claims from different
processes serialise on SQLite's write lock and never hand one attempt to two workers.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import uuid
import weakref
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

from jobq.backends import sqlflow
from jobq.backends.admission import HeldWake
from jobq.backends.base import (
    FORGET_WORKER_AFTER,
    UNKNOWN_TASK_DELAY,
    ClaimedJob,
    Heartbeat,
    JobFilter,
    Lease,
    Links,
    NewJob,
    Outcome,
    PeriodicDefinition,
    PeriodicState,
    Postponed,
    ReapedJob,
    Throughput,
    TickVerdict,
    WaitingTask,
    Waits,
    WorkerInfo,
)
from jobq.backends.sqlfiles import load_migrations, load_queries
from jobq.backends.sqlite import limits, periodic, workflows
from jobq.backends.sqlite.files import is_store_error, sqlite_path, store_error
from jobq.backends.sqlite.rows import job_row, listing_sql, record, worker_info
from jobq.config import Settings
from jobq.errors import BackendError, ConfigError, KeyConflict, SchemaError
from jobq.job import JobRecord, Status

Q = load_queries("sqlite")
MIGRATIONS = load_migrations("sqlite")
SCHEMA_VERSION = MIGRATIONS[-1].version
_FINISH = {
    Status.SUCCEEDED: Q["finish_succeeded"],
    Status.FAILED: Q["finish_failed"],
    Status.SCHEDULED: Q["finish_scheduled"],
    Status.CANCELLED: Q["finish_cancelled"],
    Status.PENDING: Q["finish_pending"],
}
_POSTPONE = (("postpone_cancelled", Status.CANCELLED), ("postpone_failed", Status.FAILED),
             ("postpone_scheduled", Status.SCHEDULED))
_SYNC_MODES = ("off", "normal", "full", "extra")
# WAL pages between automatic checkpoints (SQLite's default is 1,000). Fewer, larger
# checkpoints copy each hot page (the growing ends of the indexes) once instead of many
# times, and sync less often, which speeds up single enqueues. Durability is
# unchanged; the WAL file grows to about 40 MB before it is reused.
WAL_AUTOCHECKPOINT = 10_000


# Backends living in this process: a forked child drops their connections (see conn).
_OPEN: weakref.WeakSet[SQLiteBackend] = weakref.WeakSet()
# Connections a forked child inherited: kept, never used nor closed, as SQLite asks.
_INHERITED: list[sqlite3.Connection] = []


def _forget_connections() -> None:
    for backend in list(_OPEN):
        backend._after_fork()


os.register_at_fork(after_in_child=_forget_connections)


class _Taken(Exception):
    """A batch met a job id already stored: roll back, then store it job by job."""


class _Write:
    """One IMMEDIATE transaction, holding the process-local lock.

    A class rather than a generator context manager: it runs around every write, and
    two nested generator ones cost measurably more per transaction."""

    __slots__ = ("backend", "conn")

    def __init__(self, backend: SQLiteBackend) -> None:
        self.backend = backend

    def __enter__(self) -> sqlite3.Connection:
        backend = self.backend
        try:
            conn = self.conn = backend.conn
            backend._lock.acquire()
            try:
                conn.execute("BEGIN IMMEDIATE")
            except BaseException:
                backend._lock.release()
                raise
        except sqlite3.DatabaseError as exc:
            if is_store_error(exc):
                raise store_error(backend.url, backend.path, exc) from exc
            raise
        return conn

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn, backend = self.conn, self.backend
        raised = exc  # what the body raised; None when it returned
        try:
            if exc is None:
                try:
                    conn.execute("COMMIT")
                    return
                except BaseException as failed:
                    exc = failed
            # Also after a failed COMMIT: an open transaction would block every later
            # write on this connection.
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        except sqlite3.DatabaseError as failed:  # the ROLLBACK itself failed
            exc = failed
        finally:
            backend._lock.release()
        if is_store_error(exc):
            raise store_error(backend.url, backend.path, exc) from exc  # type: ignore[arg-type]
        if exc is not raised:
            raise exc


class SQLiteBackend:
    """``Backend`` on one SQLite file. One connection per process, shared under a lock."""

    def __init__(self, url: str, *, busy_timeout: float = 60.0) -> None:
        self.url = url
        self.path, options = sqlite_path(url)
        sync = options.get("synchronous", "normal").lower()
        if sync not in _SYNC_MODES:
            raise ConfigError(f"{url!r}: synchronous must be one of {_SYNC_MODES}, got {sync!r}")
        self._synchronous = sync
        self._limit_wait = HeldWake()
        self._busy_timeout = busy_timeout
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._data_version = -1
        _OPEN.add(self)

    # -- connection -------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        parent = Path(self.path).parent
        if not parent.exists():
            raise BackendError(f"cannot open {self.url}: folder {str(parent)!r} does not exist")
        try:
            conn = sqlite3.connect(
                self.path, timeout=self._busy_timeout, isolation_level=None,
                check_same_thread=False,
            )
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={self._synchronous}")
            conn.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT}")
            conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.DatabaseError as exc:
            raise BackendError(f"cannot open {self.url}: {exc}") from exc
        return conn

    @property
    def conn(self) -> sqlite3.Connection:
        conn = self._conn
        if conn is None:
            with self._lock:
                if self._conn is None:
                    conn = self._connect()
                    self._ensure_schema(conn)
                    self._conn = conn
                conn = self._conn
        return conn

    def _after_fork(self) -> None:
        # A forked child must not use its parent's connection (nor close it: the parent
        # still does), nor wait on a lock a parent's thread held at the fork.
        if self._conn is not None:
            _INHERITED.append(self._conn)
        self._conn = None
        self._lock = threading.RLock()

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """SQLite's own errors surface as ``BackendError`` (see ``_store_error``)."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            if is_store_error(exc):
                raise store_error(self.url, self.path, exc) from exc
            raise

    def _write(self) -> _Write:
        """One IMMEDIATE transaction, holding the process-local lock."""
        return _Write(self)

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._errors():
            conn = self.conn
            with self._lock:
                yield conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
            self._conn = None

    # -- schema -------------------------------------------------------------------------

    def _version(self, conn: sqlite3.Connection) -> int:
        row = conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name='jobq_schema'"
        ).fetchone()
        if row is None:
            return 0
        return int(conn.execute("SELECT MAX(version) FROM jobq_schema").fetchone()[0] or 0)

    def _ensure_schema(self, conn: sqlite3.Connection) -> None:
        # The embedded store belongs to this application: create and upgrade it on first use.
        try:
            version = self._version(conn)
        except sqlite3.DatabaseError as exc:
            raise BackendError(f"{self.url} is not a usable SQLite database: {exc}") from exc
        if version > SCHEMA_VERSION:
            raise SchemaError(
                f"{self.url} has jobq schema version {version}, newer than this jobq knows "
                f"({SCHEMA_VERSION}); upgrade jobq"
            )
        if version < SCHEMA_VERSION:
            self._apply_migrations(conn)

    def _apply_migrations(self, conn: sqlite3.Connection) -> int:
        with self._lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS jobq_schema "
                    "(version INTEGER PRIMARY KEY, applied_at REAL NOT NULL)"
                )
                current = self._version(conn)
                for migration in MIGRATIONS:
                    if migration.version > current:
                        for statement in migration.sqlite_statements():
                            conn.execute(statement)
                        conn.execute(
                            "INSERT INTO jobq_schema VALUES (?, ?)",
                            (migration.version, time.time()),
                        )
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        return SCHEMA_VERSION

    def migrate(self) -> int:
        with self._errors():
            return self._apply_migrations(self.conn)

    def exists(self) -> bool:
        memory = self.path == ":memory:" or self.path.startswith("file:")
        return memory or Path(self.path).exists()

    def check_schema(self) -> None:
        with self._read() as conn:
            version = self._version(conn)
        if version != SCHEMA_VERSION:
            raise SchemaError(
                f"{self.url} has jobq schema version {version}, expected {SCHEMA_VERSION}; "
                "run `jobq migrate`"
            )

    # -- jobs ---------------------------------------------------------------------------

    def enqueue(self, jobs: Iterable[NewJob]) -> list[NewJob | str]:
        batch = list(jobs)
        rows = [job_row(j) for j in batch]
        if not any(j.key for j in batch):
            try:
                with self._write() as conn:
                    before = conn.total_changes
                    if len(rows) == 1:  # one row: execute costs less than executemany
                        conn.execute(Q["insert"], rows[0])
                    else:
                        conn.executemany(Q["insert"], rows)
                    if conn.total_changes - before != len(rows):
                        raise _Taken  # an id already stored (a call with its id fixed)
                return list(batch)
            except _Taken:
                pass  # rolled back: store them one by one to tell which were there
        with self._write() as conn:
            return [self._insert_one(conn, job, row) for job, row in zip(batch, rows,
                                                                          strict=True)]

    @staticmethod
    def _insert_one(conn: sqlite3.Connection, job: NewJob,
                    row: tuple[Any, ...]) -> NewJob | str:
        """Store one job; else the live job holding its key, or the job with its id."""
        if conn.execute(Q["insert"], row).rowcount:
            return job
        if job.key:
            holder = conn.execute(Q["live_id_by_key"], (job.key,)).fetchone()
            if holder is not None:
                return str(holder[0])
        if conn.execute(Q["exists"], (job.id,)).fetchone() is None:
            raise BackendError(f"{job.id}: the store refused the job")
        return job.id

    def enqueue_workflow(self, jobs: Sequence[NewJob], waits: Sequence[Waits]) -> list[NewJob]:
        def insert(rows: Sequence[NewJob]) -> None:
            conn.executemany(Q["insert"], [job_row(j) for j in rows])

        with self._write() as conn:
            return sqlflow.enqueue(workflows.Statements(conn), jobs, waits, insert)

    def links(self, job_id: str) -> Links:
        with self._read() as conn:
            return sqlflow.links(workflows.Statements(conn), job_id)

    def claim(
        self, worker_id: str, queues: Sequence[str], limit: int, lease: float,
        suspects: int = 1, skip_tasks: Sequence[str] = (),
    ) -> list[ClaimedJob]:
        if limit <= 0 or not queues:
            return []  # and never LIMIT -1, which SQLite reads as "no limit"
        now = time.time()
        token = uuid.uuid4().hex
        skip = f"AND task NOT IN ({','.join('?' * len(skip_tasks))})" if skip_tasks else ""
        sql = Q["claim"].replace("{queues}", ",".join("?" * len(queues))).replace("{skip}", skip)

        def take(count: int, suspects: int, token: str) -> list[sqlite3.Row]:
            return conn.execute(sql, (now, worker_id, token, now + lease, *queues,
                                      *skip_tasks, count, *queues, *skip_tasks, suspects,
                                      count)).fetchall()

        with self._write() as conn:
            conn.execute(Q["promote_due"], (now,))
            rows = take(limit, max(suspects, 0), token)
            if any(r["limit_key"] is not None for r in rows):
                rows = limits.admit_claimed(conn, rows, take, now, suspects,
                                            self._limit_wait.note)
        rows.sort(key=lambda r: (-r["priority"], r["seq"]))
        return [
            ClaimedJob(r["id"], r["task"], r["queue"], r["args"], r["kwargs"], r["attempts"],
                       r["max_attempts"], r["timeout"], r["lease_token"], r["lost_leases"])
            for r in rows
        ]

    def heartbeat(self, leases: Sequence[tuple[str, str]], lease: float) -> Heartbeat:
        expires = time.time() + lease
        lost, cancel = set(), set()
        with self._write() as conn:
            for job_id, token in leases:
                row = conn.execute(Q["heartbeat"], (expires, job_id, token)).fetchone()
                if row is None:
                    lost.add(job_id)
                elif row[0]:
                    cancel.add(job_id)
        return Heartbeat(frozenset(lost), frozenset(cancel))

    def finish(self, outcomes: Sequence[Outcome]) -> list[bool]:
        now = time.time()
        applied = []
        with self._write() as conn:
            for o in outcomes:
                err = o.error
                params = {
                    "id": o.job_id, "token": o.token, "now": now, "result": o.result,
                    "run_at": o.run_at, "etype": err.type if err else None,
                    "emessage": err.message if err else None,
                    "etraceback": err.traceback if err else None,
                }
                applied.append(conn.execute(_FINISH[o.status], params).rowcount == 1)
            workflows.settle(conn, [o.job_id for o, ok in zip(outcomes, applied, strict=True)
                                    if ok], now)
        return applied

    def cancel(self, job_id: str) -> tuple[JobRecord | None, bool]:
        with self._write() as conn:
            now = time.time()
            changed = conn.execute(Q["cancel_waiting"], (now, job_id)).rowcount == 1
            if changed:
                workflows.settle(conn, [job_id], now)
            else:
                changed = conn.execute(Q["cancel_running"], (job_id,)).rowcount == 1
            row = conn.execute(Q["get"], (job_id,)).fetchone()
        return (record(row) if row else None), changed

    def retry(self, job_id: str) -> JobRecord | None:
        try:
            with self._write() as conn:
                now = time.time()
                steps = workflows.Statements(conn)
                sqlflow.retry_waiting(steps, job_id,
                                      lambda waiting: workflows.release(conn, waiting, now))
                conn.execute(Q["retry"], {"id": job_id, "now": now})
                sqlflow.restore(steps, job_id)
                row = conn.execute(Q["get"], (job_id,)).fetchone()
        except sqlite3.IntegrityError:
            raise KeyConflict(job_id) from None
        return record(row) if row else None

    def get(self, job_id: str) -> JobRecord | None:
        with self._read() as conn:
            row = conn.execute(Q["get"], (job_id,)).fetchone()
        return record(row) if row else None

    def list_jobs(self, query: JobFilter) -> list[JobRecord]:
        sql, args = listing_sql(query)
        with self._read() as conn:
            rows = conn.execute(sql, args).fetchall()
        return [record(r) for r in rows]

    def stats(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        with self._read() as conn:
            for queue, status, count in conn.execute(Q["stats"]):
                out.setdefault(queue, {})[status] = count
        return out

    def oldest_pending(self) -> dict[str, float]:
        with self._read() as conn:
            return {queue: since for queue, since in conn.execute(Q["oldest_pending"])}

    def limit_held(self, queues: Sequence[str] | None = None) -> int:
        where = "" if queues is None else f"AND queue IN ({','.join('?' * len(queues))})"
        with self._read() as conn:
            sql = Q["limit_held"].replace("{queues}", where)
            return int(conn.execute(sql, tuple(queues or ())).fetchone()[0])

    def reap(self, now: float | None = None) -> list[ReapedJob]:
        params = {"now": time.time() if now is None else now}
        reaped: list[ReapedJob] = []
        with self._write() as conn:
            for query, status in (("reap_to_cancelled", Status.CANCELLED),
                                  ("reap_to_pending", Status.PENDING),
                                  ("reap_to_failed", Status.FAILED)):
                rows = conn.execute(Q[query], params).fetchall()
                reaped.extend(ReapedJob(r[0], r[1], status, r[2], r[3]) for r in rows)
            workflows.settle(conn, [r.id for r in reaped if r.status is not Status.PENDING],
                             params["now"])
        return reaped

    def postpone(self, jobs: Sequence[Postponed],
                 give_up_after: float | None) -> list[Status | None]:
        low, high = UNKNOWN_TASK_DELAY
        out: list[Status | None] = []
        with self._write() as conn:
            now = time.time()
            for job in jobs:
                params = {"id": job.job_id, "token": job.token, "now": now, "low": low,
                          "high": high, "waiting": job.waiting, "give_up": job.give_up,
                          "give_up_after": give_up_after}
                for query, status in _POSTPONE:
                    if conn.execute(Q[query], params).rowcount:
                        out.append(status)
                        break
                else:
                    out.append(None)
            # A job that gave up waiting for its task ended: release what waits for it.
            ended = [j.job_id for j, s in zip(jobs, out, strict=True)
                     if s in (Status.FAILED, Status.CANCELLED)]
            workflows.settle(conn, ended, now)
        return out

    def waiting_tasks(self) -> list[WaitingTask]:
        with self._read() as conn:
            rows = conn.execute(Q["waiting_tasks"]).fetchall()
        return [WaitingTask(task, count, since) for task, count, since in rows]

    def register_worker(self, worker: WorkerInfo) -> None:
        now = time.time()
        with self._write() as conn:
            conn.execute(Q["register_worker"], {
                "id": worker.id, "host": worker.host, "pid": worker.pid,
                "started_at": worker.started_at, "now": now,
                "queues": json.dumps(list(worker.queues)),
                "tasks": json.dumps(list(worker.tasks))})
            conn.execute(Q["forget_workers"], (now - FORGET_WORKER_AFTER,))

    def unregister_worker(self, worker_id: str) -> None:
        with self._write() as conn:
            conn.execute(Q["unregister_worker"], (worker_id,))

    def workers(self, stale_after: float) -> list[WorkerInfo]:
        with self._read() as conn:
            rows = conn.execute(Q["workers"], (time.time() - stale_after,)).fetchall()
        return [worker_info(r) for r in rows]

    def durability_warnings(self) -> list[str]:
        return []  # the file is the application's own: its durability is in the URL

    def purge(self, older_than: float, statuses: Iterable[Status], batch: int = 500) -> int:
        wanted = [s.value for s in statuses]
        if not wanted:
            return 0
        sql = Q["purge"].replace("{statuses}", ",".join("?" * len(wanted)))
        cutoff = time.time() - older_than
        total = 0
        while True:
            # Small batches keep the write lock short for the workers sharing the file.
            with self._write() as conn:
                deleted = conn.execute(sql, (*wanted, cutoff, batch)).rowcount
            total += deleted
            if deleted < batch:
                return total

    def add_throughput(self, worker_id: str, counts: Sequence[Throughput]) -> None:
        with self._write() as conn:
            conn.executemany(Q["add_throughput"], [(c.minute, c.queue, worker_id, c.succeeded,
                                                    c.failed, c.retried) for c in counts])

    def throughput(self, since: int) -> list[Throughput]:
        with self._read() as conn:
            return [Throughput(*row) for row in conn.execute(Q["throughput"], (since,))]

    def prune_throughput(self, before: int) -> None:
        with self._write() as conn:
            conn.execute(Q["fold_throughput"], (before,))
            conn.execute(Q["prune_throughput"], (before,))

    def next_due(self, queues: Sequence[str]) -> float | None:
        if not queues:
            return None
        sql = Q["next_due"].replace("{queues}", ",".join("?" * len(queues)))
        with self._read() as conn:
            value = conn.execute(sql, tuple(queues)).fetchone()[0]
        return None if value is None else float(value)

    def wait_for_work(self, timeout: float, wake: threading.Event | None = None) -> None:
        # PRAGMA data_version changes when another connection commits: a cheap way to
        # notice a new job without re-running the claim query.
        deadline = time.monotonic() + self._limit_wait.cap(timeout)
        with self._read() as conn:
            start = conn.execute("PRAGMA data_version").fetchone()[0]
        # Poll fast at first (a busy system), slower once it has been quiet for a while.
        quiet_since = time.monotonic()
        while (now := time.monotonic()) < deadline:
            time.sleep(0.001 if now - quiet_since < 1.0 else 0.004)
            if wake is not None and wake.is_set():
                return
            with self._read() as conn:
                if conn.execute("PRAGMA data_version").fetchone()[0] != start:
                    return

    # -- periodic tasks (jobq/backends/sqlite/periodic.py) ------------------------------------

    def lead(self, holder: str, term: int | None, ttl: float) -> Lease:
        with self._write() as conn:
            return periodic.lead(conn, holder, term, ttl, time.time())

    def resign(self, holder: str, term: int) -> None:
        with self._write() as conn:
            periodic.resign(conn, holder, term, time.time())

    def register_periodic(self, definitions: Sequence[PeriodicDefinition], now: float,
                          forget_before: float) -> None:
        with self._write() as conn:
            periodic.register(conn, definitions, now, forget_before)

    def periodic_state(self) -> PeriodicState:
        with self._read() as conn:
            return periodic.state(conn, time.time())

    def fire_tick(self, holder: str, term: int, name: str, tick: int,
                  job: NewJob) -> TickVerdict:
        with self._write() as conn:
            return periodic.fire(conn, Q["insert"], holder, term, name, tick, job, time.time())


def connect(settings: Settings) -> SQLiteBackend:
    """The backend for a ``sqlite:///`` URL; opens its file on first use."""
    return SQLiteBackend(settings.url)
