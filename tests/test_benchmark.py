"""``jobq bench`` runs end to end on a tiny workload and reports every figure.

No timing is asserted: the figures depend on the machine. What a user relies on is that
the command finishes, checks that no job was lost, and prints and records each figure.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from jobq.benchmark import bench
from tests import isolation

WORKFLOW_FIGURES = {
    "chord_enqueue", "chord_plain_enqueue", "chord_drain", "chord_plain_drain",
    "chains_enqueue", "chains_plain_enqueue", "chains_drain", "chains_plain_drain",
}
JOBQ_FIGURES = {
    "single_enqueue", "single_enqueue_threads", "bulk_enqueue", "drain_1", "drain_2",
    "drain_1_info", "limits_elsewhere", "limits_generous", "latency_p50", "latency_p95",
    "latency_p99", *WORKFLOW_FIGURES,
    "drain_process", "drain_async", "cpu_thread", "cpu_process", "sleep_thread", "sleep_async",
}
# The pool figures, made small: what is checked is that each runs and is reported.
SMALL_POOLS = ["--cpu-seconds", "0.01", "--sleep-jobs", "10"]
FIGURES = {"raw_minimal", "raw_single", "raw_bulk", "raw_drain", *JOBQ_FIGURES}


def test_bench_prints_and_records_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    result = CliRunner().invoke(
        bench,
        ["--jobs", "60", "--latency-jobs", "8", "--latency-interval", "2",
         "--workflow-size", "6", "--output", str(out), *SMALL_POOLS],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output

    recorded = json.loads(out.read_text(encoding="utf-8"))
    figures = {f["key"]: f for f in recorded["figures"]}
    assert set(figures) == FIGURES
    for fig in figures.values():
        assert fig["value"] > 0, fig
        assert fig["label"] in result.output  # the table names every figure
    # The targets are the embedded store's; each jobq rate is set against its raw row.
    assert figures["single_enqueue"]["target"] == 15_000
    assert figures["latency_p50"]["compare"] == "≤"
    assert figures["drain_1"]["reference"] == "raw_drain"
    assert figures["drain_1"]["ratio"] > 0
    for key in ("limits_elsewhere", "limits_generous"):  # beside the plain drain
        assert figures[key]["reference"] == "drain_1" and figures[key]["ratio"] > 0
    # Each workflow figure is set against the plain jobs measured beside it.
    for key in ("chord_enqueue", "chord_drain", "chains_enqueue", "chains_drain"):
        assert figures[key]["reference"] == key.replace("_", "_plain_", 1)
        assert figures[key]["ratio"] > 0
    assert figures["cpu_process"]["unit"] == "s" and figures["sleep_async"]["unit"] == "s"
    assert "8 CPU-bound jobs (0.01 s CPU each), concurrency 2, process pool" in result.output
    assert recorded["command"] == (
        f"jobq bench --jobs 60 --latency-jobs 8 --latency-interval 2.0 --workflow-size 6 "
        f"--cpu-seconds 0.01 --sleep-jobs 10 --output {out}"
    )
    assert recorded["versions"]["sqlite"]
    assert recorded["machine"]["nproc"] >= 1


@pytest.mark.parametrize("backend", ["postgres", "redis"])
def test_a_server_store_is_set_against_its_own_round_trip(backend: str, tmp_path: Path) -> None:
    store = isolation.open_store(backend, tmp_path)  # skips or fails when it is down
    store.drop()  # jobq bench makes throwaway schemas / prefixes of its own
    result = CliRunner().invoke(
        bench, ["--url", store.url, "--jobs", "40", "--latency-jobs", "3",
                "--latency-interval", "1", "--workflow-size", "4", "--json", *SMALL_POOLS],
    )
    assert result.exit_code == 0, result.output
    figures = {f["key"]: f for f in json.loads(result.stdout)["figures"]}
    assert set(figures) == {"round_trip", *JOBQ_FIGURES}
    for key in ("single_enqueue", "single_enqueue_threads"):
        assert figures[key]["reference"] == "round_trip" and figures[key]["ratio"] > 0
    assert figures["drain_1"]["reference"] is None  # raw SQLite rows are SQLite's alone
    # The Redis store's targets are its issue's; PostgreSQL has none in the table.
    expected = {"redis": 100_000, "postgres": None}[backend]
    assert figures["bulk_enqueue"]["target"] == expected


def test_bench_json_goes_to_stdout(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        bench, ["--jobs", "20", "--latency-jobs", "3", "--latency-interval", "1",
                "--workflow-size", "0", "--json", *SMALL_POOLS],
    )
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert {f["key"] for f in printed["figures"]} == FIGURES - WORKFLOW_FIGURES


def test_quick_without_peers_is_a_usage_error() -> None:
    result = CliRunner().invoke(bench, ["--quick"])
    assert result.exit_code == 2
    assert "--quick goes with --peers" in result.output


@pytest.mark.parametrize("backend", ["sqlite", "postgres", "redis"])
def test_stats_figures_with_few_and_many_finished_jobs(backend: str, tmp_path: Path) -> None:
    url: list[str] = []
    if backend != "sqlite":
        store = isolation.open_store(backend, tmp_path)  # skips or fails when it is down
        store.drop()
        url = ["--url", store.url]
    result = CliRunner().invoke(bench, [*url, "--stats", "1500", "--json"])
    assert result.exit_code == 0, result.output
    figures = {f["key"]: f for f in json.loads(result.stdout)["figures"]}
    expected = {"stats_1000", "stats_1500"}
    if backend != "sqlite":
        expected |= {"round_trip_1000", "round_trip_1500"}
    assert set(figures) == expected
    assert figures["stats_1500"]["reference"] == "stats_1000"
    assert figures["stats_1500"]["ratio"] > 0 and figures["stats_1000"]["ratio"] is None
