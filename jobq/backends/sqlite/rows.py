"""SQLite rows to records, and the listing query that reads each status's own index."""

from __future__ import annotations

import sqlite3
from typing import Any

from jobq.backends.base import (
    JobFilter,
    NewJob,
    WorkerInfo,
    decode_json,
    record_from_row,
    utc,
)
from jobq.job import JobRecord, Status

# The index that holds only the rows of one status (migrations/0001_initial.sql), so a
# listing by status reads those rows and never the whole table. Succeeded rows have none:
# they are most of a busy store, and a scan from the newest row meets them at once.
STATUS_INDEX = {
    Status.BLOCKED: "jobq_jobs_blocked",
    Status.SCHEDULED: "jobq_jobs_due",
    Status.PENDING: "jobq_jobs_ready",
    Status.RUNNING: "jobq_jobs_leases",
    Status.FAILED: "jobq_jobs_failed",
    Status.CANCELLED: "jobq_jobs_cancelled",
}


def job_row(j: NewJob) -> tuple[Any, ...]:
    """A new job as the parameters of the ``insert`` query, in its column order."""
    # j.status is a StrEnum: SQLite stores it as its text, without the .value lookup.
    return (j.id, j.task, j.queue, j.args, j.kwargs, j.priority, j.status, j.max_attempts,
            j.run_at, j.created_at, j.key, j.timeout, j.max_lost, j.limit_key,
            j.limit_concurrency, j.limit_interval, j.limit_burst)


def record(row: sqlite3.Row) -> JobRecord:
    """A stored row as a ``JobRecord`` (times are epoch seconds in SQLite)."""
    return record_from_row(row, utc)  # type: ignore[arg-type]


def worker_info(row: sqlite3.Row) -> WorkerInfo:
    """A registry row as a ``WorkerInfo`` (queues and tasks are JSON lists)."""
    return WorkerInfo(row["id"], row["host"], row["pid"], row["started_at"],
                      tuple(decode_json(row["queues"], [])), tuple(decode_json(row["tasks"], [])),
                      row["last_seen"])


def listing_sql(query: JobFilter) -> tuple[str, tuple[object, ...]]:
    """The SELECT for ``list_jobs`` and its parameters, newest first."""
    where: list[str] = []
    params: list[object] = []
    if query.task:
        where.append("task = ?")
        params.append(query.task)
    if query.queue:
        where.append("queue = ?")
        params.append(query.queue)
    statuses = list(dict.fromkeys([*query.statuses, *([query.status] if query.status else [])]))
    if not statuses:
        sql = "SELECT * FROM jobq_jobs"
        args: list[object] = list(params)
        if where:
            sql += " WHERE " + " AND ".join(where)
    elif len(statuses) == 1:
        sql, args = _status_select(statuses[0], where), list(params)
    else:
        # One branch per status, each reading its own index and stopping after the
        # rows the page can need.
        sql = " UNION ALL ".join(
            f"SELECT * FROM ({_status_select(s, where)} ORDER BY seq DESC LIMIT ?)"
            for s in statuses
        )
        args = [a for _ in statuses for a in (*params, query.limit + query.offset)]
    sql += " ORDER BY seq DESC LIMIT ? OFFSET ?"
    return sql, (*args, query.limit, query.offset)


def _status_select(status: Status, where: list[str]) -> str:
    # The status is written into the SQL (it is one of Status's values), not bound: SQLite
    # uses a partial index only when the query names its condition literally.
    index = STATUS_INDEX.get(status)
    sql = "SELECT * FROM jobq_jobs"
    if index:
        sql += f" INDEXED BY {index}"
    return sql + " WHERE " + " AND ".join([f"status = '{Status(status).value}'", *where])
