"""The raw-SQLite reference rows of ``jobq bench``.

The same schema, the same SQL and the same pragmas as jobq's SQLite store, driven
straight from ``sqlite3`` with no jobq objects in between: what this machine's SQLite can
do, so the ratio of each jobq figure to it shows jobq's own overhead.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from pathlib import Path

from jobq.backends.sqlfiles import load_migrations, load_queries
from jobq.backends.sqlite import WAL_AUTOCHECKPOINT

_Q = load_queries("sqlite")
_ROW = ("jobq.bench.noop", "default", "[]", "{}", 0, "pending", 1)


def _connect(path: Path, synchronous: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT}")
    return conn


def _open(path: Path, synchronous: str) -> sqlite3.Connection:
    conn = _connect(path, synchronous)
    for migration in load_migrations("sqlite"):
        conn.executescript(migration.sql)
    return conn


def _rows(count: int) -> list[tuple[object, ...]]:
    now = time.time()
    return [(uuid.uuid4().hex, *_ROW, now, now, None, None, 3, None, None, None, 1)
            for _ in range(count)]


def minimal_commits(path: Path, jobs: int, synchronous: str = "normal") -> float:
    """Rows/s inserting into a two-column table, one row per transaction: the floor
    cost of a commit on this machine, with none of jobq's indexes."""
    conn = _connect(path, synchronous)
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, value TEXT NOT NULL)")
    start = time.perf_counter()
    for _ in range(jobs):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t (value) VALUES ('x')")
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return jobs / elapsed


def single_commits(path: Path, jobs: int, synchronous: str = "normal") -> float:
    """Rows/s inserting one job row per transaction."""
    conn = _open(path, synchronous)
    rows = _rows(jobs)
    start = time.perf_counter()
    for row in rows:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(_Q["insert"], row)
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return jobs / elapsed


def batched_inserts(path: Path, jobs: int, batch: int,
                    synchronous: str = "normal") -> float:
    """Rows/s inserting job rows ``batch`` per transaction."""
    conn = _open(path, synchronous)
    rows = _rows(jobs)
    start = time.perf_counter()
    for first in range(0, jobs, batch):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(_Q["insert"], rows[first:first + batch])
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return jobs / elapsed


def claim_and_finish(path: Path, jobs: int, batch: int,
                     synchronous: str = "normal") -> float:
    """Rows/s claiming pending jobs ``batch`` at a time (one transaction) and marking
    them succeeded (a second transaction), as a worker does, in one thread."""
    conn = _open(path, synchronous)
    conn.executemany(_Q["insert"], _rows(jobs))
    claim = _Q["claim"].replace("{queues}", "?").replace("{skip}", "")
    finish = _Q["finish_succeeded"]
    done = 0
    start = time.perf_counter()
    while done < jobs:
        now = time.time()
        token = uuid.uuid4().hex
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(_Q["promote_due"], (now,))
        ids = [r[2] for r in conn.execute(
            claim, (now, "raw", token, now + 30.0, "default", batch, "default", 1, batch)
        ).fetchall()]
        conn.execute("COMMIT")
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(finish, [
            {"id": i, "token": token, "now": now, "result": "null"} for i in ids
        ])
        conn.execute("COMMIT")
        done += len(ids)
    elapsed = time.perf_counter() - start
    conn.close()
    return jobs / elapsed
