"""What only the Redis store promises about workflows: its keys (keys.md) stay whole
after every workflow operation, links share their job's TTL, and the layout version."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import jobq
from jobq import Status
from jobq.backends.base import Waits
from jobq.backends.redis.batches import encode_rows
from jobq.backends.redis.store import SCHEMA_VERSION
from jobq.errors import SchemaError
from tests import isolation
from tests.backends.support import claim, claim_one, fail, finish
from tests.redis.layout import check_layout, keys_of, raw_client


@pytest.fixture
def app(tmp_path: Path) -> Iterator[jobq.App]:
    store = isolation.open_store("redis", tmp_path)
    app = jobq.App(store.url, **{**store.options, "lease": 2.0, "retention": 3600})
    app.task(name="add")(lambda x, y=1: x + y)
    app.task(name="total")(lambda values: sum(values))
    try:
        yield app
    finally:
        app.close()
        store.drop()


def _check(app: jobq.App) -> None:
    check_layout(raw_client(), app.settings.prefix)


def test_every_workflow_operation_leaves_the_keys_whole(app: jobq.App) -> None:
    add, total = app.tasks["add"], app.tasks["total"]
    chord = jobq.chord(jobq.group(add.call(i) for i in range(3)), total.call()).enqueue()
    chain = jobq.chain(add.call(1), add.call(), add.call()).enqueue()
    late = add.with_options(depends_on=[chain.jobs[0]], delay=3600).enqueue(5)
    _check(app)
    claimed = {c.id: c for c in claim(app, limit=10)}
    members = chord.jobs[:-1]
    assert fail(app, claimed[members[0].id])  # the callback fails at once
    _check(app)
    assert finish(app, claimed[members[1].id], Status.SUCCEEDED, result="2")
    assert finish(app, claimed[members[2].id], Status.SUCCEEDED, result="3")
    assert finish(app, claimed[chain.jobs[0].id], Status.SUCCEEDED, result="2")
    _check(app)
    assert late.refresh().status is Status.SCHEDULED
    app.retry(members[0].id)
    assert chord.jobs[-1].refresh().status is Status.BLOCKED
    _check(app)
    assert chain.jobs[1].cancel()  # blocked -> cancelled, and the last one fails
    assert chain.jobs[2].refresh().status is Status.FAILED
    _check(app)
    app.retry(chain.jobs[1].id)  # its dependency succeeded: released at once
    assert [j.refresh().status for j in chain.jobs[1:]] == [Status.PENDING, Status.BLOCKED]
    _check(app)
    app.run_worker(concurrency=2, burst=True)
    assert chord.result(timeout=10) == 1 + 2 + 3
    assert chain.result(timeout=10) == 4
    _check(app)
    assert app.purge(older_than=0, statuses=["succeeded"]) == 7
    _check(app)
    prefix = app.settings.prefix
    client = raw_client()
    assert keys_of(client, prefix + "deps:") == {f"{prefix}deps:{late.id}"}


def test_links_share_their_job_ttl_and_lose_it_with_a_retry(app: jobq.App) -> None:
    client, prefix = raw_client(), app.settings.prefix
    first = app.tasks["add"].enqueue(1)
    then = app.tasks["add"].with_options(depends_on=[first]).enqueue(2)
    first.cancel()
    assert client.pttl(f"{prefix}job:{first.id}") > 0
    assert 0 < client.pttl(f"{prefix}dependents:{first.id}") <= 3600_000
    assert client.pttl(f"{prefix}deps:{then.id}") == -1  # failed: kept until purged
    app.retry(first.id)
    assert client.pttl(f"{prefix}dependents:{first.id}") == -1
    assert finish(app, claim_one(app), Status.SUCCEEDED, result="2")
    assert 0 < client.pttl(f"{prefix}dependents:{first.id}") <= 3600_000
    # A job added later to a finished dependency's links keeps them expiring with it.
    other = app.tasks["add"].with_options(depends_on=[first]).enqueue(3)
    assert other.status is Status.PENDING
    assert client.pttl(f"{prefix}dependents:{first.id}") > 0
    _check(app)


def test_a_re_sent_workflow_enqueue_returns_what_the_first_send_stored(app: jobq.App) -> None:
    add, now = app.tasks["add"], time.time()
    jobs = [app._new_job(add.call(1), now, "wf-a", None, None),
            app._new_job(add.call(), now, "wf-b", None, None)]
    waits = [Waits("wf-b", ("wf-a",), "0")]
    first = app.backend.enqueue_workflow(jobs, waits)
    assert [j.status for j in first] == [Status.PENDING, Status.BLOCKED]
    backend: Any = app.backend
    # The same call again, as the connection layer re-sends one whose reply was lost.
    args = (app.settings.prefix, "1", repr(now), encode_rows(jobs, {}),
            json.dumps([["wf-b", ["wf-a"], "0"]]))
    reply = backend._redis.script(backend._scripts["enqueue_workflow"], lambda _: args)
    assert reply == ["ok", "pending", "", "blocked", ""]
    assert len(app.jobs()) == 2
    _check(app)


def test_a_layout_2_store_is_upgraded_by_jobq_migrate(app: jobq.App) -> None:
    client, prefix = raw_client(), app.settings.prefix
    kept = app.tasks["add"].enqueue(1)
    client.set(f"{prefix}schema", "2")  # as the release before workflows left it
    old = jobq.App(app.settings.url, prefix=prefix)
    old.task(name="add")(lambda x, y=1: x + y)
    try:
        with pytest.raises(SchemaError, match=f"version 2, this jobq needs {SCHEMA_VERSION}"):
            old.get_job(kept.id)
        assert old.migrate() == SCHEMA_VERSION
        waiter = old.tasks["add"].with_options(depends_on=[kept]).enqueue(5)
        assert waiter.status is Status.BLOCKED
        old.run_worker(concurrency=1, burst=True)
        assert (kept.result(timeout=10), waiter.result(timeout=10)) == (2, 6)
    finally:
        old.close()
    _check(app)
