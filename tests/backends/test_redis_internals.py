"""What only the Redis store promises: its keys, its scripts, retention's TTL, reconnects.

The contract suite checks behaviour; these tests look at the keys behind it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import jobq
from jobq import Status
from jobq.backends.base import JobFilter, Postponed, WorkerInfo
from jobq.backends.policy import apply_retention
from jobq.backends.redis.conn import load_scripts
from jobq.backends.redis.store import SCHEMA_VERSION
from jobq.errors import BackendError, SchemaError
from tests import isolation
from tests.backends.support import claim, claim_one, fail, finish, reap_and_run_the_old_job
from tests.redis.layout import check_layout, keys_of, raw_client
from tests.redis.private import private_redis
from tests.services import unique_name
from tests.waiting import wait_for


@pytest.fixture
def store(tmp_path: Path) -> Iterator[isolation.Store]:
    opened = isolation.open_store("redis", tmp_path)
    try:
        yield opened
    finally:
        opened.drop()


@pytest.fixture
def make(store: isolation.Store) -> Iterator[Callable[..., jobq.App]]:
    apps: list[jobq.App] = []

    def factory(**options: Any) -> jobq.App:
        app = jobq.App(store.url, **{**store.options, "lease": 2.0, **options})
        app.task(name="noop", retries=1)(lambda n=0: n)
        apps.append(app)
        return app

    yield factory
    for app in apps:
        app.close()


@pytest.fixture
def app(make: Callable[..., jobq.App]) -> jobq.App:
    return make()


def _prefix(app: jobq.App) -> str:
    return app.settings.prefix


def _every_operation(app: jobq.App, after: Callable[[], None]) -> None:
    """Run each kind of store operation once, calling ``after`` after each."""
    noop = app.tasks["noop"]
    done, failed, handed, keyed = (noop.enqueue(i) for i in range(4))
    noop.with_options(key="k1").enqueue()
    _, soon = app.enqueue_many([noop.call(9), noop.with_options(delay=0.05, key="k2").call()])
    later = noop.with_options(delay=3600).enqueue()
    after()
    first = claim(app, limit=4)
    after()
    assert app.backend.heartbeat([(c.id, c.token) for c in first], 30.0).lost == frozenset()
    by_id = {c.id: c for c in first}
    assert finish(app, by_id[done.id], Status.SUCCEEDED, result="1")
    assert fail(app, by_id[failed.id])
    assert finish(app, by_id[handed.id], Status.PENDING)
    assert finish(app, by_id[keyed.id], Status.SCHEDULED, run_at=time.time() - 1)
    after()
    assert later.cancel()
    after()
    (spare,) = claim(app, limit=1)
    assert app.backend.postpone([Postponed(spare.id, spare.token, "wait", "give up")],
                                3600.0) == [Status.SCHEDULED]
    app.backend.register_worker(WorkerInfo("w-1", "host", 1, time.time(), ("default",), ()))
    after()
    app.retry(failed.id)
    after()
    wait_for(lambda: time.time() > soon.run_at.timestamp() + 0.05, what="a due time")
    assert soon.id in {c.id for c in claim(app, limit=100)}  # promoted, then claimed
    after()
    assert app.backend.reap(now=time.time() + 3600)
    after()
    assert app.purge(older_than=0, statuses=["succeeded", "failed", "cancelled"]) >= 1
    after()


def test_every_operation_leaves_each_job_in_exactly_its_indexes(app: jobq.App) -> None:
    client = raw_client()
    checks: list[int] = []

    def after() -> None:
        checks.append(len(check_layout(client, _prefix(app))))

    _every_operation(app, after)
    assert len(checks) == 9 and checks[0] == 8 and checks[-1] < 8  # the purge removed some


def test_keys_live_under_the_prefix_only(tmp_path: Path) -> None:
    with private_redis(tmp_path) as server:  # a server of its own: every key is visible
        prefix = unique_name("jobq_t") + ":"
        app = jobq.App(server.url, prefix=prefix, lease=2.0)
        app.task(name="noop", retries=1)(lambda n=0: n)
        try:
            _every_operation(app, lambda: None)
            app.backend.wait_for_work(0.01)
            app.stats()
            app.jobs(limit=100)
        finally:
            app.close()
        every_key = set(server.client().scan_iter(count=1000))
        assert every_key and every_key == keys_of(server.client(), prefix)
        assert all(key.startswith(prefix) for key in every_key)


def test_scripts_are_called_by_sha_and_reloaded_after_script_flush(tmp_path: Path) -> None:
    # A server of its own: SCRIPT FLUSH would pull the scripts from under other clients.
    with private_redis(tmp_path) as server:
        client = server.client()
        app = jobq.App(server.url, prefix=unique_name("jobq_t") + ":")
        noop = app.task(name="noop")(lambda: None)
        try:
            noop.enqueue()
            # CLIENT LIST shows each connection's last command: the enqueue was an EVALSHA.
            assert [c["cmd"] for c in client.client_list() if c["name"].startswith("jobq-")] \
                == ["evalsha"]
            client.script_flush()  # as after a server restart: no script is known any more
            job = noop.enqueue()
            assert job.id in {c.id for c in claim(app, limit=2)}
            scripts = load_scripts()
            assert client.script_exists(scripts["enqueue"].sha, scripts["claim"].sha) == [
                True, True]
            stats = client.info("commandstats")
            assert "cmdstat_eval" not in stats  # never the whole script text per call
            # Each script is loaded when the server does not know it, and only then: the
            # first enqueue, the enqueue after the flush, the first claim.
            assert stats["cmdstat_script|load"]["calls"] == 3
            assert stats["cmdstat_evalsha"]["calls"] == 6  # each NOSCRIPT answer, sent again
        finally:
            app.close()


def test_retention_sets_a_ttl_on_succeeded_and_cancelled_records(
    make: Callable[..., jobq.App],
) -> None:
    app = make(retention=3600.0)
    client = raw_client()
    noop = app.tasks["noop"]
    ok, bad, gone, running = (noop.enqueue(i) for i in range(4))
    claimed = {c.id: c for c in claim(app, limit=4)}
    assert finish(app, claimed[ok.id], Status.SUCCEEDED, result="0")
    assert fail(app, claimed[bad.id])
    assert finish(app, claimed[gone.id], Status.CANCELLED)

    def ttl(job_id: str) -> int:
        return int(client.pttl(f"{_prefix(app)}job:{job_id}"))

    for job_id in (ok.id, gone.id):
        assert 3_500_000 < ttl(job_id) <= 3_600_000
    assert ttl(bad.id) == -1  # the dead-letter list stays until purged
    assert ttl(running.id) == -1  # live jobs never expire

    app.retry(gone.id)
    assert ttl(gone.id) == -1  # running again: the TTL is gone


def test_expired_records_leave_listing_and_stats(make: Callable[..., jobq.App]) -> None:
    app = make(retention=0.3)
    noop = app.tasks["noop"]
    job, kept = noop.enqueue(1), noop.enqueue(2)
    assert finish(app, claim_one(app), Status.SUCCEEDED, result="1")
    wait_for(lambda: app.get_job(job.id) is None, what="the finished job to expire")
    assert [j.id for j in app.jobs()] == [kept.id]
    # Retention (each worker's, about once a minute) drops the expired job's index entries.
    apply_retention(app.backend, 0.3, time.time())
    assert app.stats() == {"default": {"pending": 1}}
    check_layout(raw_client(), _prefix(app))


def test_a_re_sent_claim_gets_its_batch_back(app: jobq.App) -> None:
    """A claim whose reply was lost is re-sent with the same token: it must hand back the
    jobs it leased, not lease others and leave these to expire."""
    backend: Any = app.backend
    noop = app.tasks["noop"]
    jobs = [noop.enqueue(i) for i in range(3)]
    first = claim(app, limit=2)
    backend._lost_claim = (first[0].token, "worker-a", ("default",))
    again = claim(app, limit=2)
    assert [c.id for c in again] == [c.id for c in first] == [j.id for j in jobs[:2]]
    assert {c.token for c in again} == {first[0].token}
    assert [c.id for c in claim(app, limit=2)] == [jobs[2].id]


def test_a_re_sent_finish_reports_applied(app: jobq.App) -> None:
    from jobq.backends.base import Outcome

    app.tasks["noop"].enqueue()
    claimed = claim_one(app)
    outcome = Outcome(claimed.id, claimed.token, Status.SUCCEEDED, result="1")
    assert app.backend.finish([outcome]) == [True]
    assert app.backend.finish([outcome]) == [False]  # a second report is stale...
    backend: Any = app.backend
    backend._maybe_finished.add((claimed.id, claimed.token))
    assert app.backend.finish([outcome]) == [True]  # ...unless its first reply was lost


def test_a_damaged_or_foreign_hash_never_crashes_reads_or_claims(app: jobq.App) -> None:
    client = raw_client()
    prefix = _prefix(app)
    noop = app.tasks["noop"]
    good = noop.enqueue()
    client.hset(f"{prefix}job:junk", mapping={"status": "exploded", "seq": "1"})
    client.zadd(f"{prefix}status:failed", {"junk": 1})
    client.set(f"{prefix}job:astring", "not a hash")
    client.zadd(f"{prefix}status:failed", {"astring": 2})
    client.zadd(f"{prefix}ready:default", {"0000000000000000:astring": -100})

    listed = {r.id: r for r in app.backend.list_jobs(JobFilter(limit=10))}
    assert listed["junk"].status is Status.FAILED
    assert listed["junk"].error is not None and listed["junk"].error.type == "CorruptJob"
    assert good.id in listed and "astring" not in listed
    assert app.get_job("astring") is None
    assert [c.id for c in claim(app)] == [good.id]  # the foreign entry is skipped


def test_corrupt_arguments_fail_the_job_and_the_worker_goes_on(app: jobq.App) -> None:
    client = raw_client()
    noop = app.tasks["noop"]
    bad, good = noop.enqueue(1), noop.enqueue(2)
    name = f"{_prefix(app)}job:{bad.id}"
    spec = client.hget(name, "spec").split("\x1f")
    spec[3] = "{not json"  # the args
    client.hset(name, "spec", "\x1f".join(spec))
    app.run_worker(concurrency=1, burst=True)
    assert good.result(timeout=5) == 2
    record = app.get_job(bad.id)
    assert record is not None and record.status is Status.FAILED
    assert record.error is not None and record.error.type == "CorruptJob"


def test_a_newer_or_foreign_schema_is_refused(app: jobq.App) -> None:
    client = raw_client()
    client.set(f"{_prefix(app)}schema", "99")
    fresh = jobq.App(app.settings.url, prefix=_prefix(app))
    with pytest.raises(SchemaError, match="newer than this jobq"):
        fresh.backend.check_schema()
    client.set(f"{_prefix(app)}schema", "hello")
    other = jobq.App(app.settings.url, prefix=_prefix(app))
    with pytest.raises(SchemaError, match="another program"):
        other.get_job("x")
    client.set(f"{_prefix(app)}schema", "1")
    with pytest.raises(SchemaError,
                       match=rf"schema version 1, this jobq needs {SCHEMA_VERSION}.*jobq migrate"):
        jobq.App(app.settings.url, prefix=_prefix(app)).get_job("x")


def test_migrate_upgrades_a_version_1_store_and_its_jobs_run(app: jobq.App) -> None:
    # Version 1 kept each fixed field in the hash and indexed pending jobs in
    # status:pending; written here as it wrote them.
    client, prefix = raw_client(), _prefix(app)
    fixed = {"task": "echo", "max_attempts": "3", "created_at": "1700000000.5"}
    v1 = {
        "waiting": {**fixed, "queue": "default", "args": "[7]", "kwargs": "{}",
                    "priority": "2", "status": "pending", "run_at": "1700000000.5",
                    "seq": "1", "timeout": "9.5", "key": "k1"},
        "done": {**fixed, "queue": "default", "args": "[]", "kwargs": '{"x": 1}',
                 "priority": "0", "status": "succeeded", "run_at": "1700000000.5",
                 "seq": "2", "attempts": "1", "result": "5", "finished_at": "1700000001.0"},
    }
    for job_id, fields in v1.items():
        client.hset(f"{prefix}job:{job_id}", mapping=fields)
    client.zadd(f"{prefix}status:pending", {"waiting": 1})
    client.zadd(f"{prefix}ready:default", {"0000000000000001:waiting": -2})
    client.set(f"{prefix}key:k1", "waiting")
    client.zadd(f"{prefix}status:succeeded", {"done": 2})
    client.zadd(f"{prefix}finished:succeeded", {"done\0default": 1700000001.0})
    client.hset(f"{prefix}counts", mapping={"pending:default": 1, "succeeded:default": 1})
    client.set(f"{prefix}seq", "2")
    client.set(f"{prefix}schema", "1")

    # A job held under a live lease means an old worker is still at work: refused.
    client.zadd(f"{prefix}leases", {"elsewhere": time.time() + 3600})
    with pytest.raises(SchemaError, match=r"1 job\(s\) are running under live leases"):
        jobq.App(app.settings.url, prefix=prefix).migrate()
    assert client.get(f"{prefix}schema") == "1" and client.hget(f"{prefix}job:done", "task")
    client.zadd(f"{prefix}leases", {"elsewhere": time.time() - 60})  # expired: its worker died

    upgraded = jobq.App(app.settings.url, prefix=prefix)
    assert upgraded.migrate() == SCHEMA_VERSION
    client.zrem(f"{prefix}leases", "elsewhere")  # not a job of this test's layout
    assert upgraded.migrate() == SCHEMA_VERSION  # a second run finds nothing to do
    check_layout(client, prefix)
    done = upgraded.backend.get("done")
    assert done is not None and done.status is Status.SUCCEEDED
    assert (done.task, done.kwargs, done.max_attempts, done.result) == ("echo", {"x": 1}, 3, 5)
    waiting = upgraded.backend.get("waiting")
    assert waiting is not None and waiting.status is Status.PENDING
    assert (waiting.args, waiting.timeout, waiting.priority, waiting.key) == ([7], 9.5, 2, "k1")
    assert waiting.created_at.timestamp() == 1700000000.5
    assert [j.id for j in upgraded.jobs(status="pending")] == ["waiting"]
    upgraded.task(name="echo")(lambda n: n)
    upgraded.run_worker(concurrency=1, burst=True)
    finished = upgraded.get_job("waiting")
    assert finished is not None and finished.result() == 7
    check_layout(client, prefix)


def test_nothing_connects_until_first_use_and_errors_name_the_url() -> None:
    app = jobq.App("redis://:hunter2@127.0.0.1:1/0", prefix=unique_name("jobq_t") + ":")
    backend = app.backend  # opening the backend makes no connection
    with pytest.raises(BackendError, match=r"redis://:\*\*\*@127\.0\.0\.1:1/0") as info:
        backend.get("x")
    assert "hunter2" not in str(info.value)


def test_a_forked_child_opens_its_own_connections(app: jobq.App) -> None:
    noop = app.tasks["noop"]
    parent_job = noop.enqueue(1)
    pid = os.fork()
    if pid == 0:  # the child: use the inherited App, then leave without cleanup
        try:
            child_job = noop.enqueue(2)
            ok = app.get_job(child_job.id) is not None and len(app.jobs()) == 2
        except BaseException:
            ok = False
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    # The parent's connection was not disturbed by the child.
    assert app.get_job(parent_job.id) is not None
    assert len(app.jobs()) == 2


def test_prefixes_keep_apps_apart(make: Callable[..., jobq.App], tmp_path: Path) -> None:
    mine = make()
    other_store = isolation.open_store("redis", tmp_path)
    other = jobq.App(other_store.url, **other_store.options)
    other.task(name="noop")(lambda: None)
    try:
        mine.tasks["noop"].enqueue()
        assert other.jobs() == [] and other.stats() == {}
        assert claim(other) == []
        assert mine.stats() == {"default": {"pending": 1}}
    finally:
        other.close()
        other_store.drop()


def test_pending_jobs_of_many_priorities_list_newest_first_page_by_page(app: jobq.App) -> None:
    # Each (queue, priority) group of the ready sets is read a few entries at a time and
    # merged: enough jobs per group that every group is read several times.
    noop = app.tasks["noop"]
    kinds = [noop.with_options(queue=q, priority=p) for q in "abc" for p in (-7, 0, 3, 9)]
    jobs = app.enqueue_many([kinds[(i * 5) % len(kinds)].call() for i in range(400)])
    newest = [j.id for j in reversed(jobs)]
    assert [j.id for j in app.jobs(status="pending", limit=100, offset=50)] == newest[50:150]
    assert [j.id for j in app.jobs(limit=400)] == newest
    in_b = [j.id for j in reversed(jobs) if j.queue == "b"]
    assert [j.id for j in app.jobs(status="pending", queue="b", limit=500)] == in_b


def test_a_task_name_holding_the_spec_separator_survives_the_round_trip(app: jobq.App) -> None:
    # The spec field joins its parts with 0x1f; the task name, kept last, may hold one.
    odd = app.task(name="odd\x1fname\x1f", retries=2, timeout=7.5)(lambda text: text * 2)
    job = odd.enqueue("ab\x1f")
    stored = app.backend.get(job.id)
    assert stored is not None
    assert (stored.task, stored.args, stored.max_attempts, stored.timeout) == (
        "odd\x1fname\x1f", ["ab\x1f"], 3, 7.5)
    app.run_worker(concurrency=1, burst=True)
    assert job.result(timeout=5) == "ab\x1fab\x1f"


def test_a_layout_2_store_of_the_release_before_works_after_migrate(app: jobq.App) -> None:
    # As the release before lost leases were counted wrote it: no lost_leases, max_lost
    # or unknown_task_since fields, no unknown or workers keys. A worker died holding a
    # job with no retries; its lease ran out an hour ago.
    client, prefix = raw_client(), _prefix(app)
    spec = "\x1f".join(["1", "1700000000.5", "", "[]", "{}", "noop"])
    expired = time.time() - 3600
    client.hset(f"{prefix}job:old", mapping={
        "status": "running", "seq": "1", "queue": "default", "priority": "0",
        "run_at": "1700000000.5", "spec": spec, "attempts": "1", "lease_token": "t",
        "lease_expires_at": f"{expired:.6f}", "worker_id": "w", "started_at": "1700000001.0"})
    client.zadd(f"{prefix}leases", {"old": expired})
    client.zadd(f"{prefix}status:running", {"old": 1})
    client.hset(f"{prefix}counts", mapping={"running:default": 1})
    client.set(f"{prefix}seq", "1")
    client.set(f"{prefix}schema", "2")
    check_layout(client, prefix)

    # Layouts 3 (workflows) and 4 (limits) changed no key it holds: migrate only writes
    # the version.
    assert app.migrate() == SCHEMA_VERSION == 4
    reap_and_run_the_old_job(app)
    check_layout(client, prefix)


def test_a_layout_3_store_refuses_until_migrate_then_its_jobs_run_and_limits_hold(
        app: jobq.App) -> None:
    # As the release before limits wrote it: a pending job of an unlimited task.
    client, prefix = raw_client(), _prefix(app)
    spec = "\x1f".join(["3", "1700000000.5", "", "[1]", "{}", "noop"])
    client.hset(f"{prefix}job:old", mapping={
        "status": "pending", "seq": "1", "queue": "default", "priority": "0",
        "run_at": "1700000000.5", "spec": spec})
    client.zadd(f"{prefix}ready:default", {"0000000000000001:old": 0})
    client.hset(f"{prefix}counts", mapping={"pending:default": 1})
    client.set(f"{prefix}seq", "1")
    client.set(f"{prefix}schema", "3")
    check_layout(client, prefix)
    app.backend._checked.unbind()  # type: ignore[attr-defined]
    with pytest.raises(SchemaError, match=r"schema version 3, this jobq needs 4.*jobq migrate"):
        app.backend.claim("w", ["default"], 1, 30.0)

    assert app.migrate() == SCHEMA_VERSION == 4
    assert client.get(f"{prefix}schema") == "4"
    limited = app.task(name="limited", concurrency_limit=1)(lambda: None)
    first, second = limited.enqueue(), limited.enqueue()
    claimed = {c.id for c in claim(app, limit=10)}
    assert "old" in claimed and len(claimed & {first.id, second.id}) == 1
    check_layout(client, prefix)
