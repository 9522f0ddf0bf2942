"""How the command line shows jobs: rich tables for people, stable JSON for scripts.

Everything a job carries is outside data: it reaches the terminal as ``rich.text.Text``
(never markup) with its control characters escaped (``jobq.text``), or as JSON.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import click
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from jobq.backends.base import Links
from jobq.job import JobRecord, Status
from jobq.text import escape_controls, safe_json

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


def short_time(moment: datetime | None) -> str:
    if moment is None:
        return "-"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def emit_json(data: Any) -> None:
    click.echo(safe_json(data, indent=2, ensure_ascii=False))


def shown(value: str, style: str = "") -> Text:
    """Outside text as one line of literal text: no markup, control characters escaped."""
    return Text(escape_controls(value), style=style)


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
            shown(r.id), shown(r.task), shown(r.queue), status_text(r.status),
            f"{r.attempts}/{r.max_attempts}", short_time(r.created_at),
            # A job that succeeded after a retry keeps its last error; it is no longer news.
            shown(r.error.type) if r.error and r.status is not Status.SUCCEEDED else "",
        )
    return table


def _json_text(value: Any) -> Text:
    return Text(safe_json(value, ensure_ascii=False, indent=None))


def job_details(record: JobRecord) -> Group:
    """Every field of one job; the traceback, if any, below the table."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    none = Text("-", style="dim")
    rows: list[tuple[str, Text]] = [
        ("id", shown(record.id)),
        ("task", shown(record.task)),
        ("queue", shown(record.queue)),
        ("status", status_text(record.status)),
        ("attempts", Text(f"{record.attempts} of at most {record.max_attempts}")),
        ("lost leases", Text(f"{record.lost_leases} of at most {record.max_lost}")),
        ("priority", Text(str(record.priority))),
        ("args", _json_text(record.args)),
        ("kwargs", _json_text(record.kwargs)),
        ("key", shown(record.key) if record.key else none),
        ("timeout", Text(f"{record.timeout:g}s") if record.timeout else none),
        ("run at", Text(short_time(record.run_at) + " UTC")),
        ("created", Text(short_time(record.created_at) + " UTC")),
        ("started", Text(short_time(record.started_at) + " UTC") if record.started_at else none),
        ("finished", Text(short_time(record.finished_at) + " UTC") if record.finished_at
         else none),
        ("lease until", Text(short_time(record.lease_expires_at) + " UTC")
         if record.lease_expires_at else none),
        ("worker", shown(record.worker_id) if record.worker_id else none),
        ("task unknown", Text(f"since {short_time(record.unknown_task_since)} UTC (no "
                                "worker that took it had the task)")
         if record.unknown_task_since else none),
        ("limit key", shown(record.limit_key) if record.limit_key else none),
        ("limit held", Text(f"since {short_time(record.limit_held_since)} UTC (its rate or "
                                 "concurrency limit; it waits without using an attempt)")
         if record.limit_held_since else none),
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
    grid.add_row(label, shown(f"{error.type}: {error.message}", style="red"))
    if not error.traceback.strip():
        return Group(grid)
    # The traceback keeps its line breaks, and only them.
    return Group(grid, Text(""), Text("traceback:", style="bold"),
                 Text(escape_controls(error.traceback.rstrip(), keep_newlines=True)))


LINKS_SHOWN = 20  # per list in `jobq show`; --json lists every one


def links_view(links: Links, get: Callable[[str], JobRecord | None]) -> Group:
    """What a job waits for and what waits for it: id, task and state of each (the first
    ``LINKS_SHOWN`` of each list), below the job's own fields."""
    parts: list[Any] = []
    for title, ids in (("waits for", links.dependencies), ("waited on by", links.dependents)):
        if not ids:
            continue
        table = Table(box=None, header_style="bold", pad_edge=False,
                      title=f"{title} ({len(ids)})", title_justify="left", title_style="bold")
        table.add_column("id", no_wrap=True)
        table.add_column("task", overflow="fold")
        table.add_column("status", no_wrap=True)
        for job_id in ids[:LINKS_SHOWN]:
            found = get(job_id)
            if found is None:
                table.add_row(shown(job_id), Text("-", style="dim"), Text("deleted", style="dim"))
            else:
                table.add_row(shown(job_id), shown(found.task), status_text(found.status))
        parts += [Text(""), table]
        if len(ids) > LINKS_SHOWN:
            parts.append(Text(f"… and {len(ids) - LINKS_SHOWN} more (--json lists them all)",
                              style="dim"))
    return Group(*parts)


def stats_table(data: Mapping[str, Any]) -> Table:
    table = Table(header_style="bold")
    table.add_column("queue")
    for status in Status:
        table.add_column(status.value, justify="right", header_style=STATUS_STYLE[status])
    table.add_column("all", justify="right")
    rows: list[tuple[str, Mapping[str, int]]] = list(data["queues"].items())
    for queue, counts in rows:
        table.add_row(shown(queue), *(_count(counts[s.value]) for s in Status),
                      str(sum(counts.values())))
    if len(rows) > 1:
        total: Mapping[str, int] = data["total"]
        table.add_section()
        table.add_row(Text("total", style="bold"), *(_count(total[s.value]) for s in Status),
                      str(sum(total.values())))
    return table


def _count(n: int) -> Text:
    return Text(f"{n:,}", style="" if n else "dim")
