"""The SQLite store's schema: its version and the migrations that build it.

The embedded store belongs to the application, so it is created and upgraded on first
use; the migrations run in one ``BEGIN IMMEDIATE`` transaction with the versions they
record."""

from __future__ import annotations

import sqlite3
import time

from jobq.backends.policy import schema_refusal
from jobq.backends.sqlfiles import load_migrations
from jobq.errors import SchemaError

MIGRATIONS = load_migrations("sqlite")
SCHEMA_VERSION = MIGRATIONS[-1].version


def schema_version(conn: sqlite3.Connection) -> int:
    """The version recorded in the file; 0 when jobq's tables are not there."""
    row = conn.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name='jobq_schema'"
    ).fetchone()
    if row is None:
        return 0
    return int(conn.execute("SELECT MAX(version) FROM jobq_schema").fetchone()[0] or 0)


def refusal(version: int, url: str) -> SchemaError | None:
    """Why a file at ``version`` cannot be used, or None when it can."""
    return schema_refusal(url, version, SCHEMA_VERSION, "run `jobq migrate`")


def apply_migrations(conn: sqlite3.Connection) -> int:
    """Bring the file up to this jobq's version; the caller holds the store's lock."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS jobq_schema "
            "(version INTEGER PRIMARY KEY, applied_at REAL NOT NULL)"
        )
        current = schema_version(conn)
        for migration in MIGRATIONS:
            if migration.version > current:
                for statement in migration.sqlite_statements():
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO jobq_schema VALUES (?, ?)",
                    (migration.version, time.time()),
                )
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return SCHEMA_VERSION
