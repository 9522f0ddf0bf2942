"""Workflows on PostgreSQL: the queries of ``workflows.sql`` for the steps shared with
SQLite (``jobq.backends.sqlflow``). The resolution after a finish, cancel or reap is the
server-side function ``jobq_settle`` (migration 2), sent in the same pipeline as the
change itself: one round trip, one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg.rows import dict_row

from jobq.backends.postgres.conn import Connection
from jobq.backends.sqlfiles import load_queries
from jobq.backends.sqlflow import Row

QUERIES = load_queries("postgres", "workflows.sql")


def queries(quoted_schema: str) -> dict[str, str]:
    return {name: sql.replace("{schema}", quoted_schema) for name, sql in QUERIES.items()}


class Statements:
    """``sqlflow.Statements`` on a psycopg connection (inside a transaction). ``many``
    sends one statement with an array per column."""

    def __init__(self, conn: Connection, q: dict[str, str]) -> None:
        self.conn = conn
        self.q = q

    def rows(self, name: str, **params: Any) -> Sequence[Row]:
        cur = self.conn.cursor(row_factory=dict_row)
        return cur.execute(self.q[name], params).fetchall()

    def many(self, name: str, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.conn.execute(self.q[name], {key: [r[key] for r in rows] for key in rows[0]})
