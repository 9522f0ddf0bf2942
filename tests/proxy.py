"""A small TCP proxy for fault tests: clients connect to ``proxy.port`` and are relayed to
the server. ``cut()`` resets every relayed connection and refuses new ones (a link that
is down) until ``heal()``. ``stop_server_after_first_reply(pid)`` lets exactly one
command through, SIGSTOPs the server once its reply comes back, then hands the server
the rest (a server that froze after one command). One proxy per test; ``close()`` it.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import socket
import struct
import threading
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends a reset


def _reset(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
    sock.close()


def command_length(data: bytes) -> int | None:
    """The length of the first complete RESP command (``*N`` bulk strings) in ``data``."""
    end = data.find(b"\r\n")
    if not data.startswith(b"*") or end < 0:
        return None
    at = end + 2
    for _ in range(int(data[1:end])):
        end = data.find(b"\r\n", at)
        if end < 0:
            return None
        at = end + 2 + int(data[at + 1:end]) + 2
    return at if at <= len(data) else None


class Proxy:
    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self._target = (parts.hostname or "127.0.0.1", parts.port or 0)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.url = urlunsplit(parts._replace(netloc=parts.netloc.replace(
            f":{parts.port}", f":{self.port}")))
        self._cut = threading.Event()
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._freeze: Callable[[], None] | None = None
        threading.Thread(target=self._accept, name="proxy-accept", daemon=True).start()

    # -- the test's controls --------------------------------------------------------------

    def cut(self) -> None:
        self._cut.set()
        with self._lock:
            sockets, self._open = self._open, set()
        for sock in sockets:
            _reset(sock)

    def heal(self) -> None:
        self._cut.clear()

    def stop_server_after_first_reply(self, pid: int) -> None:
        """The next command any client sends goes through alone; once the server's reply
        comes back, the server gets SIGSTOP, then whatever that client sent after it."""
        with self._lock:
            self._freeze = lambda: os.kill(pid, signal.SIGSTOP)

    def _take_freeze(self) -> Callable[[], None] | None:
        with self._lock:
            freeze, self._freeze = self._freeze, None
        return freeze

    def close(self) -> None:
        self._closed.set()
        self.cut()
        self._listener.close()

    # -- relaying ---------------------------------------------------------------------------

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self._cut.is_set():
                _reset(client)
                continue
            try:
                server = socket.create_connection(self._target, timeout=10)
                server.settimeout(None)
            except OSError:
                _reset(client)
                continue
            with self._lock:
                self._open |= {client, server}
            gate = _Gate(server, self._take_freeze)
            for src, dst, up in ((client, server, True), (server, client, False)):
                threading.Thread(target=self._pump, args=(src, dst, gate, up),
                                 name="proxy-pump", daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, gate: _Gate, up: bool) -> None:
        try:
            while data := src.recv(65536):
                if up:
                    data = gate.outgoing(data)
                else:
                    gate.reply_seen()
                if data:
                    dst.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._open -= {src, dst}
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()


class _Gate:
    """One connection's hold on its traffic to the server. Once it takes the proxy's armed
    freeze, it lets one RESP command through and holds the rest; when the reply comes it
    freezes the server, and a thread of its own hands the server what was held and what
    follows (blocking, if it must, on the stopped server's full socket: never the pump
    that carries the reply to the client)."""

    def __init__(self, server: socket.socket, take: Callable[[], Callable[[], None] | None]
                 ) -> None:
        self._server = server
        self._take = take
        self._freeze: Callable[[], None] | None = None
        self._lock = threading.Lock()
        self._seen = b""
        self._held: bytes | None = None  # None until the first command has gone through
        self._later: queue.SimpleQueue[bytes] | None = None

    def outgoing(self, data: bytes) -> bytes:
        with self._lock:
            if self._later is not None:
                self._later.put(data)
                return b""
            if self._freeze is None and self._held is None:
                self._freeze = self._take()
            if self._freeze is None:
                return data
            if self._held is not None:
                self._held += data
                return b""
            self._seen += data
            length = command_length(self._seen)
            if length is None:
                return b""
            first, self._held = self._seen[:length], self._seen[length:]
            return first

    def reply_seen(self) -> None:
        with self._lock:
            if self._freeze is None or self._held is None or self._later is not None:
                return
            self._freeze()
            self._later = queue.SimpleQueue()
            self._later.put(self._held)
        threading.Thread(target=self._send_later, name="proxy-later", daemon=True).start()

    def _send_later(self) -> None:
        assert self._later is not None
        with contextlib.suppress(OSError):
            while True:
                self._server.sendall(self._later.get())
