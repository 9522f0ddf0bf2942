"""One frozen settings object. The only place that reads JOBQ_* environment variables."""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from jobq.errors import ConfigError

DEFAULT_URL = "sqlite:///jobq.db"


@dataclass(frozen=True)
class Settings:
    """Everything an ``App`` is configured with.

    url: where jobs live (``sqlite:///path``, ``postgresql://…``, ``redis://…``).
    lease: seconds a claimed job stays a worker's without a heartbeat.
    schema: the PostgreSQL schema holding jobq's tables.
    prefix: the prefix of every Redis key jobq writes.
    retention: seconds finished jobs are kept before pruning (None keeps them).
    """

    url: str = DEFAULT_URL
    lease: float = 30.0
    schema: str = "jobq"
    prefix: str = "jobq:"
    retention: float | None = 7 * 24 * 3600.0
    default_queue: str = "default"

    def __post_init__(self) -> None:
        if self.lease <= 0:
            raise ConfigError(f"lease must be a positive number of seconds, got {self.lease!r}")
        if self.retention is not None and self.retention <= 0:
            raise ConfigError(
                f"retention must be positive seconds or None, got {self.retention!r}"
            )


_ENV = {"url": "JOBQ_URL", "lease": "JOBQ_LEASE", "schema": "JOBQ_SCHEMA",
        "prefix": "JOBQ_PREFIX", "retention": "JOBQ_RETENTION"}
_TEXT = ("url", "schema", "prefix")


def _parse_float(name: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ConfigError(f"${_ENV[name]}={text!r} is not a number") from None


def load_settings(
    options: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Build ``Settings`` from explicit options, then $JOBQ_*, then defaults.

    An unknown option raises ``ConfigError`` naming the nearest valid one.
    """
    options = dict(options or {})
    env = os.environ if environ is None else environ
    valid = [f.name for f in fields(Settings)]
    for name in options:
        if name not in valid:
            near = difflib.get_close_matches(name, valid, n=1)
            hint = f"; did you mean {near[0]!r}?" if near else f"; valid options: {valid}"
            raise ConfigError(f"unknown option {name!r}{hint}")
    values: dict[str, Any] = {}
    for name, var in _ENV.items():
        if options.get(name) is None and env.get(var):
            raw = env[var]
            values[name] = raw if name in _TEXT else _parse_float(name, raw)
    values.update({k: v for k, v in options.items() if v is not None})
    return replace(Settings(), **values)


def app_reference(environ: Mapping[str, str] | None = None) -> str | None:
    """The ``module:attr`` named by $JOBQ_APP, if set."""
    env = os.environ if environ is None else environ
    return env.get("JOBQ_APP") or None


def redact_url(url: str) -> str:
    """The URL with any password replaced by ``***``, safe to print."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = (parts.username or "")
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[-1]}"))
