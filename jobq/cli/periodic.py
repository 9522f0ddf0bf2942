"""``jobq periodic``: each periodic task with its schedule, last and next tick, and the
worker that leads now."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table
from rich.text import Text

from jobq.cli import render
from jobq.cli.context import CliState, reports_errors, store_options
from jobq.jobjson import periodic_data


@click.command("periodic")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@store_options
@click.pass_obj
@reports_errors
def periodic_command(state: CliState, as_json: bool) -> None:
    """List the periodic tasks any live worker defines, and the current leader."""
    data = periodic_data(state.open().backend.periodic_state())
    if as_json:
        render.emit_json(data)
        return
    out = render.console()
    if not data["tasks"]:
        out.print("No periodic tasks: no worker has registered one.")
    else:
        out.print(_table(data["tasks"]))
    leader = data["leader"]
    if leader is None:
        out.print(Text("leader: none (a worker takes the lead when it has a periodic task "
                       "to fire)", style="dim"))
    else:
        out.print(render.shown(f"leader: {leader['holder']} (term {leader['term']}, since "
                       f"{_short(leader['since'])} UTC, lease until "
                       f"{_short(leader['lease_until'])} UTC)"))


def _short(iso_time: str | None) -> str:
    return "-" if iso_time is None else iso_time[:19].replace("T", " ")


def _table(tasks: list[dict[str, Any]]) -> Table:
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("task", "schedule", "catch-up", "queue", "last tick (UTC)",
                   "next tick (UTC)"):
        table.add_column(column, overflow="fold")
    for task in tasks:
        schedule = render.shown(task["schedule"])
        if task["versions"] > 1:
            schedule.append(f" (+{task['versions'] - 1} other version(s) live)", style="dim")
        if not task["live"]:
            schedule.append(" (no live worker defines it: not firing)", style="dim")
        table.add_row(render.shown(task["name"]), schedule, task["catch_up"],
                      render.shown(task["queue"]),
                      _short(task["last_tick"]), _short(task["next_tick"]))
    return table
