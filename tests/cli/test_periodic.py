"""jobq periodic: each periodic task with its schedule, last and next tick, and the
worker that leads now; JSON for scripts."""

from __future__ import annotations

import json
import math
import time
from datetime import datetime

import jobq
from jobq.app import new_job_id
from jobq.backends.base import NewJob, TickVerdict
from jobq.job import Status
from jobq.worker.leader import PeriodicLoop, holder_id
from tests.cli.conftest import Jobq


def _parse(text: str) -> float:
    assert text.endswith("Z"), text
    return datetime.fromisoformat(text).timestamp()


def test_periodic_shows_schedules_ticks_and_the_leader(run: Jobq, url: str) -> None:
    app = jobq.App(url, lease=30.0)

    @app.periodic(cron="*/5 * * * *", tz="Europe/Berlin", name="sweep", queue="maint")
    def sweep() -> None: ...

    @app.periodic(every=60, name="report", catch_up="all")
    def report() -> None: ...

    loop = PeriodicLoop(app.backend, list(app.periodic_tasks.values()), holder_id("w1"), 30.0)
    loop.step()
    assert loop.leading
    tick = (math.floor(time.time() / 60) - 1) * 60_000
    job = NewJob(new_job_id(time.time()), "report", "default", "[]", "{}", 0, 1, tick / 1000,
                 time.time(), Status.PENDING)
    assert app.backend.fire_tick(loop.holder, loop.term or 0, "report", tick,
                                 job) is TickVerdict.FIRED

    result = run.on_store("periodic", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["leader"]["holder"] == loop.holder and data["leader"]["term"] == loop.term
    assert _parse(data["leader"]["lease_until"]) > time.time()
    tasks = {t["name"]: t for t in data["tasks"]}
    assert set(tasks) == {"sweep", "report"}
    assert tasks["sweep"]["schedule"] == "cron '*/5 * * * *' (Europe/Berlin)"
    assert (tasks["sweep"]["queue"], tasks["sweep"]["catch_up"]) == ("maint", "latest")
    assert tasks["sweep"]["last_tick"] is None
    assert _parse(tasks["sweep"]["next_tick"]) % 300 == 0
    assert tasks["report"]["schedule"] == "every 1m"
    assert _parse(tasks["report"]["last_tick"]) == tick / 1000
    assert time.time() < _parse(tasks["report"]["next_tick"]) <= time.time() + 60
    assert tasks["report"]["live"] and tasks["report"]["versions"] == 1

    table = run.on_store("periodic")
    assert table.exit_code == 0, table.output
    assert "sweep" in table.stdout and "every 1m" in table.stdout
    assert f"leader: {loop.holder} (term {loop.term}" in table.stdout
    loop.resign()
    after = json.loads(run.on_store("periodic", "--json").stdout)
    assert after["leader"] is None
    app.close()


def test_periodic_on_a_store_without_periodic_tasks(run: Jobq, url: str) -> None:
    jobq.App(url).migrate()
    result = run.on_store("periodic")
    assert result.exit_code == 0, result.output
    assert "No periodic tasks" in result.stdout and "leader: none" in result.stdout
    assert json.loads(run.on_store("periodic", "--json").stdout) == {"leader": None,
                                                                      "tasks": []}
