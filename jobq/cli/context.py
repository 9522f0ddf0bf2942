"""What every command shares: finding the App, opening its store, and exit codes.

A command runs in two phases. First the App is loaded and its store opened and checked;
any problem there is a configuration or connection problem (exit 3). Then the command
does its work; a ``JobqError`` there means the thing asked for failed (exit 1). Usage
errors are click's (exit 2). Either way the user sees one line on stderr, never a
traceback.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar
from urllib.parse import urlsplit

import click

from jobq.app import App
from jobq.appref import load_app
from jobq.config import redact_url, where_url
from jobq.errors import JobqError, one_line
from jobq.text import escape_controls

log = logging.getLogger("jobq")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_CONFIG = 3

P = ParamSpec("P")
R = TypeVar("R")
F = TypeVar("F", bound=Callable[..., Any])


class _OneLineError(click.ClickException):
    """An error shown as one line, safe to print: its message may quote a job's data (an
    id, a task name, an error), so its control characters are escaped."""

    def format_message(self) -> str:
        return escape_controls(one_line(self.message))


class CommandFailed(_OneLineError):
    """The thing asked for failed or was not found (exit code 1)."""

    exit_code = EXIT_FAILED


class ConfigProblem(_OneLineError):
    """The app could not be loaded or the store could not be opened (exit code 3)."""

    exit_code = EXIT_CONFIG


def hide_password(message: str, url: str | None) -> str:
    """``message`` on one line, with any spelling of ``url``'s password replaced by ``***``."""
    message = one_line(message)
    if not url:
        return message
    redacted = redact_url(url)
    if redacted == url:
        return message
    message = message.replace(url, redacted)
    password = urlsplit(url).password
    if password:
        message = message.replace(f":{password}@", ":***@")
    return message




def _made_on_first_use(url: str) -> bool:
    """SQLite and Redis stores are made by their first writer; PostgreSQL's by migrate."""
    return not urlsplit(url).scheme.startswith("postgres")


def _missing(app: App) -> str:
    """What is missing where a reading command found no store."""
    url, settings = app.settings.url, app.settings
    kind = urlsplit(url).scheme
    if kind == "sqlite":
        from jobq.backends.sqlite import sqlite_path

        return f"the file {sqlite_path(url)[0]!r} does not exist"
    if kind.startswith("redis"):
        return f"no key {settings.prefix + 'schema'!r} (is the prefix, $JOBQ_PREFIX, right?)"
    return f"no jobq tables in schema {settings.schema!r} ($JOBQ_SCHEMA)"


@dataclass
class CliState:
    """The global options, and the App they name (built once, on first use)."""

    app_ref: str | None = None
    url: str | None = None
    _app: App | None = field(default=None, repr=False)

    def app(self, *, need_tasks: str | None = None) -> App:
        """The App of ``--app`` (its URL replaced by ``--url``), else one built from
        ``--url`` / ``$JOBQ_URL``. ``need_tasks`` names a command that cannot work
        without ``--app``."""
        if need_tasks and not self.app_ref:
            raise click.UsageError(
                f"{need_tasks} needs the application's tasks: pass --app module:attr "
                "(or set $JOBQ_APP)"
            )
        if self._app is None:
            try:
                if self.app_ref:
                    app = load_app(self.app_ref)
                    app.import_tasks()
                    if self.url:
                        app.reconfigure(url=self.url)
                else:
                    app = App(self.url)
            except JobqError as exc:
                raise ConfigProblem(hide_password(str(exc), self.url)) from None
            self._app = app
        return self._app

    def open(self, *, create: bool = False, need_tasks: str | None = None,
             announce: bool = False) -> App:
        """The App, its store opened and its schema checked.

        Unless ``create``, a SQLite file that does not exist is refused rather than made:
        a mistyped ``--url`` must not leave an empty store behind.
        """
        app = self.app(need_tasks=need_tasks)
        url = app.settings.url
        try:
            if not app.backend.exists():
                if not create:
                    raise ConfigProblem(
                        f"no jobq store at {redact_url(url)}: {_missing(app)}; check --url / "
                        "$JOBQ_URL (or create it with `jobq migrate`)")
                if announce and _made_on_first_use(url):
                    log.warning("no jobq store at %s yet (%s): starting with a new, empty one. "
                                "If you meant an existing store, check --url / $JOBQ_URL and "
                                "the folder this started in", where_url(url), _missing(app),
                                extra={"action": "new_store"})
            app.backend.check_schema()
        except JobqError as exc:
            raise ConfigProblem(self.describe(exc, url)) from None
        return app

    def describe(self, exc: BaseException, url: str) -> str:
        """A store problem as one line that names the store, password hidden."""
        message = hide_password(str(exc), url)
        redacted = redact_url(url)
        if redacted not in message:
            message = f"{message} (store: {redacted})"
        return message

    def close(self) -> None:
        if self._app is not None:
            self._app.close()


def _remember(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    state = ctx.find_object(CliState)
    if value is not None and state is not None:
        if param.name == "app_ref":
            state.app_ref = value
        else:
            state.url = value


def store_options(fn: F) -> F:
    """``--app`` and ``--url`` after the command name too (``jobq jobs --url …``), as
    users and error hints write them; they win over the ones before it."""
    fn = click.option("--url", "url", metavar="URL", expose_value=False, callback=_remember,
                      help="The store (as jobq --url).")(fn)
    return click.option("--app", "app_ref", metavar="MODULE:ATTR", expose_value=False,
                        callback=_remember, help="The application (as jobq --app).")(fn)


def reports_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Show a ``JobqError`` raised by a command's work as one line, exit code 1."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except JobqError as exc:
            state = click.get_current_context().find_object(CliState)
            url = state._app.settings.url if state and state._app else None
            raise CommandFailed(hide_password(str(exc), url)) from None

    return wrapper
