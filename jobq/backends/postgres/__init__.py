"""The PostgreSQL store: SKIP LOCKED claims, LISTEN/NOTIFY wake-ups, the database clock."""

from jobq.backends.postgres.schema import MIGRATIONS, SCHEMA_VERSION
from jobq.backends.postgres.store import COPY_FROM, PostgresBackend, connect

__all__ = ["COPY_FROM", "MIGRATIONS", "SCHEMA_VERSION", "PostgresBackend", "connect"]
