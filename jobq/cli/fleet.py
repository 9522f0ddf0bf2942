"""What ``jobq stats`` adds about the workers: how many run, and which jobs wait for a task
that none of them has registered (a rolling deploy not finished, or a task removed)."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.text import Text

from jobq.app import App
from jobq.backends.base import WaitingTask, utc
from jobq.cli.render import iso, short_time


class Fleet:
    def __init__(self, app: App) -> None:
        self.workers = len(app.workers())
        self.waiting: list[WaitingTask] = app.waiting_for_tasks()

    def data(self) -> dict[str, Any]:
        """``{"workers": n, "waiting_for_tasks": {task: {"jobs": n, "since": iso}}}``."""
        return {
            "workers": self.workers,
            "waiting_for_tasks": {w.task: {"jobs": w.jobs, "since": iso(utc(w.since))}
                                  for w in self.waiting},
        }

    def text(self) -> Group:
        lines = [Text(f"{self.workers} worker{'' if self.workers == 1 else 's'} running.")]
        if self.waiting:
            lines.append(Text("Jobs waiting for a task no running worker has registered:",
                              style="bold yellow"))
            lines += [Text(f"  {w.task}: {w.jobs:,} job(s), handed back since "
                           f"{short_time(utc(w.since))} UTC") for w in self.waiting]
        return Group(*lines)
