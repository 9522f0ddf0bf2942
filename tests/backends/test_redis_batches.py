"""Redis enqueue batches larger than one script call: split into bounded, pipelined
script calls that still behave as one ordered batch."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import jobq
from jobq import Status
from jobq.backends.base import NewJob
from jobq.backends.redis import ENQUEUE_CHUNK
from tests import isolation
from tests.backends.support import claim
from tests.redis.layout import check_layout, raw_client
from tests.redis.private import private_redis
from tests.services import unique_name


@pytest.fixture
def app(tmp_path: Path) -> Iterator[jobq.App]:
    store = isolation.open_store("redis", tmp_path)
    app = jobq.App(store.url, **store.options)
    app.task(name="noop")(lambda n=0: n)
    try:
        yield app
    finally:
        app.close()
        store.drop()


def test_a_batch_over_several_scripts_keeps_order_and_keys(app: jobq.App) -> None:
    noop = app.tasks["noop"]
    size = 2 * ENQUEUE_CHUNK + 7
    calls = [noop.call(i) for i in range(size)]
    # The same idempotency key in the first chunk and in the last one.
    calls[3] = noop.with_options(key="shared").call(3)
    calls[-1] = noop.with_options(key="shared").call(size - 1)
    jobs = app.enqueue_many(calls)
    assert len(jobs) == size
    assert jobs[-1].id == jobs[3].id  # the later call points at the live holder
    assert len({job.id for job in jobs}) == size - 1
    assert app.stats()["default"]["pending"] == size - 1
    claimed = claim(app, limit=size)
    assert [c.id for c in claimed] == [job.id for job in jobs[:-1]]  # oldest first
    assert check_layout(raw_client(), app.settings.prefix)


def test_a_batch_over_several_scripts_reloads_flushed_scripts(tmp_path: Path) -> None:
    with private_redis(tmp_path) as server:  # SCRIPT FLUSH must not touch others' server
        app = jobq.App(server.url, prefix=unique_name("jobq_t") + ":")
        noop = app.task(name="noop")(lambda n=0: n)
        try:
            noop.enqueue()
            server.client().script_flush()
            jobs = app.enqueue_many([noop.call(i) for i in range(ENQUEUE_CHUNK + 1)])
            assert app.stats()["default"]["pending"] == ENQUEUE_CHUNK + 2
            assert {c.id for c in claim(app, limit=1000)} >= {job.id for job in jobs}
        finally:
            app.close()


def test_runs_of_alike_calls_keep_every_field(app: jobq.App) -> None:
    noop = app.tasks["noop"]
    urgent = noop.with_options(priority=5, queue="other")
    calls = [noop.call(), noop.call(), urgent.call(), urgent.call(), noop.call(), noop.call(1)]
    jobs = app.enqueue_many(calls)
    records = [app.backend.get(job.id) for job in jobs]  # as stored
    assert [(r.queue, r.priority, r.args) for r in records if r is not None] == [
        ("default", 0, []), ("default", 0, []), ("other", 5, []), ("other", 5, []),
        ("default", 0, []), ("default", 0, [1])]
    assert all(r is not None and r.attempts == 0 and r.task == "noop" for r in records)
    assert check_layout(raw_client(), app.settings.prefix)


def test_one_job_alone_is_stored_as_in_a_batch(app: jobq.App) -> None:
    # task.enqueue() takes the script's one-job path, enqueue_many of two the batch path:
    # both must write the same fields and indexes.
    noop = app.tasks["noop"]
    timed = app.task(name="timed", timeout=2.5)(lambda n=0: n)
    kinds = [noop.with_options(queue="q", priority=3), timed.with_options(key="k"),
             noop.with_options(delay=3600, queue="later")]
    client, prefix = raw_client(), app.settings.prefix
    alone: list[jobq.Job] = []
    for n, kind in enumerate(kinds):
        alone.append(kind.enqueue(n))
        batch, _ = app.enqueue_many([kind.with_options(key=None).call(n), noop.call()])
        stored = [client.hgetall(f"{prefix}job:{job.id}") for job in (alone[-1], batch)]
        for fields in stored:
            del fields["seq"], fields["run_at"]
            spec = fields.pop("spec").split("\x1f")
            del spec[1]  # created_at
            fields["spec"] = spec
        assert stored[0].pop("key", None) == ("k" if n == 1 else None)
        assert stored[0] == stored[1] and stored[0]["spec"][2] == f"[{n}]"
    assert client.get(f"{prefix}key:k") == alone[1].id
    assert noop.with_options(key="k").enqueue().id == alone[1].id  # the key is held
    seq = int(client.hget(f"{prefix}job:{alone[0].id}", "seq"))
    assert client.zscore(f"{prefix}ready:q", f"{seq:016d}:{alone[0].id}") == -3
    assert client.zscore(f"{prefix}scheduled:later", alone[2].id) is not None
    assert check_layout(client, prefix)


def test_a_batch_cut_off_mid_stream_is_re_sent_whole_and_stored_once(tmp_path: Path) -> None:
    # The jobs of a batch are made while earlier chunks are already with the server; when
    # the connection drops then, the chunks taken so far are re-sent (and recognised as
    # stored) before the rest are taken.
    with private_redis(tmp_path) as server:  # CLIENT KILL must not touch others' clients
        app = jobq.App(server.url, prefix=unique_name("jobq_t") + ":")
        app.task(name="noop")(lambda n=0: n)
        killer = server.client()
        size, cut_at = 3 * ENQUEUE_CHUNK + 5, ENQUEUE_CHUNK + 10
        made: list[NewJob] = []

        def jobs() -> Iterator[NewJob]:
            now = time.time()
            for i in range(size):
                if i == cut_at:  # the first chunk is sent: drop every jobq connection
                    assert killer.client_kill_filter(_type="normal", skipme=True) >= 1
                made.append(NewJob(f"job{i:04d}", "noop", "default", f"[{i}]", "{}", 0, 1,
                                   now, now, Status.PENDING))
                yield made[-1]

        try:
            app.migrate()
            stored = app.backend.enqueue(jobs())
            assert stored == made  # each job once, in order
            assert app.stats()["default"]["pending"] == size
            assert [c.id for c in claim(app, limit=size + 1)] == [j.id for j in made]
            assert check_layout(server.client(), app.settings.prefix)
        finally:
            app.close()
