"""What ``jobq stats`` adds about the workers: how many run, and which jobs wait for a task
that none of them has registered (a rolling deploy not finished, or a task removed)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from rich.console import Group
from rich.text import Text

from jobq.cli.render import short_time, shown


def fleet_text(overview: Mapping[str, Any]) -> Group:
    """The workers part of ``jobq.jobjson.stats_overview`` as ``jobq stats`` prints it."""
    workers = overview["workers"]
    lines: list[Text] = [Text(f"{workers} worker{'' if workers == 1 else 's'} running.")]
    held = overview.get("waiting_on_limits", 0)
    if held:
        lines.append(Text(f"{held:,} waiting job(s) held back by their rate or concurrency "
                          "limit."))
    waiting = overview["waiting_for_tasks"]
    if waiting:
        lines.append(Text("Jobs waiting for a task no running worker has registered:",
                          style="bold yellow"))
        lines += [shown(f"  {task}: {w['jobs']:,} job(s), handed back since "
                        f"{short_time(datetime.fromisoformat(w['since']))} UTC")
                  for task, w in waiting.items()]
    return Group(*lines)
