"""A job and the store's counts as JSON-ready data: the one shape ``jobq show --json``,
``jobq stats --json`` and the HTTP API (``jobq serve``) all give."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from jobq.job import JobRecord, Status


def iso(moment: datetime | None) -> str | None:
    """ISO-8601 in UTC with a ``Z``, e.g. ``2025-01-31T09:30:00.123456Z``."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def job_json(record: JobRecord) -> dict[str, Any]:
    """Every field of a job as JSON-ready data. The keys are stable: scripts rely on them."""
    error = record.error
    return {
        "id": record.id,
        "task": record.task,
        "queue": record.queue,
        "status": record.status.value,
        "priority": record.priority,
        "attempts": record.attempts,
        "max_attempts": record.max_attempts,
        "args": record.args,
        "kwargs": record.kwargs,
        "key": record.key,
        "timeout": record.timeout,
        "result": record.result,
        "error": None if error is None else {
            "type": error.type, "message": error.message, "traceback": error.traceback,
        },
        "run_at": iso(record.run_at),
        "created_at": iso(record.created_at),
        "started_at": iso(record.started_at),
        "finished_at": iso(record.finished_at),
        "lease_expires_at": iso(record.lease_expires_at),
        "worker_id": record.worker_id,
        "cancel_requested": record.cancel_requested,
        "meta": record.meta,
    }


def stats_json(stats: Mapping[str, Mapping[str, int]]) -> dict[str, Any]:
    """``{"queues": {queue: {status: n, …}}, "total": {status: n, …}}``, every status
    present (zeros included) so scripts can index without checks."""
    statuses = [s.value for s in Status]
    queues = {
        queue: {s: int(counts.get(s, 0)) for s in statuses}
        for queue, counts in sorted(stats.items())
    }
    total = {s: sum(q[s] for q in queues.values()) for s in statuses}
    return {"queues": queues, "total": total}
