"""What the SQLite store keeps about its workers: the registry, their throughput history,
and the periodic tasks' leader and ticks (``periodic.py`` holds their SQL steps)."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

from jobq.backends.base import (
    FORGET_WORKER_AFTER,
    Lease,
    NewJob,
    PeriodicDefinition,
    PeriodicState,
    Throughput,
    TickVerdict,
    WorkerInfo,
)
from jobq.backends.sqlite import periodic
from jobq.backends.sqlite.access import Q, SQLiteAccess
from jobq.backends.sqlite.rows import worker_info


class SQLiteFleet(SQLiteAccess):
    # -- the worker registry -----------------------------------------------------------

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

    # -- throughput history ------------------------------------------------------------

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

    # -- periodic tasks (jobq/backends/sqlite/periodic.py) -----------------------------

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
