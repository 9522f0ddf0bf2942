"""Redis writes a big ``enqueue_many`` in chunks. With the server frozen (SIGSTOP) right
after the first chunk, the call fails with ``EnqueueIncomplete`` naming exactly the jobs
the server confirmed and those it did not; enqueueing the error's calls again stores the
rest, and no job twice, whatever the server does with what it was sent before it froze.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

import jobq
from jobq.backends.redis import ENQUEUE_CHUNK
from jobq.backends.redis.conn import load_scripts
from jobq.backends.redis.store import FIRST_CHUNK
from tests.proxy import Proxy
from tests.redis.layout import check_layout
from tests.redis.private import private_redis
from tests.services import unique_name

pytestmark = pytest.mark.slow

JOBS = 10_000


def test_a_batch_cut_short_names_what_was_stored_and_a_second_call_stores_the_rest_once(
    tmp_path: Path,
) -> None:
    pytest.importorskip("redis")
    with private_redis(tmp_path) as server:
        assert server.proc is not None
        proxy = Proxy(server.url)
        # A short socket timeout: the client gives up on the frozen server in seconds.
        app = jobq.App(f"{proxy.url}?socket_timeout=1", prefix=unique_name("jobq_t") + ":")
        try:
            noop = app.task(name="noop")(lambda n: n)
            with server.client() as client:
                client.script_load(load_scripts()["enqueue"].text)
            app.backend.check_schema()  # so the batch's first command is its first chunk
            calls = [noop.call(i) for i in range(JOBS)]
            proxy.stop_server_after_first_reply(server.proc.pid)
            try:
                with pytest.raises(jobq.EnqueueIncomplete) as info:
                    app.enqueue_many(calls)
            finally:
                os.kill(server.proc.pid, signal.SIGCONT)
            error = info.value
            ids = [call.id for call in error.calls]
            assert len(ids) == JOBS and all(ids) and len(set(ids)) == JOBS
            assert [c.args for c in error.calls] == [c.args for c in calls]
            assert error.stored == ids[:FIRST_CHUNK]  # the one chunk the server answered
            assert set(error.unconfirmed) | set(error.not_stored) == set(ids[FIRST_CHUNK:])
            assert not set(error.unconfirmed) & set(error.not_stored)
            assert f"stored {FIRST_CHUNK} of {JOBS:,} jobs" in str(error)
            assert "app.enqueue_many(error.calls)" in str(error)

            jobs = app.enqueue_many(error.calls)
            assert [job.id for job in jobs] == ids
            with server.client() as client:
                stored = check_layout(client, app.settings.prefix)
            assert len(stored) == JOBS  # each job once
            assert app.stats() == {"default": {"pending": JOBS}}
            assert sorted(job.record.args[0] for job in jobs[::ENQUEUE_CHUNK]) == list(
                range(0, JOBS, ENQUEUE_CHUNK))
        finally:
            app.close()
            proxy.close()
