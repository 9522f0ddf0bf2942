"""What the PostgreSQL store keeps about its workers: the registry, their throughput
history, and the periodic tasks' leader and ticks (``periodic.py`` holds their SQL)."""

from __future__ import annotations

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
from jobq.backends.postgres import periodic
from jobq.backends.postgres.access import PostgresAccess


class PostgresFleet(PostgresAccess):
    # -- the worker registry -----------------------------------------------------------

    def register_worker(self, worker: WorkerInfo) -> None:
        with self._conn() as conn:
            conn.execute(self.q["register_worker"], {
                "id": worker.id, "host": worker.host, "pid": worker.pid,
                "started_at": worker.started_at, "queues": list(worker.queues),
                "tasks": list(worker.tasks), "forget_after": FORGET_WORKER_AFTER})

    def unregister_worker(self, worker_id: str) -> None:
        with self._conn() as conn:
            conn.execute(self.q["unregister_worker"], {"id": worker_id})

    def workers(self, stale_after: float) -> list[WorkerInfo]:
        with self._conn() as conn:
            rows = conn.execute(self.q["workers"], {"stale_after": stale_after}).fetchall()
        return [WorkerInfo(r[0], r[1], r[2], r[3], tuple(r[4]), tuple(r[5]), r[6]) for r in rows]

    # -- throughput history ------------------------------------------------------------

    def add_throughput(self, worker_id: str, counts: Sequence[Throughput]) -> None:
        names = ("minutes", "queues", "succeeded", "failed", "retried")
        params = {name: [c[i] for c in counts] for i, name in enumerate(names)}
        with self._conn() as conn:
            conn.execute(self.q["add_throughput"], {"worker": worker_id, **params})

    def throughput(self, since: int) -> list[Throughput]:
        with self._conn() as conn:
            rows = conn.execute(self.q["throughput"], {"since": since}).fetchall()
        return [Throughput(*row) for row in rows]

    def prune_throughput(self, before: int) -> None:
        with self._conn() as conn:
            conn.execute(self.q["prune_throughput"], {"before": before})

    # -- periodic tasks (jobq/backends/postgres/periodic.py) ---------------------------

    def lead(self, holder: str, term: int | None, ttl: float) -> Lease:
        with self._conn() as conn:
            return periodic.lead(conn, self._periodic_q, holder, term, ttl)

    def resign(self, holder: str, term: int) -> None:
        with self._conn() as conn:
            periodic.resign(conn, self._periodic_q, holder, term)

    def register_periodic(self, definitions: Sequence[PeriodicDefinition], now: float,
                          forget_before: float) -> None:
        with self._conn() as conn:
            periodic.register(conn, self._periodic_q, definitions, now, forget_before)

    def periodic_state(self) -> PeriodicState:
        with self._conn() as conn:
            return periodic.state(conn, self._periodic_q)

    def fire_tick(self, holder: str, term: int, name: str, tick: int,
                  job: NewJob) -> TickVerdict:
        with self._conn() as conn:
            return periodic.fire(conn, self._periodic_q, self.channel, holder, term, name,
                                 tick, job)
