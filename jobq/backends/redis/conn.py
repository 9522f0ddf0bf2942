"""Connections and scripts for the Redis backend.

Commands go straight through redis-py ``Connection`` objects kept in a small per-process
stack: redis-py's full client path costs more than the round trip itself, and jobq needs
one round trip per enqueue to stay fast. Every call is retried after a dropped connection
with its ``replay`` flag set, so a script whose reply was lost can recognise its own
earlier work instead of doing it twice (see the scripts in ``lua/``).
"""

from __future__ import annotations

import difflib
import hashlib
import inspect
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any, Protocol, TypeVar, cast

import redis
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError
from redis.retry import Retry

from jobq.backends.policy import ProcessBound
from jobq.backends.redis.scriptcheck import check_script
from jobq.config import redact_url
from jobq.errors import BackendError, ConfigError

T = TypeVar("T")
Build = Callable[[bool], Sequence[Any]]  # a script's arguments, given whether it is a re-send

# Errors after which the connection is dropped and the call tried again.
TRANSIENT: tuple[type[BaseException], ...] = (redis.ConnectionError, redis.TimeoutError, OSError)
# Reconnect at once (a killed connection), then back off a little (a restarting server);
# after that the caller hears BackendError and its own loop tries again later.
RETRY_DELAYS = (0.0, 0.05, 0.25, 0.5)
SOCKET_TIMEOUT = 30.0
# A new connection's TCP connect, TLS handshake and first reply each get this long: a
# server that is unreachable, or does not speak Redis (or TLS) there, is named at once.
CONNECT_TIMEOUT = 5.0


class Conn(Protocol):
    """The part of a redis-py ``Connection`` jobq uses (redis-py leaves it untyped)."""

    pid: int
    socket_timeout: float | None

    def connect(self) -> None: ...
    def send_packed_command(self, command: Any, check_health: bool = True) -> None: ...
    def read_response(self, *args: Any, **kwargs: Any) -> Any: ...
    def disconnect(self, *args: Any) -> None: ...


@dataclass(frozen=True)
class Script:
    """A Lua script, prefixed with ``lib.lua``, and its SHA1 for EVALSHA."""

    name: str
    text: str
    sha: str


def same_args(args: Sequence[Any]) -> Build:
    """Script arguments that stay the same when the call is re-sent."""
    return lambda _replay: args


# Helper files put in front of every script, in this order; the others are scripts.
LIBRARIES = ("lib.lua", "lib_workflow.lua")


@cache
def load_scripts() -> dict[str, Script]:
    """Every script in ``lua/`` by name, each with the shared helpers in front."""
    return read_scripts(resources.files("jobq.backends.redis").joinpath("lua"))


def read_scripts(folder: Traversable) -> dict[str, Script]:
    """The scripts in ``folder``, each checked against the transitions its header
    declares (``IllegalTransition`` for one that breaks the state machine or moves jobs
    along an edge it does not declare), with the helpers in front."""
    libraries = [(name, folder.joinpath(name).read_text(encoding="utf-8"))
                 for name in LIBRARIES]
    for name, text in libraries:
        check_script(name, text)
    lib = "\n".join(text for _, text in libraries)
    scripts = {}
    for entry in folder.iterdir():
        if entry.name.endswith(".lua") and entry.name not in LIBRARIES:
            own = entry.read_text(encoding="utf-8")
            check_script(entry.name, own)
            text = lib + "\n" + own
            name = entry.name[:-4]
            scripts[name] = Script(name, text, hashlib.sha1(text.encode()).hexdigest())
    return scripts


def set_read_timeout(conn: Conn, seconds: float | None) -> None:
    """Give a connected connection's socket the timeout its commands run under.

    redis-py applies ``socket_timeout`` only when it connects, and its own setter differs
    between versions (in 8.x, called without an argument, it clears the timeout and leaves
    the socket blocking for ever), so the socket is set here, where a test holds it.
    """
    conn.socket_timeout = seconds
    sock = getattr(conn, "_sock", None)
    if sock is not None:
        sock.settimeout(seconds)
    buffer = getattr(getattr(conn, "_parser", None), "_buffer", None)
    if buffer is not None and hasattr(buffer, "socket_timeout"):
        buffer.socket_timeout = seconds  # what the parser restores after a custom read


class Connections:
    """Connections to one Redis server for one process; thread-safe.

    Nothing connects until the first command. A forked child never touches its parent's
    sockets: it notices the new process id and opens its own.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.safe_url = redact_url(url)
        try:
            pool = redis.ConnectionPool.from_url(
                # RESP2: the reply shapes the scripts and parsers here expect, on any server.
                # Bytes that are not UTF-8 (a foreign value) must not make a read fail.
                url, protocol=2, decode_responses=True, encoding_errors="replace",
                socket_connect_timeout=5.0,
                socket_timeout=SOCKET_TIMEOUT, socket_keepalive=True,
                retry=Retry(NoBackoff(), 0),  # jobq retries itself, knowing what is safe
            )
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"bad Redis URL {self.safe_url!r}: {exc}") from None
        self._class: Callable[..., Any] = pool.connection_class
        # The URL's query may set options too; these two the parsers here depend on.
        self._kwargs: dict[str, Any] = {**pool.connection_kwargs, "protocol": 2,
                                        "decode_responses": True}
        self._check_options()
        self._idle: list[Conn] = []
        self._owner = ProcessBound(bound=True)
        self._lock = threading.Lock()

    def _check_options(self) -> None:
        """Refuse an option in the URL's query that Redis connections do not take (a
        typo such as ``?socket_timout=5``), naming the nearest; making a connection
        object connects nothing."""
        try:
            self._class(**self._kwargs)
        except TypeError as exc:
            given = str(exc).rpartition("argument ")[2].strip("'\"")
            valid = sorted({name for cls in getattr(self._class, "__mro__", ())
                            if "__init__" in vars(cls)
                            for name in inspect.signature(vars(cls)["__init__"]).parameters
                            if name not in ("self", "args", "kwargs")})
            near = difflib.get_close_matches(given, valid, n=1)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            raise ConfigError(f"bad Redis URL {self.safe_url!r}: unknown option {given!r} in "
                              f"its query{hint}") from None

    def new_connection(self, socket_timeout: float | None = None) -> Conn:
        """A connection of its own (not pooled), connected, and named after this process
        so operators and tests can tell jobq's clients apart in CLIENT LIST."""
        kwargs = {**self._kwargs, "client_name": f"jobq-{os.getpid()}",
                  "socket_timeout": CONNECT_TIMEOUT}
        conn = cast(Conn, self._class(**kwargs))
        conn.connect()
        set_read_timeout(conn, self._kwargs.get("socket_timeout") if socket_timeout is None
                         else socket_timeout)
        return conn

    def _take(self) -> Conn:
        if not self._owner.mine():
            with self._lock:
                if not self._owner.mine():
                    self._idle = []  # the parent's sockets stay the parent's
                    self._owner.bind()
        try:
            return self._idle.pop()
        except IndexError:
            return self.new_connection()

    def _give(self, conn: Conn) -> None:
        if conn.pid == os.getpid():
            self._idle.append(conn)

    def run(self, action: Callable[[Conn, bool], T]) -> T:
        """Run ``action(connection, replay)``; ``replay`` is True when an earlier try may
        have reached the server before its connection dropped."""
        last: BaseException | None = None
        for attempt, delay in enumerate(RETRY_DELAYS):
            if delay:
                time.sleep(delay)
            try:
                conn = self._take()
            except redis.TimeoutError as exc:  # nothing answers there as Redis would
                raise BackendError(f"cannot reach Redis at {self.safe_url}: no answer within "
                                   f"{CONNECT_TIMEOUT:g}s ({exc}); check the host, the port "
                                   "and redis:// against rediss:// (TLS)") from exc
            except TRANSIENT as exc:  # refused: a server restarting, say
                last = exc
                continue
            except redis.RedisError as exc:
                raise BackendError(f"Redis at {self.safe_url} refused: {exc}") from exc
            try:
                result = action(conn, attempt > 0)
            except TRANSIENT as exc:
                conn.disconnect()
                self._give(conn)
                last = exc
                continue
            except redis.RedisError as exc:
                self._give(conn)
                raise BackendError(f"Redis at {self.safe_url} refused: {exc}") from exc
            except BaseException:
                conn.disconnect()  # interrupted mid-reply: the stream is out of step
                raise
            self._give(conn)
            return result
        raise BackendError(f"cannot reach Redis at {self.safe_url}: {last}") from last

    def command(self, *args: Any) -> Any:
        """One command, retried after a dropped connection (reads and idempotent writes)."""
        return self.run(lambda conn, _replay: execute(conn, *args))

    def pipeline(self, commands: Sequence[Sequence[Any]]) -> list[Any]:
        """Several commands in one round trip; an error reply comes back as its exception."""
        return self.run(lambda conn, _replay: pipeline(conn, commands))

    def script(self, script: Script, build: Callable[[bool], Sequence[Any]]) -> Any:
        """EVALSHA ``script`` with the arguments ``build(replay)`` returns."""
        return self.run(lambda conn, replay: evalsha(conn, script, build(replay)))

    def scripts(self, script: Script, builds: Callable[[], Iterable[Build]],
                on_reply: Callable[[int, Any], None] | None = None) -> list[Any]:
        """EVALSHA ``script`` once per entry of ``builds()``, pipelined: each call is sent
        as soon as its arguments are built, so the server runs one while the next is built.
        A re-send after a dropped connection calls ``builds()`` again. ``on_reply(i,
        reply)`` hears each call's reply as it is read, so a caller whose connection
        failed part way knows which calls the server confirmed."""
        return self.run(
            lambda conn, replay: evalsha_many(conn, script, builds(), replay, on_reply))

    def close(self) -> None:
        idle, self._idle = self._idle, []
        if self._owner.mine():
            for conn in idle:
                conn.disconnect()


def pack(args: Sequence[Any]) -> bytes:
    """One command in RESP, for text and integer arguments: faster than redis-py's
    general packer, which shows at one round trip per enqueue."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg.encode() if isinstance(arg, str) else str(arg).encode()
        out.append(b"$%d\r\n%b\r\n" % (len(data), data))
    return b"".join(out)


def execute(conn: Conn, *args: Any) -> Any:
    conn.send_packed_command([pack(args)])
    return conn.read_response()


def pipeline(conn: Conn, commands: Sequence[Sequence[Any]]) -> list[Any]:
    conn.send_packed_command([b"".join(pack(command) for command in commands)])
    replies: list[Any] = []
    for _ in commands:
        try:
            replies.append(conn.read_response())
        except redis.ResponseError as exc:  # keep reading: the stream stays in step
            replies.append(exc)
    return replies


def evalsha(conn: Conn, script: Script, args: Sequence[Any]) -> Any:
    """Call a script by SHA; after a server restart or SCRIPT FLUSH, load it and call
    again (NOSCRIPT means it did not run)."""
    try:
        return execute(conn, "EVALSHA", script.sha, 0, *args)
    except NoScriptError:
        execute(conn, "SCRIPT", "LOAD", script.text)
        return execute(conn, "EVALSHA", script.sha, 0, *args)


def evalsha_many(conn: Conn, script: Script, builds: Iterable[Build], replay: bool,
                 on_reply: Callable[[int, Any], None] | None = None) -> list[Any]:
    """Pipelined ``evalsha`` calls; every reply is read before any error is raised, so the
    stream stays in step. Calls that found the script missing (NOSCRIPT: they did not
    run) are sent again, in order, after loading it. ``on_reply`` hears each good reply
    with its call's position as soon as it is read."""
    sent = []
    for build in builds:
        args = build(replay)
        conn.send_packed_command([pack(("EVALSHA", script.sha, 0, *args))])
        sent.append(args)
    replies: list[Any] = []
    for i in range(len(sent)):
        try:
            replies.append(conn.read_response())
        except redis.ResponseError as exc:
            replies.append(exc)
            continue
        if on_reply is not None:
            on_reply(i, replies[i])
    missing = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
    if missing:
        execute(conn, "SCRIPT", "LOAD", script.text)
        for i in missing:
            replies[i] = execute(conn, "EVALSHA", script.sha, 0, *sent[i])
            if on_reply is not None:
                on_reply(i, replies[i])
    for reply in replies:
        if isinstance(reply, redis.ResponseError):
            raise reply
    return replies
