"""The PostgreSQL store's reads about jobs: one job, listings, a job's links, counts, the
oldest pending job, held and waiting jobs, the next due time."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg.rows import dict_row

from jobq.backends import sqlflow
from jobq.backends.base import JobFilter, Links, WaitingTask
from jobq.backends.policy import fold_stats
from jobq.backends.postgres import workflows
from jobq.backends.postgres.access import PostgresAccess
from jobq.backends.postgres.rows import record
from jobq.job import JobRecord


class PostgresReads(PostgresAccess):
    def get(self, job_id: str) -> JobRecord | None:
        with self._conn() as conn:
            cur = conn.cursor(row_factory=dict_row)
            row = cur.execute(self.q["get"], {"id": job_id}).fetchone()
        return record(row) if row else None

    def list_jobs(self, query: JobFilter) -> list[JobRecord]:
        where: list[str] = []
        statuses = [s.value for s in query.statuses] + (
            [query.status.value] if query.status else [])
        params: dict[str, Any] = {
            "statuses": statuses, "status": statuses[0] if statuses else None,
            "task": query.task, "queue": query.queue, "limit": query.limit,
            "offset": query.offset,
        }
        if len(statuses) == 1:  # equality: the status index then yields newest first
            where.append("status = %(status)s")
        elif statuses:
            where.append("status = ANY(%(statuses)s::text[])")
        if query.task:
            where.append("task = %(task)s")
        if query.queue:
            where.append("queue = %(queue)s")
        sql = self.q["list"].replace("{where}", "WHERE " + " AND ".join(where) if where else "")
        with self._conn() as conn:
            rows = conn.cursor(row_factory=dict_row).execute(sql, params).fetchall()
        return [record(r) for r in rows]

    def links(self, job_id: str) -> Links:
        with self._conn() as conn:
            return sqlflow.links(workflows.Statements(conn, self.wq), job_id)

    def stats(self) -> dict[str, dict[str, int]]:
        # Only reads (the changes not folded yet are summed in): a read-only role can
        # serve the dashboard. The workers' reapers and purge fold.
        with self._conn() as conn:
            return fold_stats(conn.execute(self.q["stats"]).fetchall())

    def oldest_pending(self) -> dict[str, float]:
        with self._conn() as conn:
            return dict(conn.execute(self.q["oldest_pending"]).fetchall())

    def limit_held(self, queues: Sequence[str] | None = None) -> int:
        params = {"queues": None if queues is None else list(queues)}
        with self._conn() as conn:
            row = conn.execute(self.q["limit_held"], params).fetchone()
        return int(row[0]) if row else 0

    def waiting_tasks(self) -> list[WaitingTask]:
        with self._conn() as conn:
            rows = conn.execute(self.q["waiting_tasks"]).fetchall()
        return [WaitingTask(task, count, since) for task, count, since in rows]

    def next_due(self, queues: Sequence[str]) -> float | None:
        with self._conn() as conn:
            row = conn.execute(self.q["next_due"], {"queues": list(queues)}).fetchone()
        return None if row is None or row[0] is None else float(row[0])
