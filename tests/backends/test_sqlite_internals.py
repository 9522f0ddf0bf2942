"""What only the SQLite store promises: its file, pragmas, schema and migrations."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

import jobq
from jobq.backends.sqlfiles import Migration
from jobq.backends.sqlite import MIGRATIONS, SCHEMA_VERSION, SQLiteBackend, sqlite_path
from jobq.backends.sqlite import schema as sqlite_schema
from jobq.config import Settings
from jobq.errors import BackendError, ConfigError, SchemaError
from tests.backends.support import OLD_JOBS, check_old_jobs_counted, reap_and_run_the_old_job


@contextmanager
def _raw(url: str) -> Iterator[sqlite3.Connection]:
    """A plain connection to the store's file, behind jobq's back; commits on exit."""
    conn = sqlite3.connect(sqlite_path(url)[0])
    try:
        with conn:
            yield conn
    finally:
        conn.close()


def _schema(conn: sqlite3.Connection) -> list[tuple[str, str, str]]:
    """Every table and index jobq made, with its SQL, ignoring the version table's rows."""
    return sorted(conn.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
    ).fetchall())


@pytest.fixture
def app(sqlite_url: str) -> jobq.App:
    app = jobq.App(sqlite_url)

    @app.task(name="noop")
    def noop() -> None: ...

    return app


def test_sqlite_paths() -> None:
    assert sqlite_path("sqlite:///jobq.db") == ("jobq.db", {})
    assert sqlite_path("sqlite:////var/lib/jobq.db") == ("/var/lib/jobq.db", {})
    assert sqlite_path("sqlite:///a/b.db?synchronous=full") == ("a/b.db", {"synchronous": "full"})


def test_the_store_is_one_file_in_wal_mode(app: jobq.App, sqlite_url: str) -> None:
    app.tasks["noop"].enqueue()
    path = Path(sqlite_path(sqlite_url)[0])
    assert path.exists()
    with _raw(sqlite_url) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert app.backend.conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # normal


@pytest.mark.parametrize(("mode", "level"), [("off", 0), ("normal", 1), ("FULL", 2),
                                             ("extra", 3)])
def test_synchronous_option(tmp_path: Path, mode: str, level: int) -> None:
    backend = SQLiteBackend(Settings(url=f"sqlite:///{tmp_path / 'x.db'}?synchronous={mode}"))
    assert backend.conn.execute("PRAGMA synchronous").fetchone()[0] == level
    backend.close()


def test_a_bad_synchronous_option_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"synchronous must be one of .*'sometimes'"):
        jobq.App(f"sqlite:///{tmp_path / 'x.db'}?synchronous=sometimes").get_job("x")
    assert not (tmp_path / "x.db").exists()


def test_the_schema_version_is_recorded(app: jobq.App, sqlite_url: str) -> None:
    assert app.migrate() == SCHEMA_VERSION
    with _raw(sqlite_url) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM jobq_schema ORDER BY 1")]
    assert versions == list(range(1, SCHEMA_VERSION + 1))
    app.backend.check_schema()


def test_migrate_twice_changes_nothing_and_keeps_jobs(app: jobq.App, sqlite_url: str) -> None:
    job = app.tasks["noop"].enqueue()
    with _raw(sqlite_url) as conn:
        before = _schema(conn)
    assert app.migrate() == SCHEMA_VERSION
    assert app.migrate() == SCHEMA_VERSION
    with _raw(sqlite_url) as conn:
        assert _schema(conn) == before
        assert conn.execute("SELECT COUNT(*) FROM jobq_schema").fetchone()[0] == SCHEMA_VERSION
    assert app.get_job(job.id) is not None


def test_migrations_rebuild_the_schema_a_store_gets_on_first_use(
    app: jobq.App, sqlite_url: str, tmp_path: Path
) -> None:
    app.get_job("x")  # the store creates its schema on first use
    by_hand = sqlite3.connect(tmp_path / "by_hand.db")
    by_hand.execute("CREATE TABLE jobq_schema (version INTEGER PRIMARY KEY, "
                    "applied_at REAL NOT NULL)")
    for migration in MIGRATIONS:
        by_hand.executescript(migration.sql)
    with _raw(sqlite_url) as conn:
        assert _schema(conn) == _schema(by_hand)
    by_hand.close()


def test_a_store_with_a_newer_schema_is_refused(sqlite_url: str) -> None:
    jobq.App(sqlite_url).get_job("x")
    with _raw(sqlite_url) as conn:
        conn.execute("INSERT INTO jobq_schema VALUES (?, ?)", (SCHEMA_VERSION + 1, time.time()))
    with pytest.raises(SchemaError, match=r"newer than this jobq knows.*upgrade jobq"):
        jobq.App(sqlite_url).get_job("x")


def test_an_older_store_is_upgraded_on_first_use(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = jobq.App(sqlite_url)
    old.task(name="noop")(lambda: None)
    job = old.enqueue("noop")
    old.close()
    extra = Migration(SCHEMA_VERSION + 1, "test_column",
                      "ALTER TABLE jobq_jobs ADD COLUMN test_note TEXT")
    monkeypatch.setattr(sqlite_schema, "MIGRATIONS", [*MIGRATIONS, extra])
    monkeypatch.setattr(sqlite_schema, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    new = jobq.App(sqlite_url)
    assert new.get_job(job.id) is not None  # the job survived the upgrade
    new.backend.check_schema()
    with _raw(sqlite_url) as conn:
        columns = [r[1] for r in conn.execute("PRAGMA table_info(jobq_jobs)")]
        assert "test_note" in columns
        assert conn.execute("SELECT MAX(version) FROM jobq_schema").fetchone()[0] == (
            SCHEMA_VERSION + 1
        )
    new.close()


# A migration as a release might write one: a trigger whose body holds statements, a
# string and a comment that hold ';'.
TRIGGER_MIGRATION = """
-- Notes; each change to one is logged.
CREATE TABLE jobq_note (id INTEGER PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE jobq_note_log (body TEXT NOT NULL);
CREATE TRIGGER jobq_note_logged AFTER UPDATE ON jobq_note BEGIN
  INSERT INTO jobq_note_log VALUES (old.body || ' -> ' || new.body);
  INSERT INTO jobq_note_log VALUES ('done; logged');
END;
INSERT INTO jobq_note VALUES (1, 'a; b');  -- a literal; not two statements
"""


def _upgrade_with(sqlite_url: str, monkeypatch: pytest.MonkeyPatch, sql: str) -> jobq.App:
    first = jobq.App(sqlite_url)  # a store of this release first
    first.get_job("x")
    first.close()
    extra = Migration(SCHEMA_VERSION + 1, "test_note", sql)
    monkeypatch.setattr(sqlite_schema, "MIGRATIONS", [*MIGRATIONS, extra])
    monkeypatch.setattr(sqlite_schema, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    return jobq.App(sqlite_url)


def test_a_migration_runs_as_written_triggers_and_literals_included(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _upgrade_with(sqlite_url, monkeypatch, TRIGGER_MIGRATION)
    assert app.get_job("x") is None  # upgraded on first use
    app.close()
    with _raw(sqlite_url) as conn:
        assert conn.execute("SELECT body FROM jobq_note").fetchall() == [("a; b",)]
        conn.execute("UPDATE jobq_note SET body = 'c'")
        assert conn.execute("SELECT body FROM jobq_note_log").fetchall() == [
            ("a; b -> c",), ("done; logged",)]
        assert conn.execute("SELECT MAX(version) FROM jobq_schema").fetchone()[0] == (
            SCHEMA_VERSION + 1)


def test_a_migration_that_fails_part_way_leaves_nothing_behind(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _upgrade_with(sqlite_url, monkeypatch,
                        TRIGGER_MIGRATION + "INSERT INTO no_such_table VALUES (1);\n")
    with pytest.raises(BackendError, match="no_such_table"):
        app.get_job("x")
    app.close()
    with _raw(sqlite_url) as conn:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        assert not names & {"jobq_note", "jobq_note_log", "jobq_note_logged"}
        assert conn.execute("SELECT MAX(version) FROM jobq_schema").fetchone()[0] == (
            SCHEMA_VERSION)


def test_a_store_written_at_version_1_is_upgraded_and_its_jobs_kept(sqlite_url: str) -> None:
    # Written as the release before workflows left it: one pending job, which a job of
    # this release then waits for.
    _store_at_version(
        sqlite_url, 1,
        "(id, task, queue, args, kwargs, status, attempts, max_attempts, run_at, created_at) "
        "VALUES ('kept', 'noop', 'default', '[]', '{}', 'pending', 0, 1, ?, ?)",
        [(time.time(), time.time())])
    new = jobq.App(sqlite_url)  # upgraded on first use
    new.task(name="noop")(lambda: None)
    kept = new.get_job("kept")
    assert kept is not None
    waiter = new.tasks["noop"].with_options(depends_on=[kept]).enqueue()
    assert waiter.status is jobq.Status.BLOCKED
    new.run_worker(concurrency=1, burst=True)
    assert [j.refresh().status for j in (kept, waiter)] == [jobq.Status.SUCCEEDED] * 2
    new.close()


def test_a_corrupt_row_reads_back_without_failing(app: jobq.App, sqlite_url: str) -> None:
    job = app.tasks["noop"].enqueue()
    with _raw(sqlite_url) as conn:
        conn.execute("UPDATE jobq_jobs SET args = 'garbage', kwargs = '{', status = "
                     "'succeeded', result = '[unterminated' WHERE id = ?", (job.id,))
    record = app.get_job(job.id)
    assert record is not None
    assert (record.record.args, record.record.kwargs) == ("garbage", "{")
    assert record.result(timeout=1) == "[unterminated"
    assert [j.id for j in app.jobs()] == [job.id]


def test_a_store_locked_past_the_busy_timeout_raises_backend_error(
    app: jobq.App, sqlite_url: str
) -> None:
    job = app.tasks["noop"].enqueue()
    impatient = SQLiteBackend(Settings(url=sqlite_url), busy_timeout=0.05)
    with _raw(sqlite_url) as holder:
        holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        with pytest.raises(BackendError, match=r"jobq.db: database is locked"):
            impatient.claim("w", ["default"], 1, 30.0)
        holder.execute("ROLLBACK")
    # The failed write left nothing half-done: the same backend works once the lock is gone.
    (claimed,) = impatient.claim("w", ["default"], 1, 30.0)
    assert claimed.id == job.id
    impatient.close()


def test_the_store_refuses_a_status_the_state_machine_does_not_know(
    app: jobq.App, sqlite_url: str
) -> None:
    job = app.tasks["noop"].enqueue()
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"), _raw(sqlite_url) as conn:
        conn.execute("UPDATE jobq_jobs SET status = 'paused' WHERE id = ?", (job.id,))
    assert job.refresh().status is jobq.Status.PENDING


@pytest.mark.parametrize("status", ["blocked", "scheduled", "pending", "running", "failed",
                                    "cancelled"])
def test_listing_one_status_reads_only_that_status_s_index(
    app: jobq.App, status: str
) -> None:
    # Succeeded rows are most of a busy store: a listing of any other status must not
    # scan the table for them, with or without a queue or task filter.
    backend = app.backend
    assert isinstance(backend, SQLiteBackend)
    statements: list[str] = []
    backend.conn.set_trace_callback(statements.append)
    try:
        app.jobs(status=status)
        app.jobs(status=status, queue="default", task="noop")
    finally:
        backend.conn.set_trace_callback(None)
    listings = [s for s in statements if s.startswith("SELECT * FROM jobq_jobs")]
    assert len(listings) == 2
    for sql in listings:
        plan = [row[3] for row in backend.conn.execute("EXPLAIN QUERY PLAN " + sql)]
        assert plan and all("USING" in step or "ORDER BY" in step for step in plan), plan


def test_a_store_of_schema_1_upgrades_itself_and_its_running_job_loses_a_lease_not_an_attempt(
    sqlite_url: str,
) -> None:
    # Written as the release before schema 2 left it: a worker died holding a job that
    # had no retries (its lease ran out an hour ago).
    _store_at_version(
        sqlite_url, 1,
        "(id, task, queue, args, kwargs, status, attempts, max_attempts, run_at, created_at, "
        "lease_expires_at, lease_token, worker_id) "
        "VALUES ('old', 'noop', 'default', '[]', '{}', 'running', 1, 1, ?, ?, ?, 't', 'w')",
        [(time.time() - 7200, time.time() - 7200, time.time() - 3600)])
    app = jobq.App(sqlite_url)  # upgraded on first use
    app.task(name="noop")(lambda: None)
    try:
        app.backend.check_schema()
        reap_and_run_the_old_job(app)
    finally:
        app.close()


def _store_at_version(url: str, version: int, job_columns_and_values: str,
                      params: Sequence[Sequence[object]]) -> None:
    """A store as schema ``version`` left it, holding the jobs inserted here: one row per
    item of ``params``."""
    with _raw(url) as conn:
        conn.execute("CREATE TABLE jobq_schema (version INTEGER PRIMARY KEY, "
                     "applied_at REAL NOT NULL)")
        for migration in MIGRATIONS[:version]:
            conn.executescript(migration.sql)
            conn.execute("INSERT INTO jobq_schema VALUES (?, ?)",
                         (migration.version, time.time()))
        conn.executemany(f"INSERT INTO jobq_jobs {job_columns_and_values}", params)


def test_a_store_of_schema_4_gets_its_finished_counts_from_its_rows(sqlite_url: str) -> None:
    # Written as the release before maintained counts left it.
    _store_at_version(
        sqlite_url, 4,
        "(id, task, queue, args, kwargs, status, attempts, max_attempts, run_at, created_at, "
        "finished_at) VALUES (?, 'noop', ?, '[]', '{}', ?, 1, 1, 0, 0, 0)",
        [(f"old{i}", queue, status) for i, (queue, status) in enumerate(OLD_JOBS)])
    app = jobq.App(sqlite_url)  # upgraded on first use
    try:
        check_old_jobs_counted(app)
    finally:
        app.close()
