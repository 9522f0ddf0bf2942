"""Connections for the PostgreSQL store: a lazy, fork-aware pool and one LISTEN thread.

Nothing here connects at import or construction time. Every psycopg error leaves this
module as a ``BackendError`` (``SchemaError`` when jobq's tables are missing) whose
message names the server with its password hidden; the worker treats those as
transient and tries again, so a restarted server costs latency, not jobs.
"""

from __future__ import annotations

import logging
import re
import select
import selectors
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any
from urllib.parse import urlsplit

import psycopg
from psycopg import pq
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool

from jobq.backends.policy import ProcessBound
from jobq.backends.postgres.schema import missing_schema_message
from jobq.backends.waiters import Waiters
from jobq.config import redact_url
from jobq.errors import BackendError, ConfigError, SchemaError

log = logging.getLogger("jobq.postgres")

Connection = psycopg.Connection[Any]

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
MISSING = (psycopg.errors.UndefinedTable, psycopg.errors.InvalidSchemaName)
# Pools are dropped, never closed, in a forked child: closing would end the parent's
# sessions on the shared sockets. Keeping a reference stops the child's GC touching them.
_ORPHANS: list[object] = []


CONNECT_TIMEOUT = 5


def quote_schema(schema: str) -> str:
    """The schema as a quoted SQL identifier; anything but a plain name is refused."""
    if not isinstance(schema, str) or not _IDENTIFIER.match(schema):
        raise ConfigError(
            f"schema={schema!r} is not a usable PostgreSQL schema name; use letters, digits "
            "and underscores, starting with a letter, at most 63 characters (e.g. jobq)"
        )
    return f'"{schema}"'


def channel_for(schema: str) -> str:
    """The LISTEN/NOTIFY channel of a schema: one per store, so stores never wake each other."""
    return f"jobq.{schema}"[:63]


def connect_options(url: str) -> dict[str, Any]:
    """Connection keywords jobq adds unless the URL sets them itself."""
    try:
        given = conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        password = urlsplit(url).password
        detail = one_line(exc).replace(password, "***") if password else one_line(exc)
        raise ConfigError(f"{redact_url(url)} is not a valid PostgreSQL URL: {detail}") from None
    options: dict[str, Any] = {"autocommit": True}
    if "connect_timeout" not in given:
        # A host that does not answer, or answers as something else, is named in seconds.
        options["connect_timeout"] = CONNECT_TIMEOUT
    if "application_name" not in given:
        options["application_name"] = "jobq"
    return options


@contextmanager
def translated(url: str, schema: str) -> Iterator[None]:
    """Turn psycopg errors into jobq's: SchemaError for missing tables, else BackendError."""
    try:
        yield
    except MISSING as exc:
        raise SchemaError(missing_schema_message(url, schema, exc)) from exc
    except psycopg.Error as exc:
        raise BackendError(f"PostgreSQL at {redact_url(url)}: {one_line(exc)}") from exc


def one_line(exc: BaseException) -> str:
    """A psycopg message (often several lines: the error, DETAIL, HINT) on one line."""
    return " ".join(line.strip() for line in str(exc).splitlines() if line.strip()) or (
        type(exc).__name__)


def _readable(fd: int) -> bool:
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(fd, select.POLLIN | select.POLLERR | select.POLLHUP)
        return bool(poller.poll(0))
    return bool(select.select([fd], [], [], 0)[0])


def is_alive(conn: Connection) -> bool:
    """Whether an idle connection is usable, judged without a round trip.

    An idle connection has nothing to read unless the server has spoken on its own:
    almost always to say it is closing it (a restart, ``pg_terminate_backend``).
    """
    if conn.closed or conn.pgconn.status != pq.ConnStatus.OK:
        return False
    return not _readable(conn.pgconn.socket)


class Pool:
    """A psycopg pool opened on first use, and reopened in a forked child."""

    def __init__(self, url: str, schema: str, max_size: int = 4, timeout: float = 10.0) -> None:
        self.url = url
        self.schema = schema
        self.options = connect_options(url)
        self._max_size = max_size
        self._timeout = timeout
        self._lock = threading.Lock()
        self._pool: ConnectionPool[Connection] | None = None
        self._owner = ProcessBound()

    def _open(self) -> ConnectionPool[Connection]:
        # One direct connection first: if the server cannot be reached, say why at once
        # instead of letting the pool retry in the background until its timeout.
        with translated(self.url, self.schema):
            try:
                psycopg.connect(self.url, **self.options).close()
            except psycopg.OperationalError as exc:
                raise BackendError(
                    f"cannot connect to PostgreSQL at {redact_url(self.url)}: {one_line(exc)}"
                ) from exc
            pool: ConnectionPool[Connection] = ConnectionPool(
                self.url, min_size=1, max_size=self._max_size, kwargs=self.options,
                timeout=self._timeout, open=False, name="jobq",
            )
            pool.open()
        return pool

    def get(self) -> ConnectionPool[Connection]:
        pool = self._pool
        if pool is not None and self._owner.mine():
            return pool
        with self._lock:
            if self._pool is not None and not self._owner.mine():
                _ORPHANS.append(self._pool)  # the parent's: never use, never close
                self._pool = None
            if self._pool is None:
                self._pool = self._open()
                self._owner.bind()
            return self._pool

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """A pooled autocommit connection; psycopg errors come out as BackendError."""
        with translated(self.url, self.schema):
            pool = self.get()
            conn = self._live_connection(pool)
            try:
                yield conn
            finally:
                pool.putconn(conn)

    def _live_connection(self, pool: ConnectionPool[Connection]) -> Connection:
        # Dead connections are closed and handed back, and the pool replaces them. (Not
        # the pool's own ``check``: a failed check makes it back off for seconds, which
        # starves a worker while sessions keep being terminated.)
        for _ in range(self._max_size):
            conn = pool.getconn()
            if is_alive(conn):
                return conn
            conn.close()
            pool.putconn(conn)
        return pool.getconn()

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
            if pool is not None and self._owner.mine():
                pool.close()
            elif pool is not None:
                _ORPHANS.append(pool)


class Listener:
    """A thread holding one LISTEN connection; notifications wake ``wait`` callers.

    After each (re)connection it asks ``has_work`` whether jobs are already waiting, and
    wakes everyone if so, so a notification lost while disconnected costs nothing more
    than the waiters' poll interval.
    """

    def __init__(self, url: str, channel: str,
                 has_work: Callable[[Connection], bool]) -> None:
        self.url = url
        self.channel = channel
        self._has_work = has_work
        self._options = connect_options(url)
        self._waiters = Waiters()
        # The wake-ups up to this mark are spent: by a claim (which saw their jobs) or by
        # a wait that returned on them.
        self._mark = 0
        self._ready = threading.Event()
        self._stopping = threading.Event()
        self._wakeup_r, self._wakeup_w = socket.socketpair()  # close() interrupts the wait
        self._thread = threading.Thread(target=self._run, name="jobq-listen", daemon=True)
        self._thread.start()

    # -- callers ------------------------------------------------------------------------

    def wait(self, timeout: float, wake: threading.Event | None) -> None:
        """Return on a notification, when ``wake`` is set, or after ``timeout`` seconds."""
        event = wake if wake is not None else threading.Event()
        if not self._ready.is_set():
            # The first wait: start listening before deciding there is nothing to do.
            self._ready.wait(timeout)
        mark, self._mark = self._mark, self._waiters.generation
        self._waiters.wait(mark, timeout, event)

    def claiming(self) -> None:
        """A claim is starting: notifications from here on mean new work."""
        self._mark = self._waiters.generation

    def close(self) -> None:
        self._stopping.set()
        with suppress(OSError):
            self._wakeup_w.send(b"x")
        if self._thread is not threading.current_thread():
            self._thread.join(5.0)
        self._wakeup_r.close()
        self._wakeup_w.close()

    # -- the thread ---------------------------------------------------------------------

    def _signal(self) -> None:
        self._waiters.signal()

    def _run(self) -> None:
        delay = 0.1
        while not self._stopping.is_set():
            try:
                with psycopg.connect(self.url, **self._options) as conn:
                    # Notifications that arrive during a query reach this handler.
                    conn.add_notify_handler(lambda _: self._signal())
                    conn.execute(f'LISTEN "{self.channel}"')
                    if self._has_work(conn):
                        self._signal()
                    self._ready.set()
                    delay = 0.1
                    self._pump(conn)
            except Exception as exc:  # whatever it was: log, let waiters poll, reconnect
                if self._stopping.is_set():
                    return
                log.warning("LISTEN connection to %s lost (%s); reconnecting in %.1fs",
                            redact_url(self.url), one_line(exc), delay,
                            extra={"action": "listen_error"})
                self._signal()  # let waiters poll while notifications may be missed
            self._stopping.wait(delay)
            delay = min(delay * 2, 5.0)

    def _pump(self, conn: Connection) -> None:
        pgconn = conn.pgconn
        with selectors.DefaultSelector() as selector:
            selector.register(pgconn.socket, selectors.EVENT_READ)
            selector.register(self._wakeup_r, selectors.EVENT_READ)
            while not self._stopping.is_set():
                events = selector.select(15.0)
                if self._stopping.is_set():
                    return
                if not events:
                    conn.execute("SELECT 1")  # quiet for a while: prove the connection lives
                    continue
                pgconn.consume_input()  # raises OperationalError once the server has gone
                if pgconn.status != pq.ConnStatus.OK:
                    raise psycopg.OperationalError("the LISTEN connection was closed")
                woken = False
                while pgconn.notifies() is not None:
                    woken = True
                if woken:
                    self._signal()
