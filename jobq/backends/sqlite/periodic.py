"""Periodic tasks on SQLite: the leader lease, the registered definitions and tick
admission. Each function runs inside one IMMEDIATE transaction the store opens, so its
checks and writes are one atomic step; ``now`` is the store's clock (this machine's)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from jobq.backends.base import (
    TICKS_KEPT,
    Lease,
    NewJob,
    PeriodicDefinition,
    PeriodicState,
    StoredDefinition,
    TickVerdict,
)
from jobq.backends.sqlfiles import load_queries
from jobq.backends.sqlite.rows import job_row
from jobq.job import Status

Q = load_queries("sqlite", "periodic.sql")


def lead(conn: sqlite3.Connection, holder: str, term: int | None, ttl: float,
         now: float) -> Lease:
    params = {"holder": holder, "term": term, "now": now, "expires": now + ttl}
    if term is not None:
        conn.execute(Q["renew_lead"], params)
    conn.execute(Q["take_lead"], params)  # no change while someone holds it
    return _leader(conn, now)


def _leader(conn: sqlite3.Connection, now: float) -> Lease:
    row = conn.execute(Q["leader"]).fetchone()
    if row is None:
        return Lease(None, 0, 0.0, now)
    return Lease(row[0], int(row[1]), float(row[2]), now, float(row[3]))


def resign(conn: sqlite3.Connection, holder: str, term: int, now: float) -> None:
    conn.execute(Q["resign"], {"holder": holder, "term": term, "now": now})


def register(conn: sqlite3.Connection, definitions: Sequence[PeriodicDefinition],
             now: float, forget_before: float) -> None:
    conn.executemany(Q["register"], [
        {"name": d.name, "hash": d.hash, "spec": d.spec, "now": now} for d in definitions
    ])
    conn.execute(Q["forget"], {"before": forget_before})


def state(conn: sqlite3.Connection, now: float) -> PeriodicState:
    conn.execute("BEGIN")  # one snapshot for the three reads
    try:
        definitions = [StoredDefinition(r[0], r[1], r[2], float(r[3]), float(r[4]))
                       for r in conn.execute(Q["definitions"])]
        last = {name: int(tick) for name, tick in conn.execute(Q["last_ticks"])}
        leader = _leader(conn, now)
    finally:
        conn.execute("COMMIT")
    return PeriodicState(now, leader, definitions, last)


def fire(conn: sqlite3.Connection, insert_job: str, holder: str, term: int, name: str,
         tick: int, job: NewJob, now: float) -> TickVerdict:
    lease = _leader(conn, now)
    if not lease.held_by(holder) or lease.term != term:
        return TickVerdict.NOT_LEADER
    if tick > now * 1000:
        return TickVerdict.EARLY
    params = {"name": name, "tick": tick}
    if conn.execute(Q["later_tick"], params).fetchone() is not None:
        return TickVerdict.DUPLICATE
    conn.execute(Q["admit_tick"], {**params, "job_id": job.id, "holder": holder, "term": term,
                                   "now": now})
    conn.execute(insert_job, job_row(job._replace(status=Status.PENDING, created_at=now,
                                                   key=None)))
    conn.execute(Q["prune_ticks"], {**params, "keep": TICKS_KEPT})
    return TickVerdict.FIRED
