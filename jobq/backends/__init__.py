"""Backend selection by URL scheme. Backends import lazily: the SQLite core needs no extras."""

from __future__ import annotations

import importlib
from urllib.parse import urlsplit

from jobq.backends.base import Backend
from jobq.config import Settings, redact_url
from jobq.errors import ConfigError

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
    """The backend for ``settings.url``. Connects lazily, on first use."""
    kind = backend_kind(settings.url)
    if kind == "sqlite":
        from jobq.backends.sqlite import SQLiteBackend

        return SQLiteBackend(settings.url)
    # Each server backend module exposes connect(settings) -> Backend.
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
    backend: Backend = module.connect(settings)
    return backend
