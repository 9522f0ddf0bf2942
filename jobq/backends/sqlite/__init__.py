"""The embedded SQLite store: one file, WAL mode, claims in an IMMEDIATE transaction."""

from jobq.backends.sqlite.store import (
    MIGRATIONS,
    SCHEMA_VERSION,
    WAL_AUTOCHECKPOINT,
    SQLiteBackend,
    sqlite_path,
)

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "WAL_AUTOCHECKPOINT", "SQLiteBackend", "sqlite_path"]
