"""The SQLite store's reads about jobs: one job, listings, a job's links, counts, the
oldest pending job, held and waiting jobs, the next due time."""

from __future__ import annotations

from collections.abc import Sequence

from jobq.backends import sqlflow
from jobq.backends.base import JobFilter, Links, WaitingTask
from jobq.backends.policy import fold_stats
from jobq.backends.sqlite import workflows
from jobq.backends.sqlite.access import Q, SQLiteAccess
from jobq.backends.sqlite.rows import listing_sql, record
from jobq.job import JobRecord


class SQLiteReads(SQLiteAccess):
    def get(self, job_id: str) -> JobRecord | None:
        with self._read() as conn:
            row = conn.execute(Q["get"], (job_id,)).fetchone()
        return record(row) if row else None

    def list_jobs(self, query: JobFilter) -> list[JobRecord]:
        sql, args = listing_sql(query)
        with self._read() as conn:
            rows = conn.execute(sql, args).fetchall()
        return [record(r) for r in rows]

    def links(self, job_id: str) -> Links:
        with self._read() as conn:
            return sqlflow.links(workflows.Statements(conn), job_id)

    def stats(self) -> dict[str, dict[str, int]]:
        with self._read() as conn:
            return fold_stats(conn.execute(Q["stats"]))

    def oldest_pending(self) -> dict[str, float]:
        with self._read() as conn:
            return {queue: since for queue, since in conn.execute(Q["oldest_pending"])}

    def limit_held(self, queues: Sequence[str] | None = None) -> int:
        where = "" if queues is None else f"AND queue IN ({','.join('?' * len(queues))})"
        with self._read() as conn:
            sql = Q["limit_held"].replace("{queues}", where)
            return int(conn.execute(sql, tuple(queues or ())).fetchone()[0])

    def waiting_tasks(self) -> list[WaitingTask]:
        with self._read() as conn:
            rows = conn.execute(Q["waiting_tasks"]).fetchall()
        return [WaitingTask(task, count, since) for task, count, since in rows]

    def next_due(self, queues: Sequence[str]) -> float | None:
        if not queues:
            return None
        sql = Q["next_due"].replace("{queues}", ",".join("?" * len(queues)))
        with self._read() as conn:
            value = conn.execute(sql, tuple(queues)).fetchone()[0]
        return None if value is None else float(value)
