"""Periodic tasks on PostgreSQL: the leader lease, the registered definitions and tick
admission, each one transaction (most of them one statement) on the server's clock."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from jobq.backends.base import (
    TICKS_KEPT,
    Lease,
    NewJob,
    PeriodicDefinition,
    PeriodicState,
    StoredDefinition,
    TickVerdict,
    utc,
)
from jobq.backends.postgres.conn import Connection
from jobq.backends.sqlfiles import load_queries

QUERIES = load_queries("postgres", "periodic.sql")


def queries(quoted_schema: str) -> dict[str, str]:
    return {name: sql.replace("{schema}", quoted_schema) for name, sql in QUERIES.items()}


def _lease(row: Sequence[Any]) -> Lease:
    holder, term, expires, elected, now = row
    if holder is None:
        return Lease(None, 0, 0.0, float(now))
    return Lease(holder, int(term), float(expires), float(now), float(elected))


def lead(conn: Connection, q: dict[str, str], holder: str, term: int | None,
         ttl: float) -> Lease:
    row = conn.execute(q["lead"], {"holder": holder, "term": term, "ttl": ttl}).fetchone()
    assert row is not None
    return _lease(row)


def resign(conn: Connection, q: dict[str, str], holder: str, term: int) -> None:
    conn.execute(q["resign"], {"holder": holder, "term": term})


def register(conn: Connection, q: dict[str, str], definitions: Sequence[PeriodicDefinition],
             now: float, forget_before: float) -> None:
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(q["register"], [
            {"name": d.name, "hash": d.hash, "spec": d.spec, "now": now} for d in definitions
        ])
        cur.execute(q["forget"], {"before": forget_before})


def state(conn: Connection, q: dict[str, str]) -> PeriodicState:
    with conn.pipeline(), conn.transaction():  # one round trip, one snapshot
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        leader = conn.execute(q["leader"])
        stored = conn.execute(q["definitions"])
        ticks = conn.execute(q["last_ticks"])
    row = leader.fetchone()
    assert row is not None
    definitions = [StoredDefinition(r[0], r[1], r[2], float(r[3]), float(r[4]))
                   for r in stored.fetchall()]
    last = {name: int(tick) for name, tick in ticks.fetchall()}
    lease = _lease(row)
    return PeriodicState(lease.now, lease, definitions, last)


def fire(conn: Connection, q: dict[str, str], channel: str, holder: str, term: int,
         name: str, tick: int, job: NewJob) -> TickVerdict:
    params = {"holder": holder, "term": term, "name": name, "tick": tick, "id": job.id,
              "task": job.task, "queue": job.queue, "args": job.args, "kwargs": job.kwargs,
              "priority": job.priority, "max_attempts": job.max_attempts,
              "run_at": utc(job.run_at), "timeout": job.timeout, "max_lost": job.max_lost,
              "limit_key": job.limit_key, "limit_concurrency": job.limit_concurrency,
              "limit_interval": job.limit_interval, "limit_burst": job.limit_burst,
              "channel": channel,
              # the statement sees the ticks as they were before it: keep one fewer
              "keep": TICKS_KEPT - 1}
    row = conn.execute(q["fire_tick"], params).fetchone()
    assert row is not None
    now, stored = row
    if now is None:
        return TickVerdict.NOT_LEADER
    if stored:
        return TickVerdict.FIRED
    return TickVerdict.EARLY if tick > float(now) * 1000 else TickVerdict.DUPLICATE
