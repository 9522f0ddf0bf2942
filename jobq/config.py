"""One frozen settings object. The only place that reads JOBQ_* environment variables."""

from __future__ import annotations

import difflib
import functools
import inspect
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from jobq.errors import ConfigError

DEFAULT_URL = "sqlite:///jobq.db"
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Settings:
    """Everything an ``App`` is configured with.

    url: where jobs live (``sqlite:///path``, ``postgresql://…``, ``redis://…``).
    lease: seconds a claimed job stays a worker's without a heartbeat.
    schema: the PostgreSQL schema holding jobq's tables.
    prefix: the prefix of every Redis key jobq writes.
    retention: seconds succeeded and cancelled jobs are kept before pruning (None keeps
        them); failed jobs, the dead-letter list, stay until purged.
    include: modules that define more of the app's tasks, imported by workers and the CLI
        (``App.import_tasks``), so tasks outside the module that builds the App are found.
    unknown_task_timeout: seconds a job may wait for a worker that has its task (workers
        that lack it hand it back) before it fails with UnknownTask (None: for ever).
    """

    url: str = DEFAULT_URL
    lease: float = 30.0
    schema: str = "jobq"
    prefix: str = "jobq:"
    retention: float | None = 7 * 24 * 3600.0
    default_queue: str = "default"
    include: tuple[str, ...] = ()
    unknown_task_timeout: float | None = 3600.0

    def __post_init__(self) -> None:
        include = (self.include,) if isinstance(self.include, str) else self.include
        if not isinstance(include, Iterable) or not all(
                isinstance(m, str) and m for m in include):
            raise ConfigError(
                f"include must be module names such as ['myapp.reports'], got {self.include!r}"
            )
        object.__setattr__(self, "include", tuple(include))
        for name in ("url", "schema", "prefix", "default_queue"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ConfigError(f"{name} must be a non-empty string, got {value!r}")
        if not _SCHEMA_NAME.match(self.schema):
            raise ConfigError(
                f"schema must be a plain SQL name (letters, digits, _), got {self.schema!r}"
            )
        _check_seconds("lease", self.lease)
        for name in _NONE_MEANS_NONE:
            if getattr(self, name) is not None:
                _check_seconds(name, getattr(self, name))


_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def _check_seconds(name: str, value: object) -> None:
    # bool is an int to Python, but lease=True is a mistake, not one second.
    if (isinstance(value, bool) or not isinstance(value, int | float)
            or not math.isfinite(value) or value <= 0):
        raise ConfigError(f"{name} must be a positive number of seconds, got {value!r}")


_ENV = {"url": "JOBQ_URL", "lease": "JOBQ_LEASE", "schema": "JOBQ_SCHEMA",
        "prefix": "JOBQ_PREFIX", "retention": "JOBQ_RETENTION",
        "unknown_task_timeout": "JOBQ_UNKNOWN_TASK_TIMEOUT"}
_TEXT = ("url", "schema", "prefix")
# Options where an explicit None means something ("keep forever"), not "not given".
_NONE_MEANS_NONE = ("retention", "unknown_task_timeout")
_OFF = ("none", "off", "never", "forever")


def _from_env(name: str, text: str) -> Any:
    if name in _TEXT:
        return text
    if name in _NONE_MEANS_NONE and text.strip().lower() in _OFF:
        return None
    try:
        return float(text)
    except ValueError:
        off = f" or {'/'.join(_OFF)}" if name in _NONE_MEANS_NONE else ""
        raise ConfigError(
            f"${_ENV[name]}={text!r} is not a number; give seconds, such as 30{off}"
        ) from None


def load_settings(
    options: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Build ``Settings`` from explicit options, then $JOBQ_*, then defaults.

    An option given as None counts as not given, except ``retention=None``, which keeps
    finished jobs forever, and ``unknown_task_timeout=None``, which waits for ever. An
    unknown option raises ``ConfigError`` naming the nearest valid one.
    """
    options = dict(options or {})
    env = os.environ if environ is None else environ
    check_names("option", options, [f.name for f in fields(Settings)])
    given = {k: v for k, v in options.items() if v is not None or k in _NONE_MEANS_NONE}
    values: dict[str, Any] = {}
    for name, var in _ENV.items():
        if name not in given and env.get(var):
            values[name] = _from_env(name, env[var])
    values.update(given)
    return replace(Settings(), **values)


def check_names(what: str, given: Iterable[str], valid: Sequence[str]) -> None:
    """Raise ``ConfigError`` for a name in ``given`` that is not in ``valid``, naming the
    nearest valid one (a misspelt option must never be silently dropped)."""
    for name in given:
        if name not in valid:
            near = difflib.get_close_matches(name, valid, n=1)
            hint = f"; did you mean {near[0]!r}?" if near else f"; valid options: {list(valid)}"
            raise ConfigError(f"unknown {what} {name!r}{hint}")


def checked_keywords(fn: F) -> F:
    """Make ``fn`` refuse an unknown keyword with ``ConfigError`` naming the nearest valid
    one, where Python would raise a bare ``TypeError`` (``with_options(dealy=5)``)."""
    signature = inspect.signature(fn)
    params = signature.parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return fn  # it takes any keyword: nothing to check
    valid = [p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
             and p.name != "self"]
    what = f"{fn.__qualname__.replace('.__init__', '')}() option"

    @functools.wraps(fn)
    def checked(*args: Any, **kwargs: Any) -> Any:
        if kwargs:
            check_names(what, kwargs, valid)
        return fn(*args, **kwargs)

    return cast(F, checked)


def app_reference(environ: Mapping[str, str] | None = None) -> str | None:
    """The ``module:attr`` named by $JOBQ_APP, if set."""
    env = os.environ if environ is None else environ
    return env.get("JOBQ_APP") or None


LOG_FORMATS = ("text", "json")


def log_format(given: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """The worker's log format: ``given`` (``--log-format``), else $JOBQ_LOG_FORMAT, else
    ``text``. Raises ``ConfigError`` for a name not in ``LOG_FORMATS``."""
    env = os.environ if environ is None else environ
    if given:
        source, text = "--log-format", given
    else:
        source, text = "$JOBQ_LOG_FORMAT", env.get("JOBQ_LOG_FORMAT") or LOG_FORMATS[0]
    name = text.strip().lower()
    if name not in LOG_FORMATS:
        raise ConfigError(
            f"{source}={text!r} is not a log format; use {' or '.join(LOG_FORMATS)}"
        )
    return name
def api_token(environ: Mapping[str, str] | None = None) -> str | None:
    """The HTTP API's bearer token named by $JOBQ_API_TOKEN, if set (``jobq serve``)."""
    env = os.environ if environ is None else environ
    return env.get("JOBQ_API_TOKEN") or None


def redact_url(url: str) -> str:
    """The URL with any password replaced by ``***``, safe to print.

    Covers the password in the user part (``user:pw@host``) and in the query
    (``?password=pw``, as libpq accepts). A URL too malformed to parse is cut down to
    its scheme, since it may hold a password where a parser cannot find it.
    """
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        scheme = url.split("://", 1)[0] if "://" in url else ""
        return f"{scheme}://***" if scheme else "***"
    if password is not None:
        host = parts.netloc.rsplit("@", 1)[-1]
        url = url.replace(parts.netloc, f"{parts.username or ''}:***@{host}", 1)
    if parts.query:
        pairs = [p.partition("=") for p in parts.query.split("&")]
        query = "&".join(
            f"{k}{eq}***" if k.lower() in _SECRET_PARAMS and eq else f"{k}{eq}{v}"
            for k, eq, v in pairs
        )
        url = url.replace(f"?{parts.query}", f"?{query}", 1)
    return url


_SECRET_PARAMS = ("password", "passwd", "pwd", "sslpassword")


def where_url(url: str) -> str:
    """``redact_url``, with a relative SQLite path made absolute: a log line that says
    where the store is, whatever folder the process started in."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite" and not parts.netloc:
        path = parts.path[1:] if parts.path.startswith("/") else parts.path
        if path and path != ":memory:" and not path.startswith(("/", "file:")):
            url = url.replace(f"sqlite:///{path}", f"sqlite:///{os.path.abspath(path)}", 1)
    return redact_url(url)
