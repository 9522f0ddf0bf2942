"""Backend selection by URL scheme. Backends import lazily: the SQLite core needs no extras."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from jobq.backends.base import Backend, TransactionalBackend
from jobq.config import Settings, redact_url
from jobq.errors import ConfigError

# One constructor shape for every store: its package's ``connect``.
Connect = Callable[[Settings], Backend]

_SCHEMES = {
    "sqlite": "sqlite",
    "postgresql": "postgres",
    "postgres": "postgres",
    "redis": "redis",
    "rediss": "redis",
}


def backend_kind(url: str) -> str:
    """The backend module for ``url``'s scheme; ``ConfigError`` if jobq has none."""
    kind = _SCHEMES.get(urlsplit(url).scheme)
    if kind is None:
        raise ConfigError(
            f"unsupported jobq URL {redact_url(url)!r}: the scheme must be one of "
            f"{sorted(_SCHEMES)} (e.g. sqlite:///jobq.db, postgresql://host/db, redis://host)"
        )
    return kind


def open_backend(settings: Settings) -> Backend:
    """The backend for ``settings.url``. Connects lazily, on first use.

    Every store package has the same constructor, ``connect(settings)``; the server
    stores import only when asked for, so a missing extra is named here."""
    kind = backend_kind(settings.url)
    try:
        module = importlib.import_module(f"jobq.backends.{kind}")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("jobq"):
            raise ConfigError(
                f"{redact_url(settings.url)}: the {kind} backend is not available in this jobq"
            ) from exc
        raise ConfigError(
            f"{redact_url(settings.url)} needs the {kind} extra: pip install -e "
            f"'.[{kind}]' in a jobq checkout (missing module {exc.name!r})"
        ) from exc
    connect: Connect = module.connect
    return connect(settings)


if TYPE_CHECKING:
    # mypy holds every store to the protocols, though nothing here imports them at run time.
    from jobq.backends import postgres, redis, sqlite

    _CONNECTS: tuple[Connect, ...] = (sqlite.connect, postgres.connect, redis.connect)
    _TRANSACTIONAL: tuple[Callable[[Settings], TransactionalBackend], ...] = (
        postgres.connect,)
