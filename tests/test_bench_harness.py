"""The comparison harness's own pieces, on jobq alone (no peer needs installing).

These check what the harness reports, never how fast anything is: every job counted,
percentiles that refuse to invent a value, cloned backlogs of the right size, tables
that say which figures were cut short.
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path
from typing import Any

import pytest

import jobq
from bench import agent
from bench.clone import SQLiteCloner
from bench.report import render
from bench.workloads import Sizes, percentile
from tests.services import unavailable


def test_mix_sleeps_are_the_same_for_every_system_and_within_1_to_20_ms() -> None:
    first, again = agent.sleeps(500, seed=7), agent.sleeps(500, seed=7)
    assert first == again
    assert all(1.0 <= s <= 20.0 for s in first)
    assert len(set(first)) > 400
    assert agent.sleeps(3, seed=None) == [0.0, 0.0, 0.0]


def test_percentile_of_a_cut_run_is_unknown_where_it_falls_among_unstarted_jobs() -> None:
    samples = [1.0, 2.0, 3.0, 4.0]
    assert percentile(samples, 0) == 1.0
    assert percentile(samples, 99) == 4.0
    # 4 of 10 jobs started: the median lies among the six that never did.
    assert percentile(samples, 50, total=10) is None
    assert percentile(samples, 20, total=10) == 3.0  # nearest rank: index 2 of 0..9
    assert percentile([], 50) is None


def test_sqlite_backlog_clone_copies_a_finished_job_under_fresh_ids(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    app = jobq.App(f"sqlite:///{path}")

    @app.task(name="noop")
    def noop() -> None:
        return None

    for _ in range(3):
        noop.enqueue()
    app.run_worker(concurrency=1, burst=True)
    app.close()

    cloner = SQLiteCloner(str(path))
    assert cloner.discover()
    assert cloner.finished == 3
    cloner.clone(250)
    with sqlite3.connect(path) as conn:
        statuses = dict(conn.execute("SELECT status, count(*) FROM jobq_jobs GROUP BY 1"))
        ids = conn.execute("SELECT count(DISTINCT id) FROM jobq_jobs").fetchone()[0]
    assert statuses == {"succeeded": 253}
    assert ids == 253


def test_an_empty_store_has_nothing_to_clone(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    app = jobq.App(f"sqlite:///{path}")
    app.migrate()
    app.close()
    assert not SQLiteCloner(str(path)).discover()


def _results() -> dict[str, Any]:
    def row(key: str, label: str, system: str, tuned: bool = False) -> dict[str, Any]:
        return {"key": key, "label": label, "system": system, "store": "sqlite",
                "variant": None, "tuned": tuned, "config": f"{label} config", "venv": system,
                "bulk_api": ""}

    def drain(rate: float, complete: bool = True) -> dict[str, Any]:
        return {"enqueue_rate": rate * 2, "drain_rate": rate, "complete": complete,
                "count": 100 if complete else 40, "n": 100}

    lat_cut = {"p50": None, "p95": None, "p99": None, "count": 4, "n": 10,
               "complete": False, "max_known_ms": 900.0, "samples_ms": [1, 2, 3, 900]}
    lat_ok = {"p50": 1.5, "p95": 3.0, "p99": 4.0, "count": 10, "n": 10, "complete": True,
              "samples_ms": [1.5] * 10}
    return {
        "command": "python -m bench.run --quick", "quick": True, "seconds": 60.0,
        "started": 0.0, "sizes": Sizes(runs=1).__dict__, "service_notes": [],
        "machine": {"nproc": 2, "cpu": "test cpu", "memory_gib": 1.0, "kernel": "k",
                    "python": "3.11", "loadavg_at_start": [0.0]},
        "rows": [row("jobq-sqlite", "jobq (SQLite)", "jobq-sqlite"),
                 row("slowq", "SlowQ", "slowq")],
        "unavailable": {"jobq-redis": "not available: jobq/backends/redis.py does not exist"},
        "raw": {"jobq-sqlite": {"one": [drain(1000.0)], "latency": [lat_ok]},
                "slowq": {"one": [drain(50.0, complete=False)], "latency": [lat_cut]}},
        "backlog": {"slowq": {"levels": [drain(50.0)], "keeps_nothing": True}},
        "memory": {}, "versions": {"slowq": {"slowq": "1.0"}}, "commands": {},
    }


def test_report_marks_cut_figures_and_gives_ratios() -> None:
    text = render(_results())
    assert "QUICK RUN" in text
    assert "| SlowQ | 100 | — | 50 † |" in text  # cut drain flagged with its dagger
    assert "> 900.00 †" in text  # a censored latency is a floor, not a number
    assert "| SlowQ | 20.00 | — | 20.00 |" in text  # jobq ÷ peer: enqueue, bulk, drain
    assert "jobq/backends/redis.py does not exist" in text
    assert "keeps no finished jobs" in text
    assert "drain c=2: best jobq jobq (SQLite) 1,000.0 jobs/s vs best peer SlowQ" in text
    # The same-server comparison: jobq's row against the best peer on its kind of server.
    assert "| drain c=2 | 1,000 | SlowQ: 50 † | 20.00 | ahead, ≥ 2x |" in text
    assert "| p50 | 1.50 | SlowQ: > 900.00 † |" not in text  # no ratio to a censored value


@pytest.mark.slow
def test_a_jobq_drain_and_latency_run_count_every_job(tmp_path: Path) -> None:
    import redis

    from bench.measure import Context, Counter
    from bench.systems import SYSTEMS
    from bench.workloads import drain, latency

    try:
        counter = Counter()
        counter.redis.ping()
    except redis.ConnectionError as exc:
        unavailable("Redis", str(exc))
    sizes = Sizes(n=60, latency=10, latency_rate=50.0, runs=1, drain_cap=60.0, startup=60.0)
    ctx = Context(work=tmp_path, counter=counter, logs=tmp_path)
    ctx.bins["jobq"] = Path(sys.executable).parent  # jobq is installed in the running venv
    adapter = SYSTEMS["jobq-sqlite"]

    one = drain(ctx, adapter, None, 2, sizes.n, "one", sizes)
    assert one["complete"] and one["count"] == 60
    assert one["drain_rate"] > 0 and one["enqueue_rate"] > 0
    bulk = drain(ctx, adapter, None, 8, sizes.n, "bulk", sizes, seed=3)
    assert bulk["complete"] and bulk["count"] == 60

    lat = latency(ctx, adapter, None, sizes)
    assert lat["complete"] and lat["count"] == 10
    assert lat["p50"] is not None and 0 < lat["p50"] <= lat["p99"]
