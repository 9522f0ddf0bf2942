"""What ``jobq demo`` shows: the intro, the live counts, the summary and what to try next.

On a terminal the counts are a live progress bar; elsewhere (CI logs, pipes) they are a
plain line every second, since a redrawn bar would only show up at the very end.
"""

from __future__ import annotations

import logging
import shlex
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from jobq.app import App
from jobq.job import Status
from jobq.text import escape_controls


@dataclass(frozen=True)
class Tally:
    """Job counts by state, over every queue."""

    counts: dict[str, int]

    @classmethod
    def of(cls, app: App) -> Tally:
        counts = {s.value: 0 for s in Status}
        for by_status in app.stats().values():
            for status, n in by_status.items():
                counts[status] = counts.get(status, 0) + n
        return cls(counts)

    def __getitem__(self, status: Status) -> int:
        return self.counts.get(status.value, 0)

    @property
    def finished(self) -> int:
        return self[Status.SUCCEEDED] + self[Status.FAILED] + self[Status.CANCELLED]

    def line(self) -> str:
        """The counts in rich markup (numbers only, so nothing needs escaping)."""
        return (f"[green]✔ {self[Status.SUCCEEDED]:,} sent[/]  "
                f"[yellow]↻ {self[Status.SCHEDULED]:,} retrying[/]  "
                f"[red]✖ {self[Status.FAILED]:,} failed[/]  "
                f"[blue]▶ {self[Status.RUNNING]:,} running[/]")


def print_intro(console: Console, url: str, jobs: int, concurrency: int, bad: int) -> None:
    console.print("\n[bold]jobq demo[/] — background jobs on one SQLite file, no server\n")
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row("store", f"{escape(url)}\n[dim]WAL mode; kept after the demo so you can "
                 "look around[/]")
    grid.add_row("jobs", f"{jobs:,} weekly e-mail digests (task jobq.demo.send_digest, "
                 "retries=3)\n"
                 "· every 10th user's mail server times out once: ConnectionError, retried "
                 "after a short backoff\n"
                 f"· {bad} users have broken addresses: ValueError, not retried, so they end "
                 "failed (the dead-letter list)")
    grid.add_row("worker", f"jobq.worker.Worker with {concurrency} threads, burst mode "
                 "(stops when nothing is left)")
    console.print(grid)
    console.print()


class _DeadLetters(logging.Handler):
    """Prints each job that failed for good as it happens (the worker logs it at ERROR)."""

    def __init__(self, console: Console) -> None:
        super().__init__(logging.ERROR)
        self.console = console

    def emit(self, record: logging.LogRecord) -> None:
        message = escape(escape_controls(record.getMessage()))  # job data: text, not control
        self.console.print(f"  [red]✖[/] {message}", soft_wrap=True)


@contextmanager
def _worker_logs(console: Console) -> Iterator[None]:
    """Show the worker's errors on the console, and nothing else (100 retry warnings
    would bury the display; the counts tell that story)."""
    logger = logging.getLogger("jobq")
    handler = _DeadLetters(console)
    propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def watch(console: Console, watcher: App, thread: threading.Thread, total: int) -> Tally:
    """Show live counts until ``thread`` (the worker) ends; return the last counts."""
    with _worker_logs(console):
        if console.is_terminal:
            return _watch_bar(console, watcher, thread, total)
        return _watch_lines(console, watcher, thread, total)


def _watch_bar(console: Console, watcher: App, thread: threading.Thread, total: int) -> Tally:
    columns = (SpinnerColumn(), TextColumn("[bold]Sending digests"), BarColumn(),
               MofNCompleteColumn(), TextColumn("{task.fields[detail]}"), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        bar = progress.add_task("digests", total=total, detail="")
        while True:
            alive = thread.is_alive()
            tally = Tally.of(watcher)
            progress.update(bar, completed=tally.finished, detail=tally.line())
            if not alive:
                return tally
            thread.join(0.1)


def _watch_lines(console: Console, watcher: App, thread: threading.Thread,
                 total: int) -> Tally:
    started = time.monotonic()
    next_line = started + 1.0
    while thread.is_alive():
        thread.join(0.1)
        if time.monotonic() >= next_line:
            next_line += 1.0
            tally = Tally.of(watcher)
            _print_line(console, started, Tally.of(watcher), total)
    tally = Tally.of(watcher)
    _print_line(console, started, tally, total)
    return tally


def _print_line(console: Console, started: float, tally: Tally, total: int) -> None:
    console.print(f"  {time.monotonic() - started:4.1f}s  {tally.finished:>5,}/{total:,} "
                  f"finished  {tally.line()}", soft_wrap=True)


def print_summary(console: Console, app: App, url: str, tally: Tally, elapsed: float,
                  concurrency: int) -> None:
    records = [job.record for job in app.jobs(limit=max(tally.finished, 1) * 2)]
    retried = [r for r in records if r.status is Status.SUCCEEDED and r.attempts > 1]
    attempts = sum(r.attempts for r in records)
    failed = [r for r in records if r.status is Status.FAILED]

    table = Table(title="Summary", title_justify="left", title_style="bold")
    table.add_column("status")
    table.add_column("jobs", justify="right")
    table.add_column("")
    table.add_row("[green]succeeded[/]", f"{tally[Status.SUCCEEDED]:,}",
                  f"{len(retried):,} of them after a retry")
    table.add_row("[red]failed[/]", f"{tally[Status.FAILED]:,}",
                  "the dead-letter list: errors that are not retried")
    for status in (Status.SCHEDULED, Status.PENDING, Status.RUNNING, Status.CANCELLED):
        if tally[status]:
            table.add_row(status.value, f"{tally[status]:,}", "")
    table.add_section()
    table.add_row("[bold]total[/]", f"{sum(tally.counts.values()):,}",
                  f"{attempts:,} attempts in all")
    console.print()
    console.print(table)
    console.print(f"Worked off in [bold]{elapsed:.1f}s[/]: "
                  f"[bold]{tally.finished / max(elapsed, 1e-9):,.0f} jobs/s[/] "
                  f"with {concurrency} threads.\n")
    _print_next_steps(console, url, failed[0].id if failed else None)


def jobq_command() -> str:
    """The command that runs this jobq, as a reader can paste it: ``jobq`` when that is
    the one on PATH, else the script it was started by (``make demo`` starts
    ``.venv/bin/jobq``), else this Python with ``-m jobq``."""
    started = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if started is not None and started.name == "jobq" and started.is_file():
        on_path = shutil.which("jobq")
        if on_path and Path(on_path).resolve() == started.resolve():
            return "jobq"
        return shlex.quote(str(started))
    return f"{shlex.quote(sys.executable)} -m jobq"


def _print_next_steps(console: Console, url: str, failed_id: str | None) -> None:
    jobq = jobq_command()
    base = f"{jobq} --url {shlex.quote(url)}"
    steps = [(f"{base} jobs --status failed", "the dead-letter list"),
             (f"{base} stats", "counts by queue and state")]
    if failed_id:
        steps += [
            (f"{base} show {failed_id}", "one failure: arguments, error, traceback"),
            (f"{base} retry {failed_id}", "send it back to the queue"),
            (f"{jobq} --app jobq.demo:app --url {shlex.quote(url)} worker --burst",
             "run it again (it fails again: the address is still bad)"),
        ]
    console.print("[bold]Look around[/] (the store stays at "
                  f"{escape(url.removeprefix('sqlite:///'))}):")
    for command, why in steps:
        console.print(f"  [cyan]{escape(command)}[/]", soft_wrap=True)
        console.print(f"      [dim]# {escape(why)}[/]")
    console.print()
