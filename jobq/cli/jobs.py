"""Commands about single jobs and lists of them: jobs, show, enqueue, retry, cancel."""

from __future__ import annotations

import json
from typing import Any

import click
from rich.text import Text

from jobq.cli import render
from jobq.cli.context import CliState, CommandFailed, reports_errors, store_options
from jobq.config import redact_url
from jobq.job import Job, Status
from jobq.jobjson import job_json
from jobq.text import escape_controls

json_option = click.option("--json", "as_json", is_flag=True,
                           help="Print JSON (every field, UTC ISO-8601 times) for scripts.")


@click.command("jobs")
@click.option("--status", type=click.Choice([s.value for s in Status]),
              help="Only jobs in this state (failed: the dead-letter list).")
@click.option("--task", help="Only jobs of this task (its registered name).")
@click.option("--queue", help="Only jobs on this queue.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True,
              help="At most this many jobs.")
@json_option
@store_options
@click.pass_obj
@reports_errors
def jobs_command(state: CliState, status: str | None, task: str | None, queue: str | None,
                 limit: int, as_json: bool) -> None:
    """List jobs, newest first."""
    app = state.open()
    found = app.jobs(status=status, task=task, queue=queue, limit=limit)
    if as_json:
        render.emit_json([job_json(job.record) for job in found])
        return
    out = render.console()
    if not found:
        out.print("No jobs match.")
        return
    out.print(render.jobs_table(job.record for job in found))
    if len(found) == limit:
        out.print(Text(f"(the {limit} newest; --limit shows more)", style="dim"))


@click.command("show")
@click.argument("job_id", metavar="ID")
@json_option
@store_options
@click.pass_obj
@reports_errors
def show_command(state: CliState, job_id: str, as_json: bool) -> None:
    """Show every field of one job: arguments, result, error and traceback."""
    job = _existing(state, job_id)
    if as_json:
        render.emit_json(job_json(job.record))
    else:
        render.console().print(render.job_details(job.record))


def _existing(state: CliState, job_id: str) -> Job:
    app = state.open()
    job = app.get_job(job_id)
    if job is None:
        raise CommandFailed(f"no job with id {job_id!r} in {redact_url(app.settings.url)}; "
                            "`jobq jobs` lists the ids")
    return job


_JSON_EXAMPLES = {"ARGS-AS-JSON": """'["a@b.c", 3]' or '"hello"'""",
                  "--kwargs": """'{"subject": "hi", "retries": 3}'"""}


def _parse_json(text: str, param: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise click.BadParameter(
            f"{text!r} is not JSON ({exc}); strings need JSON quotes inside shell quotes, "
            f"e.g. {_JSON_EXAMPLES[param]}",
            param_hint=param,
        ) from None


@click.command("enqueue")
@click.argument("task_name", metavar="TASK")
@click.argument("args_json", metavar="[ARGS-AS-JSON]", required=False)
@click.option("--kwargs", "kwargs_json", metavar="JSON",
              help="""Keyword arguments as a JSON object, e.g. '{"subject": "hi"}'.""")
@click.option("--delay", type=click.FloatRange(min=0), metavar="SECONDS",
              help="Run it no sooner than this many seconds from now.")
@click.option("--priority", type=int, metavar="N", help="Higher runs first (default: the task's).")
@click.option("--queue", help="Queue to put it on (default: the task's).")
@click.option("--key", help="Idempotency key: while a job with this key is unfinished, "
              "enqueue returns it instead of adding another.")
@json_option
@store_options
@click.pass_obj
@reports_errors
def enqueue_command(state: CliState, task_name: str, args_json: str | None,
                    kwargs_json: str | None, delay: float | None, priority: int | None,
                    queue: str | None, key: str | None, as_json: bool) -> None:
    """Enqueue TASK and print the job's id.

    ARGS-AS-JSON is a JSON list of positional arguments; any other JSON value is the one
    argument. Needs --app, to know the task.
    """
    args: list[Any] = []
    if args_json is not None:
        parsed = _parse_json(args_json, "ARGS-AS-JSON")
        args = parsed if isinstance(parsed, list) else [parsed]
    kwargs: dict[str, Any] = {}
    if kwargs_json is not None:
        kwargs = _parse_json(kwargs_json, "--kwargs")
        if not isinstance(kwargs, dict):
            raise click.BadParameter(
                f"{kwargs_json!r} is not a JSON object; give the names and values, e.g. "
                f"{_JSON_EXAMPLES['--kwargs']}", param_hint="--kwargs")
    app = state.open(create=True, need_tasks="enqueue")
    task = app.get_task(task_name)
    job = task.with_options(delay=delay, priority=priority, queue=queue, key=key).enqueue(
        *args, **kwargs
    )
    if as_json:
        render.emit_json(job_json(job.record))
    else:
        click.echo(escape_controls(job.id))


@click.command("retry")
@click.argument("job_id", metavar="ID")
@json_option
@store_options
@click.pass_obj
@reports_errors
def retry_command(state: CliState, job_id: str, as_json: bool) -> None:
    """Run a failed or cancelled job again, with a fresh set of attempts."""
    job = state.open().retry(job_id)
    if as_json:
        render.emit_json(job_json(job.record))
    else:
        click.echo(escape_controls(f"job {job.id} ({job.task}) is pending again; a worker "
                                   "will run it"))


@click.command("cancel")
@click.argument("job_id", metavar="ID")
@json_option
@store_options
@click.pass_obj
@reports_errors
def cancel_command(state: CliState, job_id: str, as_json: bool) -> None:
    """Cancel a job: a waiting job never runs; a running one is asked to stop.

    A running thread task stops only if it checks jobq.current_job().cancel_requested;
    an async task is cancelled. Exit code 1 if the job had already finished (cancelled
    included): nothing changed, as app.cancel() returning False.
    """
    job = _existing(state, job_id)
    if not job.cancel():
        raise CommandFailed(
            f"job {job.id} already ended {job.status.value}; there is nothing to cancel"
        )
    if as_json:
        render.emit_json(job_json(job.record))
    elif job.status is Status.CANCELLED:
        click.echo(escape_controls(f"job {job.id} is cancelled"))
    else:
        click.echo(escape_controls(f"job {job.id} is running; it was asked to stop (it ends "
                                   "cancelled if the task stops, or finishes normally if it "
                                   "does not listen)"))
