"""The dashboard's other views as JSON: throughput per minute, the workers with their last
heartbeat, the periodic leader and schedule."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from jobq.backends.base import Throughput, utc
from jobq.jobjson import iso, periodic_data
from jobq.web.state import state

MAX_MINUTES = 7 * 24 * 60
router = APIRouter(prefix="/api", tags=["overview"])


class MinuteOut(BaseModel):
    minute: str
    queue: str
    succeeded: int
    failed: int
    retried: int


class OutcomesOut(BaseModel):
    succeeded: int
    failed: int
    retried: int


class ThroughputOut(BaseModel):
    """Attempts that ended, per minute (UTC start) and queue, oldest first; ``totals``
    per queue over the whole history kept (``jobq purge`` does not touch it)."""

    minutes: list[MinuteOut]
    totals: dict[str, OutcomesOut]


class WorkerOut(BaseModel):
    id: str
    host: str
    pid: int
    queues: list[str]
    started_at: str
    last_heartbeat: str


class LeaderOut(BaseModel):
    holder: str
    term: int
    since: str | None
    lease_until: str | None


class PeriodicOut(BaseModel):
    """``jobq periodic --json``: the leader (None when nobody holds the lease) and each
    periodic task with its schedule, last and next tick."""

    leader: LeaderOut | None
    tasks: list[dict[str, Any]]


def _when(seconds: float) -> str:
    return iso(utc(seconds)) or ""


def totals(rows: list[Throughput]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for row in rows:
        counts = out.setdefault(row.queue, {"succeeded": 0, "failed": 0, "retried": 0})
        counts["succeeded"] += row.succeeded
        counts["failed"] += row.failed
        counts["retried"] += row.retried
    return out


@router.get("/throughput", response_model=ThroughputOut)
def throughput(
    request: Request,
    minutes: Annotated[int, Query(ge=1, le=MAX_MINUTES, description="how far back")] = 180,
) -> dict[str, Any]:
    """Succeeded, failed and retried attempts per minute and queue."""
    rows = state(request).history.get()
    since = (int(time.time()) // 60 - minutes + 1) * 60
    return {
        "minutes": [{"minute": _when(r.minute), "queue": r.queue, "succeeded": r.succeeded,
                     "failed": r.failed, "retried": r.retried}
                    for r in rows if r.minute >= since],
        "totals": totals(rows),
    }


@router.get("/workers", response_model=list[WorkerOut])
def workers(request: Request) -> list[dict[str, Any]]:
    """The running workers, oldest first, with their last heartbeat (store's clock)."""
    return [{"id": w.id, "host": w.host, "pid": w.pid, "queues": list(w.queues),
             "started_at": _when(w.started_at), "last_heartbeat": _when(w.last_seen)}
            for w in state(request).app.workers()]


@router.get("/periodic", response_model=PeriodicOut)
def periodic(request: Request) -> dict[str, Any]:
    """The periodic leader and each periodic task's schedule, last and next tick."""
    return periodic_data(state(request).app.backend.periodic_state())
