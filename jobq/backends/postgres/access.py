"""How the PostgreSQL store is reached: its queries for one schema, the pooled
connections (``conn.py``), and the schema check each process makes before its first use
(``schema.py``). The store's methods build on ``PostgresAccess``."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from jobq.backends.admission import HeldWake
from jobq.backends.policy import ProcessBound
from jobq.backends.postgres import periodic, workflows
from jobq.backends.postgres.conn import Connection, Listener, Pool, channel_for, quote_schema
from jobq.backends.postgres.schema import apply_migrations, refusal, schema_version
from jobq.backends.sqlfiles import load_queries
from jobq.config import Settings, redact_url

QUERIES = load_queries("postgres")


class PostgresAccess:
    """A small connection pool plus, in workers, one LISTEN connection. Safe to share
    between threads; a forked child opens its own connections."""

    def __init__(self, settings: Settings, *, pool_size: int = 4) -> None:
        self.url = url = settings.url
        self.schema = schema = settings.schema
        self._quoted = quote_schema(schema)
        self.q = {name: sql.replace("{schema}", self._quoted) for name, sql in QUERIES.items()}
        self._periodic_q = periodic.queries(self._quoted)
        self.wq = workflows.queries(self._quoted)
        self.channel = channel_for(schema)
        self._pool = Pool(url, schema, max_size=pool_size)
        self._lock = threading.Lock()
        self._listener: Listener | None = None
        self._listener_owner = ProcessBound()
        self._limit_wait = HeldWake()
        self._limits_seen = False  # the last claim took limited jobs: admit in its round trip
        self._checked = ProcessBound()  # the process that found the schema at our version

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {redact_url(self.url)} schema={self.schema}>"

    @contextmanager
    def _conn(self) -> Iterator[Connection]:
        """A pooled connection, once this process has seen the schema at our version."""
        if not self._checked.mine():
            self.check_schema()
        with self._pool.connection() as conn:
            yield conn

    def exists(self) -> bool:
        with self._pool.connection() as conn:
            return schema_version(conn, self._quoted) > 0

    def check_schema(self) -> None:
        with self._pool.connection() as conn:
            version = schema_version(conn, self._quoted)
        problem = refusal(version, self.url, self.schema)
        if problem is not None:
            raise problem
        self._checked.bind()

    def migrate(self) -> int:
        with self._pool.connection() as conn:
            version = apply_migrations(conn, self.url, self.schema, self._quoted)
        self._checked.bind()
        return version

    def close(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
        if listener is not None and self._listener_owner.mine():
            listener.close()
        self._pool.close()
