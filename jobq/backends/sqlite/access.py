"""How the SQLite store is reached: its queries, the file's one connection per process
(dropped in a forked child), the IMMEDIATE transactions every write runs in, and the
schema check on first use. The store's methods build on ``SQLiteAccess``."""

from __future__ import annotations

import os
import sqlite3
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

from jobq.backends.admission import HeldWake
from jobq.backends.sqlfiles import load_queries
from jobq.backends.sqlite import schema
from jobq.backends.sqlite.files import is_store_error, sqlite_path, store_error
from jobq.config import Settings
from jobq.errors import BackendError, ConfigError

Q = load_queries("sqlite")
_SYNC_MODES = ("off", "normal", "full", "extra")
# WAL pages between automatic checkpoints (SQLite's default is 1,000). Fewer, larger
# checkpoints copy each hot page (the growing ends of the indexes) once instead of many
# times, and sync less often, which speeds up single enqueues. Durability is
# unchanged; the WAL file grows to about 40 MB before it is reused.
WAL_AUTOCHECKPOINT = 10_000


# Stores living in this process: a forked child drops their connections (see conn).
_OPEN: weakref.WeakSet[SQLiteAccess] = weakref.WeakSet()
# Connections a forked child inherited: kept, never used nor closed, as SQLite asks.
_INHERITED: list[sqlite3.Connection] = []


def _forget_connections() -> None:
    for backend in list(_OPEN):
        backend._after_fork()


# A hook rather than a pid check per transaction: it also replaces the lock, which a
# parent's thread may have held at the fork.
os.register_at_fork(after_in_child=_forget_connections)


class _Write:
    """One IMMEDIATE transaction, holding the process-local lock.

    A class rather than a generator context manager: it runs around every write, and
    two nested generator ones cost measurably more per transaction."""

    __slots__ = ("backend", "conn")

    def __init__(self, backend: SQLiteAccess) -> None:
        self.backend = backend

    def __enter__(self) -> sqlite3.Connection:
        backend = self.backend
        try:
            conn = self.conn = backend.conn
            backend._lock.acquire()
            try:
                conn.execute("BEGIN IMMEDIATE")
            except BaseException:
                backend._lock.release()
                raise
        except sqlite3.DatabaseError as exc:
            if is_store_error(exc):
                raise store_error(backend.url, backend.path, exc) from exc
            raise
        return conn

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn, backend = self.conn, self.backend
        raised = exc  # what the body raised; None when it returned
        try:
            if exc is None:
                try:
                    conn.execute("COMMIT")
                    return
                except BaseException as failed:
                    exc = failed
            # Also after a failed COMMIT: an open transaction would block every later
            # write on this connection.
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        except sqlite3.DatabaseError as failed:  # the ROLLBACK itself failed
            exc = failed
        finally:
            backend._lock.release()
        if is_store_error(exc):
            raise store_error(backend.url, backend.path, exc) from exc  # type: ignore[arg-type]
        if exc is not raised:
            raise exc


class SQLiteAccess:
    """One SQLite file: one connection per process, shared under a lock."""

    def __init__(self, settings: Settings, *, busy_timeout: float = 60.0) -> None:
        self.url = url = settings.url
        self.path, options = sqlite_path(url)
        sync = options.get("synchronous", "normal").lower()
        if sync not in _SYNC_MODES:
            raise ConfigError(f"{url!r}: synchronous must be one of {_SYNC_MODES}, got {sync!r}")
        self._synchronous = sync
        self._limit_wait = HeldWake()
        self._busy_timeout = busy_timeout
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._data_version = -1
        _OPEN.add(self)

    # -- connection -------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        parent = Path(self.path).parent
        if not parent.exists():
            raise BackendError(f"cannot open {self.url}: folder {str(parent)!r} does not exist")
        try:
            conn = sqlite3.connect(
                self.path, timeout=self._busy_timeout, isolation_level=None,
                check_same_thread=False,
            )
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={self._synchronous}")
            conn.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT}")
            conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.DatabaseError as exc:
            raise BackendError(f"cannot open {self.url}: {exc}") from exc
        return conn

    @property
    def conn(self) -> sqlite3.Connection:
        conn = self._conn
        if conn is None:
            with self._lock:
                if self._conn is None:
                    conn = self._connect()
                    self._ensure_schema(conn)
                    self._conn = conn
                conn = self._conn
        return conn

    def _after_fork(self) -> None:
        # A forked child must not use its parent's connection (nor close it: the parent
        # still does), nor wait on a lock a parent's thread held at the fork.
        if self._conn is not None:
            _INHERITED.append(self._conn)
        self._conn = None
        self._lock = threading.RLock()

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """SQLite's own errors surface as ``BackendError`` (see ``store_error``)."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            if is_store_error(exc):
                raise store_error(self.url, self.path, exc) from exc
            raise

    def _write(self) -> _Write:
        """One IMMEDIATE transaction, holding the process-local lock."""
        return _Write(self)

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._errors():
            conn = self.conn
            with self._lock:
                yield conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
            self._conn = None

    # -- schema (jobq/backends/sqlite/schema.py) ---------------------------------------

    def _ensure_schema(self, conn: sqlite3.Connection) -> None:
        # The embedded store belongs to this application: create and upgrade it on first use.
        try:
            version = schema.schema_version(conn)
        except sqlite3.DatabaseError as exc:
            raise BackendError(f"{self.url} is not a usable SQLite database: {exc}") from exc
        if version < schema.SCHEMA_VERSION:
            with self._lock:
                schema.apply_migrations(conn)
        elif (problem := schema.refusal(version, self.url)) is not None:
            raise problem

    def migrate(self) -> int:
        with self._errors():
            conn = self.conn
            with self._lock:
                return schema.apply_migrations(conn)

    def exists(self) -> bool:
        memory = self.path == ":memory:" or self.path.startswith("file:")
        return memory or Path(self.path).exists()

    def check_schema(self) -> None:
        with self._read() as conn:
            version = schema.schema_version(conn)
        problem = schema.refusal(version, self.url)
        if problem is not None:
            raise problem
