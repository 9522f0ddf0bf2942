"""The PostgreSQL store's schema: its version, the migrations that build it, and the
refusals that say what to run when the version is not the one this jobq knows."""

from __future__ import annotations

import zlib
from typing import Any

import psycopg

from jobq.backends.policy import schema_refusal
from jobq.backends.sqlfiles import load_migrations
from jobq.config import redact_url
from jobq.errors import SchemaError

MIGRATIONS = load_migrations("postgres")
SCHEMA_VERSION = MIGRATIONS[-1].version


def migrate_hint(url: str, schema: str) -> str:
    env = "" if schema == "jobq" else f"JOBQ_SCHEMA={schema} "
    return f"run `{env}jobq migrate --url {redact_url(url)}`"


def missing_schema_message(url: str, schema: str, exc: object = None) -> str:
    why = f" ({str(exc).strip().splitlines()[0]})" if exc else ""
    return (
        f"jobq's tables are not in schema {schema!r} of {redact_url(url)}{why}; "
        f"{migrate_hint(url, schema)} to create them"
    )


def schema_version(conn: psycopg.Connection[Any], quoted: str) -> int:
    """The version recorded in the schema; 0 when jobq's tables are not there."""
    found = conn.execute("SELECT to_regclass(%s)", [f"{quoted}.jobq_schema"])
    if found.fetchone() == (None,):
        return 0
    row = conn.execute(f"SELECT max(version) FROM {quoted}.jobq_schema").fetchone()
    return int(row[0] or 0) if row else 0


def refusal(version: int, url: str, schema: str) -> SchemaError | None:
    """Why a schema at ``version`` cannot be used, or None when it can."""
    if version == 0:
        return SchemaError(missing_schema_message(url, schema))
    return schema_refusal(f"schema {schema!r} of {redact_url(url)}", version, SCHEMA_VERSION,
                          migrate_hint(url, schema))


def apply_migrations(conn: psycopg.Connection[Any], url: str, schema: str,
                     quoted: str) -> int:
    """Create the schema or bring it up to this jobq's version, in one transaction.
    Concurrent callers serialise on an advisory lock."""
    lock = zlib.crc32(f"jobq.migrate.{schema}".encode())
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", [lock])
        # Only create what is missing: CREATE … IF NOT EXISTS still needs the privilege.
        if conn.execute("SELECT to_regnamespace(%s)", [quoted]).fetchone() == (None,):
            conn.execute(f"CREATE SCHEMA {quoted}")
        if conn.execute("SELECT to_regclass(%s)", [f"{quoted}.jobq_schema"]).fetchone() == (
                None,):
            conn.execute(
                f"CREATE TABLE {quoted}.jobq_schema "
                "(version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
        current = schema_version(conn, quoted)
        if current > SCHEMA_VERSION and (problem := refusal(current, url, schema)):
            raise problem
        for migration in MIGRATIONS:
            if migration.version > current:
                # No parameters: the simple protocol runs the file's statements in turn.
                conn.execute(migration.sql.replace("{schema}", quoted).encode())
                conn.execute(f"INSERT INTO {quoted}.jobq_schema (version) VALUES (%s)",
                             [migration.version])
    return SCHEMA_VERSION
