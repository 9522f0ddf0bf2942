"""A Redis server that stops answering (SIGSTOP: a hung host, a full swap) is named as an
error within the URL's ``socket_timeout``; no call of jobq's waits on it for ever."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytest

import jobq
from jobq.errors import BackendError
from tests.redis.private import private_redis
from tests.services import unique_name

pytestmark = pytest.mark.slow


def test_a_call_to_a_frozen_server_fails_instead_of_hanging(tmp_path: Path) -> None:
    pytest.importorskip("redis")
    with private_redis(tmp_path) as server:
        assert server.proc is not None
        app = jobq.App(f"{server.url}?socket_timeout=1", prefix=unique_name("jobq_t") + ":")
        outcome: list[BaseException | object] = []
        try:
            assert app.stats() == {}  # connected and answered: the pool holds a connection
            os.kill(server.proc.pid, signal.SIGSTOP)
            try:
                def call() -> None:
                    try:
                        outcome.append(app.stats())
                    except BaseException as exc:  # the test reads it
                        outcome.append(exc)
                caller = threading.Thread(target=call, daemon=True)
                caller.start()
                caller.join(60)  # generous: the bound is 1 s plus a 5 s reconnect
                hung = caller.is_alive()
            finally:
                os.kill(server.proc.pid, signal.SIGCONT)
            assert not hung, "app.stats() still waits on a frozen server after 60 s"
            assert len(outcome) == 1 and isinstance(outcome[0], BackendError), outcome
        finally:
            app.close()
