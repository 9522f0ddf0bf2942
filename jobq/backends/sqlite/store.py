"""The embedded store: one SQLite file in WAL mode, safe for several worker processes.

Every write runs in a ``BEGIN IMMEDIATE`` transaction, so claims from different
processes serialise on SQLite's write lock and never hand one attempt to two workers.
``access.py`` holds the connection, transactions and schema check; ``reads.py`` the
reads about jobs; ``fleet.py`` the worker registry, throughput and periodic leadership.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from jobq.backends import sqlflow
from jobq.backends.base import (
    UNKNOWN_TASK_DELAY,
    ClaimedJob,
    Heartbeat,
    NewJob,
    Outcome,
    Postponed,
    ReapedJob,
    Waits,
)
from jobq.backends.policy import PURGE_BATCH, REAP_ORDER, purge_in_batches
from jobq.backends.sqlite import limits, workflows
from jobq.backends.sqlite.access import WAL_AUTOCHECKPOINT, Q
from jobq.backends.sqlite.fleet import SQLiteFleet
from jobq.backends.sqlite.reads import SQLiteReads
from jobq.backends.sqlite.rows import job_row, record
from jobq.backends.sqlite.schema import MIGRATIONS, SCHEMA_VERSION
from jobq.config import Settings
from jobq.errors import BackendError, KeyConflict
from jobq.job import JobRecord, Status

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "WAL_AUTOCHECKPOINT", "SQLiteBackend", "connect"]

_FINISH = {
    Status.SUCCEEDED: Q["finish_succeeded"],
    Status.FAILED: Q["finish_failed"],
    Status.SCHEDULED: Q["finish_scheduled"],
    Status.CANCELLED: Q["finish_cancelled"],
    Status.PENDING: Q["finish_pending"],
}
_POSTPONE = (("postpone_cancelled", Status.CANCELLED), ("postpone_failed", Status.FAILED),
             ("postpone_scheduled", Status.SCHEDULED))


class _Taken(Exception):
    """A batch met a job id already stored: roll back, then store it job by job."""


class SQLiteBackend(SQLiteReads, SQLiteFleet):
    """``Backend`` on one SQLite file. One connection per process, shared under a lock."""

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


    def reap(self, now: float | None = None) -> list[ReapedJob]:
        params = {"now": time.time() if now is None else now}
        reaped: list[ReapedJob] = []
        with self._write() as conn:
            for status in REAP_ORDER:
                rows = conn.execute(Q[f"reap_to_{status.value}"], params).fetchall()
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

    def durability_warnings(self) -> list[str]:
        return []  # the file is the application's own: its durability is in the URL

    def purge(self, older_than: float, statuses: Iterable[Status],
              batch: int = PURGE_BATCH) -> int:
        cutoff = time.time() - older_than

        def delete_batch(wanted: list[str]) -> tuple[int, bool]:
            sql = Q["purge"].replace("{statuses}", ",".join("?" * len(wanted)))
            # Small batches keep the write lock short for the workers sharing the file.
            with self._write() as conn:
                deleted: int = conn.execute(sql, (*wanted, cutoff, batch)).rowcount
            return deleted, deleted >= batch

        return purge_in_batches(statuses, delete_batch)

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



def connect(settings: Settings) -> SQLiteBackend:
    """The backend for a ``sqlite:///`` URL; opens its file on first use."""
    return SQLiteBackend(settings)
