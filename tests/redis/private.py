"""A Redis server of the test's own, for what the shared server cannot be used for: seeing
every key there is, and restarting it (the shared one keeps nothing on disk)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import redis

from tests.services import unavailable


class PrivateRedis:
    def __init__(self, folder: Path, appendonly: bool, extra: Sequence[str] = ()) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            unavailable("redis-server", "no redis-server binary on PATH")
        self.binary = str(binary)
        self.folder = folder
        self.appendonly = appendonly
        self.extra = tuple(extra)  # more redis-server options, e.g. ("--maxmemory-policy", …)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1",
                "--dir", str(self.folder), "--save", "",
                "--appendonly", "yes" if self.appendonly else "no",
                "--appendfsync", "always", "--logfile", str(self.folder / "redis.log"),
                *self.extra]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        with self.client() as client:
            self._wait_up(client)

    def _wait_up(self, client: redis.Redis) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + 30
        while True:
            try:
                client.ping()
                # With AOF on, a restarted server answers LOADING until the file is read.
                if client.info("persistence").get("loading", 0) == 0:
                    return
            except redis.exceptions.BusyLoadingError:
                pass
            except redis.ConnectionError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"redis-server exited: {self.log()}") from None
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start: {self.log()}")
            time.sleep(0.02)  # polling a condition (the server is up) with a deadline

    def stop(self) -> None:
        """Stop the server as a crash would: no final save (AOF has what was fsynced)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)
        self.proc = None

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, decode_responses=True,
                           socket_connect_timeout=2)

    def log(self) -> str:
        path = self.folder / "redis.log"
        return path.read_text(errors="replace") if path.exists() else ""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def private_redis(folder: Path, appendonly: bool = False,
                  extra: Sequence[str] = ()) -> Iterator[PrivateRedis]:
    server = PrivateRedis(folder, appendonly, extra)
    server.start()
    try:
        yield server
    finally:
        server.stop()
