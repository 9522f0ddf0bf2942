"""What only the PostgreSQL store promises: its own schema, versioned migrations that
nothing applies implicitly, partial indexes a claim really uses, and clear refusals."""

from __future__ import annotations

import json
import os
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

import jobq
from jobq.backends.base import NewJob
from jobq.backends.sqlfiles import Migration, load_migrations
from jobq.errors import BackendError, ConfigError, SchemaError
from tests import isolation
from tests.backends.support import OLD_JOBS, check_old_jobs_counted, reap_and_run_the_old_job
from tests.services import POSTGRES_URL, unique_name

psycopg = pytest.importorskip("psycopg")
from jobq.backends.postgres import COPY_FROM, SCHEMA_VERSION, PostgresBackend  # noqa: E402
from jobq.backends.postgres import schema as pg_schema  # noqa: E402


@pytest.fixture
def store(tmp_path: Path) -> Iterator[isolation.Store]:
    """A migrated store in a schema of its own."""
    opened = isolation.open_store("postgres", tmp_path)
    try:
        yield opened
    finally:
        opened.drop()


@pytest.fixture
def app(store: isolation.Store) -> Iterator[jobq.App]:
    app = jobq.App(store.url, **store.options)

    @app.task(name="noop")
    def noop() -> None: ...

    try:
        yield app
    finally:
        app.close()


@pytest.fixture
def bare_schema() -> Iterator[str]:
    """The name of a schema nobody has migrated (dropped afterwards if something made it)."""
    isolation._check_postgres()  # skips (or fails, in CI) when the server is down
    name = unique_name("jobq_t")
    try:
        yield name
    finally:
        isolation.Store(POSTGRES_URL, {"schema": name}, "postgres").drop()


def _raw() -> Any:
    return psycopg.connect(POSTGRES_URL, autocommit=True)


def _scalar(sql: str, *params: Any) -> Any:
    with _raw() as conn:
        row = conn.execute(sql, params).fetchone()
    return None if row is None else row[0]


# -- where the tables live -------------------------------------------------------------------


def test_tables_live_in_the_configured_schema_only(app: jobq.App, store: isolation.Store) -> None:
    schema = store.options["schema"]
    app.tasks["noop"].enqueue()
    with _raw() as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            [schema],
        ).fetchall()
        assert sorted(tables) == [("jobq_count_changes",), ("jobq_counts",), ("jobq_deps",),
                                  ("jobq_jobs",), ("jobq_leader",), ("jobq_limits",),
                                  ("jobq_periodic",), ("jobq_schema",), ("jobq_throughput",),
                                  ("jobq_ticks",), ("jobq_waits",), ("jobq_workers",)]
        assert conn.execute(f'SELECT count(*) FROM "{schema}".jobq_jobs').fetchone() == (1,)


def test_migrations_are_numbered_and_recorded(app: jobq.App, store: isolation.Store) -> None:
    migrations = load_migrations("postgres")
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    assert migrations[-1].version == SCHEMA_VERSION
    schema = store.options["schema"]
    with _raw() as conn:
        versions = conn.execute(f'SELECT version FROM "{schema}".jobq_schema ORDER BY 1')
        assert [v for (v,) in versions] == [m.version for m in migrations]
    # Migrating again changes nothing.
    assert app.migrate() == SCHEMA_VERSION
    assert _scalar(f'SELECT count(*) FROM "{schema}".jobq_schema') == len(migrations)


def test_concurrent_migrations_of_a_new_schema_both_succeed(bare_schema: str) -> None:
    apps = [jobq.App(POSTGRES_URL, schema=bare_schema) for _ in range(3)]
    results: list[Any] = []

    def migrate(app: jobq.App) -> None:
        try:
            results.append(app.migrate())
        except Exception as exc:  # the assertion below shows it
            results.append(exc)

    threads = [threading.Thread(target=migrate, args=(a,)) for a in apps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for app in apps:
        app.close()
    assert results == [SCHEMA_VERSION] * 3
    assert _scalar(f'SELECT count(*) FROM "{bare_schema}".jobq_schema') == SCHEMA_VERSION


def test_a_store_written_at_version_1_works_after_jobq_migrate(bare_schema: str) -> None:
    # Written as the release before workflows left it: one pending job, which a job of
    # this release then waits for.
    _store_at_version(
        bare_schema, 1,
        "(id, task, queue, args, kwargs, status, attempts, max_attempts, run_at, created_at) "
        "VALUES ('kept', 'noop', 'default', '[1]', '{}', 'pending', 0, 1, now(), now())")
    new = jobq.App(POSTGRES_URL, schema=bare_schema)
    new.task(name="noop")(lambda *args: list(args))
    try:
        with pytest.raises(SchemaError, match=f"this jobq needs {SCHEMA_VERSION}.*jobq migrate"):
            new.enqueue("noop")
        assert new.migrate() == SCHEMA_VERSION
        kept = new.get_job("kept")
        assert kept is not None
        waiter = new.tasks["noop"].with_options(depends_on=[kept]).enqueue(2)
        assert waiter.status is jobq.Status.BLOCKED
        new.run_worker(concurrency=1, burst=True)
        assert (kept.result(timeout=10), waiter.result(timeout=10)) == ([1], [2])
    finally:
        new.close()


# -- refusing a schema it does not know --------------------------------------------------------


# A migration as a release might write one: a trigger function whose body holds
# statements, a string and a comment that hold ';'.
TRIGGER_MIGRATION = """
-- Notes; each change to one is logged.
CREATE TABLE {schema}.jobq_note (id integer PRIMARY KEY, body text NOT NULL);
CREATE TABLE {schema}.jobq_note_log (body text NOT NULL);
CREATE FUNCTION {schema}.jobq_note_logged() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO {schema}.jobq_note_log VALUES (OLD.body || ' -> ' || NEW.body);
  INSERT INTO {schema}.jobq_note_log VALUES ('done; logged');
  RETURN NEW;
END;
$$;
CREATE TRIGGER jobq_note_logged AFTER UPDATE ON {schema}.jobq_note
  FOR EACH ROW EXECUTE FUNCTION {schema}.jobq_note_logged();
INSERT INTO {schema}.jobq_note VALUES (1, 'a; b');  -- a literal; not two statements
"""


def _migrate_with(schema: str, monkeypatch: pytest.MonkeyPatch, sql: str) -> jobq.App:
    extra = Migration(SCHEMA_VERSION + 1, "test_note", sql)
    monkeypatch.setattr(pg_schema, "MIGRATIONS", [*pg_schema.MIGRATIONS, extra])
    monkeypatch.setattr(pg_schema, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    return jobq.App(POSTGRES_URL, schema=schema)


def test_a_migration_runs_as_written_triggers_and_literals_included(
    bare_schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _migrate_with(bare_schema, monkeypatch, TRIGGER_MIGRATION)
    app.migrate()
    app.close()
    quoted = f'"{bare_schema}"'
    with _raw() as conn:
        assert conn.execute(f"SELECT body FROM {quoted}.jobq_note").fetchall() == [("a; b",)]
        conn.execute(f"UPDATE {quoted}.jobq_note SET body = 'c'")
        assert conn.execute(f"SELECT body FROM {quoted}.jobq_note_log").fetchall() == [
            ("a; b -> c",), ("done; logged",)]
    assert _scalar(f"SELECT max(version) FROM {quoted}.jobq_schema") == SCHEMA_VERSION + 1


def test_a_migration_that_fails_part_way_leaves_nothing_behind(
    bare_schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _migrate_with(bare_schema, monkeypatch,
                        TRIGGER_MIGRATION + "INSERT INTO {schema}.no_such_table VALUES (1);\n")
    with pytest.raises(jobq.JobqError, match="no_such_table"):
        app.migrate()
    app.close()
    # One transaction: not even the schema the run began by creating is left.
    assert _scalar("SELECT to_regnamespace(%s)", f'"{bare_schema}"') is None


def test_nothing_creates_the_schema_implicitly(bare_schema: str) -> None:
    app = jobq.App(POSTGRES_URL, schema=bare_schema)

    @app.task(name="noop")
    def noop() -> None: ...

    try:
        with pytest.raises(SchemaError, match=r"jobq migrate --url .*127\.0\.0\.1") as info:
            noop.enqueue()
        assert bare_schema in str(info.value)
        with pytest.raises(SchemaError, match="jobq migrate"):
            app.run_worker(burst=True)
        assert _scalar("SELECT to_regnamespace(%s)", bare_schema) is None
        # Once migrated, the same App works.
        assert app.migrate() == SCHEMA_VERSION
        assert noop.enqueue().status is jobq.Status.PENDING
    finally:
        app.close()


def test_a_newer_schema_version_is_refused(app: jobq.App, store: isolation.Store) -> None:
    schema = store.options["schema"]
    with _raw() as conn:
        conn.execute(f'INSERT INTO "{schema}".jobq_schema (version) VALUES (%s)',
                     [SCHEMA_VERSION + 1])
    stale = jobq.App(store.url, **store.options)
    try:
        with pytest.raises(SchemaError, match="newer than this jobq knows") as info:
            stale.backend.check_schema()
        assert "jobq migrate" in str(info.value) and f"version {SCHEMA_VERSION + 1}" in str(
            info.value)
        with pytest.raises(SchemaError, match="newer"):
            stale.run_worker(burst=True)
        with pytest.raises(SchemaError, match="newer"):
            stale.migrate()  # never downgrades
    finally:
        stale.close()


def test_a_schema_with_no_recorded_version_asks_for_jobq_migrate(
    app: jobq.App, store: isolation.Store
) -> None:
    schema = store.options["schema"]
    with _raw() as conn:
        conn.execute(f'DELETE FROM "{schema}".jobq_schema')
    fresh = jobq.App(store.url, **store.options)
    try:
        with pytest.raises(SchemaError, match=f"JOBQ_SCHEMA={schema} jobq migrate"):
            fresh.backend.check_schema()
    finally:
        fresh.close()


def test_a_schema_dropped_under_a_running_app_says_to_migrate(
    app: jobq.App, store: isolation.Store
) -> None:
    app.tasks["noop"].enqueue()
    store.drop()
    with pytest.raises(SchemaError, match="jobq migrate"):
        app.tasks["noop"].enqueue()


# -- indexes -------------------------------------------------------------------------------------


def test_live_states_have_partial_indexes(app: jobq.App, store: isolation.Store) -> None:
    with _raw() as conn:
        rows = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = %s",
            [store.options["schema"]],
        ).fetchall()
    defs = dict(rows)
    assert "WHERE (status = 'pending'::text)" in defs["jobq_jobs_ready"]
    assert "(queue, priority DESC, seq)" in defs["jobq_jobs_ready"]
    assert "WHERE (status = 'scheduled'::text)" in defs["jobq_jobs_due"]
    assert "WHERE (status = 'running'::text)" in defs["jobq_jobs_leases"]
    assert "UNIQUE" in defs["jobq_jobs_live_key"] and "running" in defs["jobq_jobs_live_key"]
    assert "succeeded" in defs["jobq_jobs_finished"]


def _plan(backend: PostgresBackend, query: str, params: dict[str, Any]) -> str:
    with backend._pool.connection() as conn:
        # A generic plan is what a prepared statement ends up with: it must use the
        # partial indexes without seeing the parameter values.
        conn.execute("SET plan_cache_mode = force_generic_plan")
        try:
            rows = conn.execute("EXPLAIN (FORMAT JSON) " + backend.q[query], params).fetchall()
        finally:
            conn.execute("RESET plan_cache_mode")
    return json.dumps(rows[0][0])


def test_a_claim_uses_the_ready_index_among_many_finished_jobs(
    app: jobq.App, store: isolation.Store
) -> None:
    schema = store.options["schema"]
    with _raw() as conn:
        conn.execute(
            f'INSERT INTO "{schema}".jobq_jobs (id, task, queue, args, kwargs, status, '
            "max_attempts, run_at, created_at, finished_at) "
            "SELECT 'done-' || i, 'noop', 'default', '[]', '{}', "
            "(ARRAY['succeeded', 'failed', 'cancelled'])[1 + i % 3], 1, now(), now(), now() "
            "FROM generate_series(1, 50000) AS i"
        )
        conn.execute(f'ANALYZE "{schema}".jobq_jobs')
    for _ in range(5):
        app.tasks["noop"].enqueue()
    backend = app.backend
    assert isinstance(backend, PostgresBackend)
    params = {"worker": "w", "token": "t", "lease": 30.0, "queue": "default",
              "queues": ["default", "mail"], "limit": 10, "suspects": 1, "skip": [],
              "channel": backend.channel,
              "now": None, "statuses": ["succeeded"], "older_than": 60.0, "batch": 500}
    for claim in ("claim", "claim_queues"):  # one queue, several queues
        plan = _plan(backend, claim, params)
        assert "jobq_jobs_ready" in plan and '"Sort Key": ["jobq_jobs.priority' not in plan
    assert "jobq_jobs_due" in _plan(backend, "promote_due", params)
    assert "jobq_jobs_leases" in _plan(backend, "reap_to_pending", params)
    assert "jobq_jobs_finished" in _plan(backend, "purge", params)
    claimed = backend.claim("w", ["default"], 10, 30.0)
    assert len(claimed) == 5


# -- connections ------------------------------------------------------------------------------


def test_an_unreachable_server_is_named_without_its_password() -> None:
    app = jobq.App("postgresql://jobq:s3cret@127.0.0.1:1/test")

    @app.task(name="noop")
    def noop() -> None: ...

    try:
        with pytest.raises(BackendError) as info:
            noop.enqueue()
    finally:
        app.close()
    message = str(info.value)
    assert "127.0.0.1:1" in message and "***" in message
    assert "s3cret" not in message


def test_a_malformed_url_is_refused_without_its_password() -> None:
    with pytest.raises(ConfigError, match="not a valid PostgreSQL URL") as info:
        jobq.App("postgresql://jobq:s3%zzcret@127.0.0.1/test").backend  # noqa: B018
    assert "zzcret" not in str(info.value)


def test_nothing_connects_before_first_use() -> None:
    app = jobq.App("postgresql://127.0.0.1:1/test")  # nobody listens on port 1
    assert app.backend.url.endswith(":1/test")
    app.close()


def test_a_schema_name_that_is_not_an_identifier_is_refused() -> None:
    with pytest.raises(ConfigError, match="schema"):
        jobq.App(POSTGRES_URL, schema='jobq"; DROP TABLE x; --').backend  # noqa: B018


def test_transactional_enqueue_needs_a_psycopg_connection(app: jobq.App) -> None:
    with pytest.raises(ConfigError, match="psycopg"):
        app.tasks["noop"].with_options(connection=object()).enqueue()
    assert app.jobs() == []


def test_a_forked_child_opens_its_own_connections(app: jobq.App) -> None:
    job = app.tasks["noop"].enqueue()
    backend = app.backend
    assert isinstance(backend, PostgresBackend)
    with backend._pool.connection() as held:  # the parent's session, open across the fork
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (3.12+)
            pid = os.fork()
        if pid == 0:  # the child: use the store, then leave without running any cleanup
            code = 1
            try:
                child = app.get_job(job.id)
                app.tasks["noop"].enqueue()
                app.close()
                code = 0 if child is not None else 2
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert held.execute("SELECT 1").fetchone() == (1,)  # the child left it alone
    assert len(app.jobs()) == 2


# -- bulk enqueue --------------------------------------------------------------------------------


def _new(job_id: str, now: float) -> NewJob:
    return NewJob(id=job_id, task="noop", queue="default", args="[]", kwargs="{}", priority=0,
                  max_attempts=1, run_at=now, created_at=now, status=jobq.Status.PENDING)


def test_a_big_batch_is_streamed_whole_and_claimed_in_order(app: jobq.App) -> None:
    noop = app.tasks["noop"]
    jobs = app.enqueue_many([noop.call() for _ in range(COPY_FROM + 50)])
    claimed = app.backend.claim("w", ["default"], len(jobs) + 10, 30.0)
    assert [c.id for c in claimed] == [j.id for j in jobs]


def test_a_big_batch_meeting_a_stored_id_returns_that_job_and_stores_the_rest(
    app: jobq.App,
) -> None:
    now = time.time()
    app.backend.enqueue([_new("job-3", now - 60)])
    batch = [_new(f"job-{i}", now) for i in range(COPY_FROM + 10)]  # the COPY path
    stored = app.backend.enqueue(batch)
    assert stored[3] == "job-3"
    assert [s for i, s in enumerate(stored) if i != 3] == [j for i, j in enumerate(batch)
                                                           if i != 3]
    assert len(app.jobs(limit=1000)) == COPY_FROM + 10
    kept = app.backend.get("job-3")
    assert kept is not None and kept.created_at.timestamp() == pytest.approx(now - 60)


def test_a_schema_1_store_is_upgraded_by_migrate_and_its_jobs_go_on(bare_schema: str) -> None:
    # Written as the release before schema 2 left it: a worker died holding a job that
    # had no retries (its lease ran out an hour ago).
    _store_at_version(
        bare_schema, 1,
        "(id, task, queue, args, kwargs, status, attempts, max_attempts, run_at, created_at, "
        "lease_expires_at, lease_token, worker_id) VALUES ('old', 'noop', 'default', '[]', "
        "'{}', 'running', 1, 1, now(), now(), now() - interval '1 hour', 't', 'w')")
    app = jobq.App(POSTGRES_URL, schema=bare_schema)
    app.task(name="noop")(lambda: None)
    try:
        with pytest.raises(SchemaError, match="jobq migrate"):
            app.backend.check_schema()
        assert app.migrate() == SCHEMA_VERSION
        reap_and_run_the_old_job(app)
    finally:
        app.close()


def _store_at_version(bare_schema: str, version: int, job_columns_and_values: str,
                      params: Sequence[Sequence[object]] = ((),)) -> None:
    """A store as schema ``version`` left it, holding the jobs inserted here: one row per
    item of ``params`` (none needed when the values are literals)."""
    quoted = f'"{bare_schema}"'
    with _raw() as conn:
        conn.execute(f"CREATE SCHEMA {quoted}")
        conn.execute(f"CREATE TABLE {quoted}.jobq_schema (version integer PRIMARY KEY, "
                     "applied_at timestamptz NOT NULL DEFAULT now())")
        for migration in load_migrations("postgres")[:version]:
            conn.execute(migration.sql.replace("{schema}", quoted).encode())
            conn.execute(f"INSERT INTO {quoted}.jobq_schema (version) VALUES (%s)",
                         [migration.version])
        for row in params:
            conn.execute(f"INSERT INTO {quoted}.jobq_jobs {job_columns_and_values}".encode(),
                         row or None)


def test_a_store_of_schema_4_gets_its_finished_counts_from_its_rows(bare_schema: str) -> None:
    # Written as the release before maintained counts: finished jobs already stored.
    _store_at_version(
        bare_schema, 4,
        "(id, task, queue, args, kwargs, status, attempts, max_attempts, run_at, created_at, "
        "finished_at) VALUES (%s, 'noop', %s, '[]', '{}', %s, 1, 1, now(), now(), "
        "now() - interval '1 hour')",
        [(f"old{i}", queue, status) for i, (queue, status) in enumerate(OLD_JOBS)])
    app = jobq.App(POSTGRES_URL, schema=bare_schema)
    try:
        assert app.migrate() == SCHEMA_VERSION
        check_old_jobs_counted(app)
    finally:
        app.close()


def test_finishes_of_one_queue_never_wait_for_each_other_s_counts(
    app: jobq.App, store: isolation.Store
) -> None:
    # Two workers finishing jobs of the same queue at once: the second's finish must not
    # wait for the first's transaction (a shared counter row would hold it until then).
    first, second = (app.enqueue("noop") for _ in range(2))
    (a, b) = app.backend.claim("w", ["default"], 2, 60.0)
    schema = store.options["schema"]
    holder = psycopg.connect(POSTGRES_URL)
    try:
        holder.execute(f'UPDATE "{schema}".jobq_jobs SET status = \'succeeded\', '
                       "finished_at = now() WHERE id = %s", [a.id])  # its transaction open
        with _raw() as other:
            other.execute("SET lock_timeout = '5s'")
            other.execute(f'UPDATE "{schema}".jobq_jobs SET status = \'succeeded\', '
                          "finished_at = now() WHERE id = %s", [b.id])
        holder.commit()
    finally:
        holder.close()
    assert app.stats() == {"default": {"succeeded": 2}}
    assert {first.refresh().status, second.refresh().status} == {jobq.Status.SUCCEEDED}
