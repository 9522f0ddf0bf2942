"""The ``jobq`` command (also ``python -m jobq``).

Exit codes: 0 ok; 1 the thing asked for failed or was not found; 2 usage error;
3 configuration or connection problem. See docs/cli.md.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys

import click

from jobq.cli.admin import migrate_command, purge_command, stats_command, worker_command
from jobq.cli.context import EXIT_USAGE, CliState, ConfigProblem, reports_errors
from jobq.cli.jobs import (
    cancel_command,
    enqueue_command,
    jobs_command,
    retry_command,
    show_command,
)
from jobq.cli.periodic import periodic_command
from jobq.config import app_reference
from jobq.text import escape_controls

__all__ = ["cli", "main"]

# Commands whose modules are imported only when asked for: (module, attribute).
LAZY_COMMANDS = {"bench": ("jobq.benchmark", "bench"), "serve": ("jobq.cli.serve", "serve_command")}


class JobqGroup(click.Group):
    """The command group, plus commands that live in optional modules (``bench``)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        lazy = [n for n, (mod, _) in LAZY_COMMANDS.items() if _module_exists(mod)]
        return sorted({*super().list_commands(ctx), *lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None or cmd_name not in LAZY_COMMANDS:
            return command
        module_name, attr = LAZY_COMMANDS[cmd_name]
        if not _module_exists(module_name):
            return None
        found = getattr(importlib.import_module(module_name), attr, None)
        return found if isinstance(found, click.Command) else None


def _module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ImportError:
        return False


@click.group(cls=JobqGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--app", "app_ref", metavar="MODULE:ATTR",
              help="The application: the jobq.App named ATTR in MODULE, imported from the "
              "current directory (default: $JOBQ_APP).")
@click.option("--url", metavar="URL", help="The store, overriding the app's own URL "
              "(default: the app's, else $JOBQ_URL, else sqlite:///jobq.db).")
@click.version_option(package_name="jobq", prog_name="jobq")
@click.pass_context
def cli(ctx: click.Context, app_ref: str | None, url: str | None) -> None:
    """jobq: background jobs on SQLite, PostgreSQL or Redis.

    Exit codes: 0 ok, 1 failed or not found, 2 usage error, 3 configuration or
    connection problem.
    """
    state = CliState(app_ref=app_ref or app_reference(), url=url)
    ctx.obj = state
    ctx.call_on_close(state.close)


@cli.command("demo")
@click.option("--dir", "directory", type=click.Path(file_okay=False), default=".demo",
              show_default=True, help="Where the demo keeps its SQLite file, demo.db (replaced "
              "on each run, kept afterwards).")
@reports_errors
def demo_command(directory: str) -> None:
    """The guided tour: 1,000 e-mail jobs, some flaky, worked off on an embedded SQLite
    file. Needs no server."""
    from jobq.demo import run_demo

    try:
        run_demo(directory)
    except OSError as exc:  # the folder cannot be made or written
        raise ConfigProblem(f"cannot keep the demo's store in {directory!r}: {exc}") from None


for _command in (worker_command, jobs_command, show_command, enqueue_command, retry_command,
                 cancel_command, stats_command, purge_command, migrate_command,
                 periodic_command):
    cli.add_command(_command)


def main() -> None:
    """Console entry point."""
    for position, arg in enumerate(sys.argv[1:], start=1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:  # bytes the terminal could not decode (surrogateescape)
            shown = escape_controls(arg.encode("utf-8", "surrogateescape").decode("latin-1"))
            click.echo(f"Error: argument {position} ({shown}) is not valid UTF-8; jobq takes "
                       "names and JSON as UTF-8 text", err=True)
            sys.exit(EXIT_USAGE)
    cli(prog_name="jobq")
