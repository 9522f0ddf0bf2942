"""A real ``jobq serve`` in a child process on a free local port, and plain HTTP calls to
it (the standard library's, so the test sees what any client sees)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.waiting import wait_for

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    base: str
    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path

    def output(self) -> str:
        return self.stdout.read_text()

    def call(self, path: str, method: str = "GET", token: str | None = None,
             body: Any = None) -> tuple[int, Any]:
        """(status, decoded JSON body) of one request."""
        headers = {"Accept": "application/json"}
        data = None
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def answers(self) -> bool:
        try:
            return self.call("/api/stats")[0] == 200
        except OSError:
            return False


@contextmanager
def serving(cwd: Path, global_args: Sequence[str], serve_args: Sequence[str] = (),
            env: dict[str, str] | None = None) -> Iterator[Server]:
    """``python -m jobq GLOBAL_ARGS serve --port P SERVE_ARGS``, run from ``cwd``, until
    the block ends; its output goes to files in ``cwd``."""
    port = free_port()
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("JOBQ_")}
    child_env.update(PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1", **(env or {}))
    stdout, stderr = cwd / "serve.stdout", cwd / "serve.stderr"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "jobq", *global_args, "serve", "--port", str(port),
             *serve_args], cwd=cwd, stdout=out, stderr=err, env=child_env)
    server = Server(f"http://127.0.0.1:{port}", process, stdout, stderr)
    try:
        wait_for(lambda: process.poll() is not None or server.answers(), timeout=90,
                 interval=0.1, what="jobq serve to answer")
        if process.poll() is not None:
            raise AssertionError(f"jobq serve exited {process.returncode}: "
                                 f"{stderr.read_text()}")
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
