"""How the command line shows jobs: rich tables for people, stable JSON for scripts."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import click
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from jobq.job import JobRecord, Status

STATUS_STYLE = {
    Status.BLOCKED: "magenta",
    Status.SCHEDULED: "yellow",
    Status.PENDING: "cyan",
    Status.RUNNING: "blue",
    Status.SUCCEEDED: "green",
    Status.FAILED: "bold red",
    Status.CANCELLED: "dim",
}


def console(stderr: bool = False) -> Console:
    """A console for tables. When the output is not a terminal, lines are not wrapped at
    80 columns, so ``jobq jobs | grep`` sees whole rows."""
    out = Console(stderr=stderr, highlight=False)
    if not out.is_terminal and "COLUMNS" not in os.environ:
        out = Console(stderr=stderr, highlight=False, width=200)
    return out


def iso(moment: datetime | None) -> str | None:
    """ISO-8601 in UTC with a ``Z``, e.g. ``2025-01-31T09:30:00.123456Z``."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def short_time(moment: datetime | None) -> str:
    if moment is None:
        return "-"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def job_dict(record: JobRecord) -> dict[str, Any]:
    """Every field of a job as JSON-ready data. The keys are stable: scripts rely on them."""
    error = record.error
    return {
        "id": record.id,
        "task": record.task,
        "queue": record.queue,
        "status": record.status.value,
        "priority": record.priority,
        "attempts": record.attempts,
        "max_attempts": record.max_attempts,
        "args": record.args,
        "kwargs": record.kwargs,
        "key": record.key,
        "timeout": record.timeout,
        "result": record.result,
        "error": None if error is None else {
            "type": error.type, "message": error.message, "traceback": error.traceback,
        },
        "run_at": iso(record.run_at),
        "created_at": iso(record.created_at),
        "started_at": iso(record.started_at),
        "finished_at": iso(record.finished_at),
        "lease_expires_at": iso(record.lease_expires_at),
        "worker_id": record.worker_id,
        "cancel_requested": record.cancel_requested,
        "meta": record.meta,
        "lost_leases": record.lost_leases,
        "max_lost": record.max_lost,
        "unknown_task_since": iso(record.unknown_task_since),
    }


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def status_text(status: Status) -> Text:
    return Text(status.value, style=STATUS_STYLE.get(status, ""))


def jobs_table(records: Iterable[JobRecord]) -> Table:
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("id", no_wrap=True)
    table.add_column("task", overflow="fold")
    table.add_column("queue")
    table.add_column("status", no_wrap=True)
    table.add_column("attempts", justify="right", no_wrap=True)
    table.add_column("created (UTC)", no_wrap=True)
    table.add_column("error", overflow="fold")
    for r in records:
        table.add_row(
            r.id, r.task, r.queue, status_text(r.status), f"{r.attempts}/{r.max_attempts}",
            short_time(r.created_at),
            # A job that succeeded after a retry keeps its last error; it is no longer news.
            r.error.type if r.error and r.status is not Status.SUCCEEDED else "",
        )
    return table


def _json_text(value: Any) -> Text:
    return Text(json.dumps(value, ensure_ascii=False, indent=None))


def job_details(record: JobRecord) -> Group:
    """Every field of one job; the traceback, if any, below the table."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    none = Text("-", style="dim")
    rows: list[tuple[str, Text]] = [
        ("id", Text(record.id)),
        ("task", Text(record.task)),
        ("queue", Text(record.queue)),
        ("status", status_text(record.status)),
        ("attempts", Text(f"{record.attempts} of at most {record.max_attempts}")),
        ("lost leases", Text(f"{record.lost_leases} of at most {record.max_lost}")),
        ("priority", Text(str(record.priority))),
        ("args", _json_text(record.args)),
        ("kwargs", _json_text(record.kwargs)),
        ("key", Text(record.key) if record.key else none),
        ("timeout", Text(f"{record.timeout:g}s") if record.timeout else none),
        ("run at", Text(short_time(record.run_at) + " UTC")),
        ("created", Text(short_time(record.created_at) + " UTC")),
        ("started", Text(short_time(record.started_at) + " UTC") if record.started_at else none),
        ("finished", Text(short_time(record.finished_at) + " UTC") if record.finished_at
         else none),
        ("lease until", Text(short_time(record.lease_expires_at) + " UTC")
         if record.lease_expires_at else none),
        ("worker", Text(record.worker_id) if record.worker_id else none),
        ("task unknown", Text(f"since {short_time(record.unknown_task_since)} UTC (no "
                                "worker that took it had the task)")
         if record.unknown_task_since else none),
        ("cancel asked", Text("yes" if record.cancel_requested else "no")),
        ("result", _json_text(record.result) if record.status is Status.SUCCEEDED else none),
    ]
    for label, value in rows:
        grid.add_row(label, value)
    error = record.error
    if error is None:
        grid.add_row("error", none)
        return Group(grid)
    label = "earlier error" if record.status is Status.SUCCEEDED else "error"
    grid.add_row(label, Text(f"{error.type}: {error.message}", style="red"))
    if not error.traceback.strip():
        return Group(grid)
    return Group(grid, Text(""), Text("traceback:", style="bold"),
                 Text(error.traceback.rstrip()))


def stats_data(stats: Mapping[str, Mapping[str, int]]) -> dict[str, Any]:
    """``{"queues": {queue: {status: n, …}}, "total": {status: n, …}}``, every status
    present (zeros included) so scripts can index without checks."""
    statuses = [s.value for s in Status]
    queues = {
        queue: {s: int(counts.get(s, 0)) for s in statuses}
        for queue, counts in sorted(stats.items())
    }
    total = {s: sum(q[s] for q in queues.values()) for s in statuses}
    return {"queues": queues, "total": total}


def stats_table(data: Mapping[str, Any]) -> Table:
    table = Table(header_style="bold")
    table.add_column("queue")
    for status in Status:
        table.add_column(status.value, justify="right", header_style=STATUS_STYLE[status])
    table.add_column("all", justify="right")
    rows: list[tuple[str, Mapping[str, int]]] = list(data["queues"].items())
    for queue, counts in rows:
        table.add_row(queue, *(_count(counts[s.value]) for s in Status),
                      str(sum(counts.values())))
    if len(rows) > 1:
        total: Mapping[str, int] = data["total"]
        table.add_section()
        table.add_row(Text("total", style="bold"), *(_count(total[s.value]) for s in Status),
                      str(sum(total.values())))
    return table


def _count(n: int) -> Text:
    return Text(f"{n:,}", style="" if n else "dim")
