"""Workflows on SQLite: the queries of ``workflows.sql`` and the resolution that runs in
the same transaction as a job's finish, cancel or reap (the store serialises writers,
so reading then writing inside one transaction is safe)."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Sequence
from typing import Any

from jobq.backends.deps import failure_message, with_results
from jobq.backends.sqlfiles import load_queries
from jobq.backends.sqlflow import Row

W = load_queries("sqlite", "workflows.sql")


class Statements:
    """``sqlflow.Statements`` on a SQLite connection: list parameters go as JSON text."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def rows(self, name: str, **params: Any) -> Sequence[Row]:
        args = {k: json.dumps(v) if isinstance(v, list) else v for k, v in params.items()}
        return self.conn.execute(W[name], args).fetchall()

    def many(self, name: str, rows: list[dict[str, Any]]) -> None:
        self.conn.executemany(W[name], rows)


def settle(conn: sqlite3.Connection, ids: Sequence[str], now: float) -> None:
    """After jobs ``ids`` changed state: release the jobs whose last open dependency just
    succeeded, and fail, transitively, the jobs waiting for one that failed or was
    cancelled. Edges are met once each, so a job finished twice releases nothing twice."""
    if not _waited_on(conn, ids):
        return
    text = json.dumps(list(ids))
    met = Counter(row[0] for row in conn.execute(W["meet"], {"ids": text}).fetchall())
    ready = []
    for job_id, n in met.items():
        left = conn.execute(W["count_down"], {"n": n, "id": job_id}).fetchone()
        if left is not None and left[0] <= 0:
            ready.append(job_id)
    for job_id in ready:
        release(conn, job_id, now)
    cascade(conn, text, now)


def _waited_on(conn: sqlite3.Connection, ids: Sequence[str], chunk: int = 500) -> bool:
    for start in range(0, len(ids), chunk):
        part = ids[start:start + chunk]
        sql = W["waited_on"].replace("{ids}", ",".join("?" * len(part)))
        if conn.execute(sql, tuple(part)).fetchone() is not None:
            return True
    return False


def release(conn: sqlite3.Connection, job_id: str, now: float) -> None:
    """A blocked job with no open dependency becomes pending (or scheduled), with its
    dependencies' results in front of its arguments as its shape says."""
    row = conn.execute(W["to_release"], {"id": job_id}).fetchone()
    if row is None:  # not blocked (cancelled while it waited): it keeps its place
        return
    args = row["args"]
    if row["shape"] is not None:
        results = dict(conn.execute(W["results"], {"id": job_id}).fetchall())
        args = with_results(args, row["shape"], results)
    conn.execute(W["release"], {"id": job_id, "args": args, "now": now})
    conn.execute(W["released"], {"id": job_id})


def cascade(conn: sqlite3.Connection, ids_text: str, now: float) -> None:
    """Fail every blocked job waiting, directly or not, for one of the jobs in
    ``ids_text`` (JSON) that failed or was cancelled, level by level."""
    roots = {r["id"]: r for r in conn.execute(W["failed_roots"], {"ids": ids_text})}
    level = {root: root for root in roots}  # a job of this level -> the root it failed by
    while level:
        found = conn.execute(W["blocked_dependents"], {"ids": json.dumps(list(level))})
        after: dict[str, str] = {}
        changes = []
        for job_id, dep_id, dep_task in found.fetchall():
            if job_id in after:
                continue
            root = roots[level[dep_id]]
            after[job_id] = root["id"]
            changes.append({
                "id": job_id, "now": now, "traceback": root["error_traceback"] or "",
                "message": failure_message(dep_id, dep_task, (
                    root["id"], root["task"], root["status"], root["error_type"],
                    root["error_message"])),
            })
        conn.executemany(W["fail"], changes)
        level = after
