"""Rows in and out of the PostgreSQL store: parallel arrays for batches, COPY rows, and
``JobRecord`` from a fetched row."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from jobq.backends.base import NewJob, Outcome, record_from_row, utc
from jobq.job import JobRecord

COPY_TYPES = ["text", "text", "text", "text", "text", "int4", "text", "int4", "timestamptz",
              "timestamptz", "text", "float8", "int4", "text", "int4", "float8", "int4"]


def job_columns(jobs: Sequence[NewJob]) -> dict[str, list[Any]]:
    """A batch of jobs as the parallel arrays the insert queries unnest."""
    return {
        "ids": [j.id for j in jobs],
        "tasks": [j.task for j in jobs],
        "queues": [j.queue for j in jobs],
        "args": [j.args for j in jobs],
        "kwargs": [j.kwargs for j in jobs],
        "priorities": [j.priority for j in jobs],
        "statuses": [j.status.value for j in jobs],
        "max_attempts": [j.max_attempts for j in jobs],
        "run_ats": [utc(j.run_at) for j in jobs],
        "created_ats": [utc(j.created_at) for j in jobs],
        "keys": [j.key for j in jobs],
        "timeouts": [j.timeout for j in jobs],
        "max_losts": [j.max_lost for j in jobs],
        "limit_keys": [j.limit_key for j in jobs],
        "limit_concurrencies": [j.limit_concurrency for j in jobs],
        "limit_intervals": [j.limit_interval for j in jobs],
        "limit_bursts": [j.limit_burst for j in jobs],
    }


def one_job(j: NewJob) -> dict[str, Any]:
    """One job as the parameters of ``insert_one``."""
    return {"id": j.id, "task": j.task, "queue": j.queue, "args": j.args, "kwargs": j.kwargs,
            "priority": j.priority, "status": j.status.value, "max_attempts": j.max_attempts,
            "run_at": utc(j.run_at), "created_at": utc(j.created_at), "timeout": j.timeout,
            "max_lost": j.max_lost, "limit_key": j.limit_key,
            "limit_concurrency": j.limit_concurrency, "limit_interval": j.limit_interval,
            "limit_burst": j.limit_burst}


def copy_rows(jobs: Sequence[NewJob]) -> Iterator[tuple[Any, ...]]:
    """Jobs as COPY rows, in the order of ``COPY_TYPES``."""
    # A batch shares its creation time (and mostly its run time): convert each once.
    stamps: dict[float, datetime | None] = {}

    def when(ts: float) -> datetime | None:
        value = stamps.get(ts)
        if value is None:
            value = stamps[ts] = utc(ts)
        return value

    for j in jobs:
        yield (j.id, j.task, j.queue, j.args, j.kwargs, j.priority, j.status.value,
               j.max_attempts, when(j.run_at), when(j.created_at), j.key, j.timeout, j.max_lost,
               j.limit_key, j.limit_concurrency, j.limit_interval, j.limit_burst)


def outcome_columns(outcomes: Sequence[Outcome]) -> dict[str, list[Any]]:
    return {
        "ids": [o.job_id for o in outcomes],
        "tokens": [o.token for o in outcomes],
        "statuses": [o.status.value for o in outcomes],
        "results": [o.result for o in outcomes],
        "run_ats": [utc(o.run_at) for o in outcomes],
        "etypes": [o.error.type if o.error else None for o in outcomes],
        "emessages": [o.error.message if o.error else None for o in outcomes],
        "etracebacks": [o.error.traceback if o.error else None for o in outcomes],
    }


def _when(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


def record(row: dict[str, Any]) -> JobRecord:
    """A ``SELECT *`` row as a JobRecord, with its times in UTC."""
    return record_from_row(row, _when)
