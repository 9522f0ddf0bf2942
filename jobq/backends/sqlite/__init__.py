"""The embedded SQLite store: one file, WAL mode, claims in an IMMEDIATE transaction."""

from jobq.backends.sqlite.access import WAL_AUTOCHECKPOINT
from jobq.backends.sqlite.files import sqlite_path
from jobq.backends.sqlite.schema import MIGRATIONS, SCHEMA_VERSION
from jobq.backends.sqlite.store import SQLiteBackend, connect

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "WAL_AUTOCHECKPOINT", "SQLiteBackend", "connect",
           "sqlite_path"]
