"""The SQLite store's file: its URL, and what to tell the user when SQLite cannot write
it (a full disk, a file size limit, a read-only file or folder, a damaged file)."""

from __future__ import annotations

import difflib
import os
import resource
import sqlite3
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from jobq.errors import BackendError, ConfigError

URL_OPTIONS = ("synchronous",)


def sqlite_path(url: str) -> tuple[str, dict[str, str]]:
    """The file path and options of a ``sqlite:///relative`` or ``sqlite:////abs`` URL."""
    parts = urlsplit(url)
    if parts.scheme != "sqlite" or parts.netloc:
        raise ConfigError(
            f"{url!r} is not a SQLite URL; write sqlite:///relative/path.db or "
            "sqlite:////absolute/path.db"
        )
    path = parts.path[1:] if parts.path.startswith("/") else parts.path
    if not path:
        raise ConfigError(f"{url!r} names no file; write sqlite:///jobq.db")
    options = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    for name in options:
        if name not in URL_OPTIONS:
            near = difflib.get_close_matches(name, URL_OPTIONS, n=1)
            hint = f"did you mean {near[0]!r}?" if near else f"the one it takes: {URL_OPTIONS}"
            raise ConfigError(f"{url!r}: unknown option {name!r} in the URL; {hint}")
    return path, options


def is_store_error(exc: BaseException | None) -> bool:
    """SQLite's own errors (locked past the busy timeout, disk full, a damaged file)
    surface as ``BackendError`` naming the store, which workers wait out and retry.
    IntegrityError passes through: callers turn it into their own message."""
    return isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.IntegrityError)


def store_error(url: str, path: str, exc: sqlite3.DatabaseError) -> BackendError:
    """A ``BackendError`` that says what is wrong and what to do about it."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    hint = ""
    if name.startswith(("SQLITE_FULL", "SQLITE_IOERR")):
        hint = (f"; writing the file failed{_room(path)}: if the disk is full or a file size "
                "limit was reached, free space and try again (jobs already stored are kept: "
                "the failed change was rolled back)")
    elif name.startswith("SQLITE_READONLY"):
        hint = (f"; {path} or its folder is read-only to this process (in WAL mode SQLite "
                "also writes the -wal and -shm files beside it): make them writable")
    elif name.startswith("SQLITE_CANTOPEN"):
        hint = f"; check that the folder of {path} exists and this process may write in it"
    return BackendError(f"{url}: {exc}{hint}")


def _room(path: str) -> str:
    """The free space beside ``path`` and any file size limit, as " (…)"; "" if unknown."""
    notes = []
    try:
        stat = os.statvfs(Path(path).resolve().parent)
        notes.append(f"{stat.f_bavail * stat.f_frsize / 1e6:,.1f} MB free on its disk")
    except OSError:
        pass
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    if limit != resource.RLIM_INFINITY:
        notes.append(f"a file size limit of {limit / 1e6:,.1f} MB (ulimit -f)")
    return f" ({', '.join(notes)})" if notes else ""
