"""A job and the store's counts as JSON-ready data: the one shape ``jobq show --json``,
``jobq stats --json`` and the HTTP API (``jobq serve``) all give."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from jobq.job import JobRecord, Status

if TYPE_CHECKING:
    from jobq.app import App
    from jobq.backends.base import Links, PeriodicState


def iso(moment: datetime | None) -> str | None:
    """ISO-8601 in UTC with a ``Z``, e.g. ``2025-01-31T09:30:00.123456Z``."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def job_json(record: JobRecord, links: Links | None = None) -> dict[str, Any]:
    """Every field of a job as JSON-ready data. The keys are stable: scripts rely on them.
    With ``links`` (a single job's view), also the ids it waits for and that wait for it."""
    error = record.error
    data = {
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
        "lost_leases": record.lost_leases,
        "max_lost": record.max_lost,
        "unknown_task_since": iso(record.unknown_task_since),
        "limit_key": record.limit_key,
        "limit_held_since": iso(record.limit_held_since),
    }
    if links is not None:
        data["dependencies"] = list(links.dependencies)
        data["dependents"] = list(links.dependents)
    return data


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


def stats_overview(app: App) -> dict[str, Any]:
    """``jobq stats --json`` and ``GET /api/stats``: ``stats_json`` of the counts, plus
    ``"workers"`` (how many run), ``"waiting_on_limits"`` (waiting jobs held back by
    their rate or concurrency limit), ``"waiting_for_tasks"`` (``{task: {"jobs": n,
    "since": iso}}``: jobs that no running worker has the task for) and
    ``"oldest_pending"`` (``{queue: iso}``: since when its longest-waiting pending job is
    due)."""
    from jobq.backends.base import utc

    waiting = app.waiting_for_tasks()
    oldest = app.backend.oldest_pending()
    return {
        **stats_json(app.stats()),
        "workers": len(app.workers()),
        "waiting_on_limits": app.backend.limit_held(),
        "waiting_for_tasks": {w.task: {"jobs": w.jobs,
                                       "since": iso(utc(w.since))}
                              for w in waiting},
        "oldest_pending": {queue: iso(utc(since)) for queue, since in sorted(oldest.items())},
    }


def periodic_data(state: PeriodicState) -> dict[str, Any]:
    """``{"leader": {...} or None, "tasks": [...]}``; times in UTC ISO-8601. The keys are
    stable: scripts rely on them."""
    from jobq.backends.base import utc
    from jobq.periodic import overview

    lease = state.leader
    leader = None
    if lease.holder is not None and lease.expires_at > state.now:
        leader = {"holder": lease.holder, "term": lease.term,
                  "since": iso(utc(lease.elected_at)),
                  "lease_until": iso(utc(lease.expires_at))}
    tasks = [
        {"name": o.name, "schedule": o.schedule, "catch_up": o.catch_up, "queue": o.queue,
         "live": o.live, "versions": o.versions, "last_tick": iso(utc(o.last_tick)),
         "next_tick": iso(utc(o.next_tick))}
        for o in overview(state.definitions, state.last_ticks, state.now)
    ]
    return {"leader": leader, "tasks": tasks}
