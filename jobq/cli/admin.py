"""Commands about the whole store and its workers: worker, stats, purge, migrate."""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
from collections.abc import Callable
from typing import Any

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from jobq.app import App
from jobq.cli import render
from jobq.cli.context import CliState, ConfigProblem, reports_errors, store_options
from jobq.cli.fleet import fleet_text
from jobq.config import LOG_FORMATS, log_format, redact_url
from jobq.errors import ConfigError, JobqError
from jobq.job import FINISHED, Status
from jobq.jobjson import stats_json, stats_overview
from jobq.logs import formatter
from jobq.worker.pools import POOLS

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


@click.command("worker")
@click.option("--concurrency", "-c", type=click.IntRange(min=1), default=4, show_default=True,
              metavar="N",
              help="Jobs run at the same time.")
@click.option("--pool", type=click.Choice(list(POOLS)), default="thread", show_default=True,
              help="What runs the jobs. thread: tasks that wait on I/O (the default). "
              "process: CPU-bound tasks, in N child processes: real parallelism, a hard time "
              "limit, and a crash costs one job, not the worker. async: async def tasks, up "
              "to N coroutines on one event loop (plain functions run on threads beside it).")
@click.option("--queues", "-q", metavar="A,B", help="Queues to take jobs from, comma-separated "
              "(default: the app's default queue).")
@click.option("--burst", is_flag=True, help="Stop when nothing is left to do (this worker's "
              "own retries are waited for; delayed jobs are left for later).")
@click.option("--prefetch", type=click.IntRange(min=0), metavar="N",
              help="Jobs claimed beyond --concurrency, so a free slot never waits for the "
              "store (default: 4 x concurrency). A claimed job shows as running, its lease "
              "held, until it starts; 0 claims only what can start at once (long jobs, or "
              "many workers sharing few jobs).")
@click.option("--grace", type=click.FloatRange(min=0), default=30.0, show_default=True,
              metavar="SECONDS",
              help="On SIGTERM/SIGINT, seconds running jobs get to finish before they are "
              "handed back to the queue.")
@click.option("--kill-after", type=click.FloatRange(min=0), default=5.0, show_default=True,
              metavar="SECONDS",
              help="Seconds a task may run past its timeout (which raises jobq.Timeout in it) "
              "before the process pool kills it with its child, or the async pool gives up "
              "on it.")
@click.option("--max-tasks-per-child", type=click.IntRange(min=1), metavar="N",
              help="--pool process: replace a child after N jobs.")
@click.option("--max-memory-per-child", type=click.IntRange(min=1), metavar="MIB",
              help="--pool process: replace a child whose resident memory is above MIB after "
              "a job.")
@click.option("--log-level", type=click.Choice(LOG_LEVELS, case_sensitive=False),
              default="INFO", show_default=True, help="INFO logs every state change.")
@click.option("--log-format", "format_name",
              type=click.Choice(LOG_FORMATS, case_sensitive=False),
              help="text: lines for people; json: one JSON object per line, for log "
              "pipelines (default: $JOBQ_LOG_FORMAT, else text).")
@store_options
@click.pass_obj
@reports_errors
def worker_command(state: CliState, concurrency: int, pool: str, queues: str | None,
                   burst: bool, prefetch: int | None, grace: float, kill_after: float,
                   max_tasks_per_child: int | None, max_memory_per_child: int | None,
                   log_level: str, format_name: str | None) -> None:
    """Run jobs until SIGTERM/SIGINT (a second signal stops at once), or with --burst
    until nothing is left. Needs --app (the process pool's children import it too)."""
    try:
        chosen = log_format(format_name)
    except ConfigError as exc:
        raise ConfigProblem(str(exc)) from None
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(chosen))
    # Like basicConfig: a process that configured logging already keeps its handlers.
    logging.basicConfig(handlers=[handler])
    logging.getLogger("jobq").setLevel(getattr(logging, log_level.upper()))
    app = state.open(create=True, need_tasks="worker", announce=True)
    names = [q.strip() for q in queues.split(",") if q.strip()] if queues else None
    # The children import the app as --app names it; the per-child limits are refused
    # with another pool, not ignored.
    children: dict[str, Any] = {"app_ref": state.app_ref} if pool == "process" else {}
    for name, value in (("max_tasks_per_child", max_tasks_per_child),
                        ("max_memory_per_child", max_memory_per_child)):
        if value is not None:
            children[name] = value
    if prefetch is not None:
        children["prefetch"] = prefetch
    app.run_worker(concurrency=concurrency, pool=pool, queues=names, burst=burst, grace=grace,
                   kill_after=kill_after, **children)


@click.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@store_options
@click.pass_obj
@reports_errors
def stats_command(state: CliState, as_json: bool) -> None:
    """Count jobs by queue and state; how many workers run, and which jobs wait for a task
    that no running worker has registered."""
    data = stats_overview(state.open())
    if as_json:
        render.emit_json(data)
        return
    out = render.console()
    if not data["queues"]:
        out.print("The store holds no jobs.")
    else:
        out.print(render.stats_table(data))
    out.print(fleet_text(data))


def _statuses(ctx: click.Context, param: click.Parameter, value: str) -> list[Status]:
    finished = sorted(s.value for s in FINISHED)
    wanted = []
    for name in (v.strip() for v in value.split(",")):
        if name not in finished:
            raise click.BadParameter(f"{name!r} is not one of {', '.join(finished)} (only "
                                     "finished jobs can be purged)")
        wanted.append(Status(name))
    return wanted


@click.command("purge")
@click.option("--older-than", type=click.FloatRange(min=0), default=0.0, show_default=True,
              metavar="SECONDS", help="Only jobs that finished at least this long ago.")
@click.option("--status", "statuses", default="succeeded", show_default=True,
              callback=_statuses, metavar="S,S", help="Which finished jobs: any of "
              "succeeded, failed, cancelled, comma-separated.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@store_options
@click.pass_obj
@reports_errors
def purge_command(state: CliState, older_than: float, statuses: list[Status], yes: bool,
                  as_json: bool) -> None:
    """Delete finished jobs for good."""
    app = state.open()
    names = ",".join(s.value for s in statuses)
    at_most = _count(app, statuses)
    if at_most == 0:
        deleted = 0
    else:
        if not yes:
            click.confirm(f"Delete {names} jobs that finished over {older_than:g}s ago (up to "
                          f"{at_most:,})? This cannot be undone", abort=True, err=True)
        deleted = _with_progress(app, statuses, at_most,
                                 lambda: app.purge(older_than, statuses))
    if as_json:
        render.emit_json({"deleted": deleted, "statuses": [s.value for s in statuses],
                          "older_than": older_than})
    else:
        click.echo(f"deleted {deleted:,} {names} job(s)")


def _count(app: App, statuses: list[Status]) -> int:
    totals = stats_json(app.stats())["total"]
    return sum(int(totals[s.value]) for s in statuses)


def _with_progress(app: App, statuses: list[Status], at_most: int,
                   work: Callable[[], int]) -> int:
    """Run ``work`` (a purge) in a thread and draw its progress on stderr.

    The store deletes in small batches; progress is how far the matching count has
    fallen, so it is exact for the jobs that qualify and may stop short of ``at_most``.
    """
    outcome: list[int] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            outcome.append(work())
        except BaseException as exc:
            failure.append(exc)

    out = render.console(stderr=True)
    thread = threading.Thread(target=run, name="jobq-purge", daemon=True)
    with Progress(TextColumn("deleting"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=out, transient=True,
                  disable=not out.is_terminal) as progress:
        bar = progress.add_task("purge", total=at_most)
        thread.start()
        while thread.is_alive():
            thread.join(0.2)
            # A progress read may fail while the purge holds the store; the next one counts.
            with contextlib.suppress(JobqError):
                progress.update(bar, completed=max(0, at_most - _count(app, statuses)))
    if failure:
        raise failure[0]
    return outcome[0]


@click.command("migrate")
@store_options
@click.pass_obj
def migrate_command(state: CliState) -> None:
    """Create or upgrade the store's schema. Warns (on stderr) about store settings that
    can lose jobs, such as a Redis that keeps nothing on disk."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter("text"))  # a store's warning may quote what it holds
    logging.basicConfig(handlers=[handler])
    app = state.app()
    url = app.settings.url
    try:
        version = app.migrate()
    except JobqError as exc:
        raise ConfigProblem(state.describe(exc, url)) from None
    click.echo(f"{redact_url(url)}: jobq schema at version {version}")
