"""Medians over runs, per row and metric, shared by the report and the plots."""

from __future__ import annotations

import statistics
from typing import Any

# metric -> (workload, field, base rows only, higher is better)
METRICS: dict[str, tuple[str, str, bool, bool]] = {
    "enqueue_one": ("one", "enqueue_rate", True, True),
    "enqueue_bulk": ("bulk", "enqueue_rate", True, True),
    "drain_c2": ("one", "drain_rate", False, True),
    "drain_c8": ("bulk", "drain_rate", False, True),
    "mix_c32": ("mix", "drain_rate", False, True),
    "p50": ("latency", "p50", False, False),
    "p95": ("latency", "p95", False, False),
    "p99": ("latency", "p99", False, False),
}


class Cell:
    """A median with what a reader must know about it."""

    def __init__(self, value: float | None, partial: bool = False, error: str = "",
                 floor: float | None = None) -> None:
        self.value, self.partial, self.error = value, partial, error
        self.floor = floor  # a latency known only to exceed this (jobs cut before starting)


def summarize(results: dict[str, Any]) -> dict[str, dict[str, Cell]]:
    table: dict[str, dict[str, Cell]] = {}
    for row in results["rows"]:
        raw = results["raw"].get(row["key"], {})
        cells: dict[str, Cell] = {}
        for metric, (workload, field, base_only, _) in METRICS.items():
            if base_only and row["tuned"]:
                continue
            if metric == "enqueue_bulk" and not row["bulk_api"]:
                continue
            runs = raw.get(workload, [])
            values = [r[field] for r in runs if isinstance(r.get(field), int | float)]
            # Only what the worker did can be cut short; the enqueue had finished.
            partial = field != "enqueue_rate" and any(not r.get("complete", True) for r in runs)
            errors = [r["error"] for r in runs if "error" in r and field not in r]
            value = statistics.median(values) if values else None
            floors = [r["max_known_ms"] for r in runs if r.get("max_known_ms") is not None]
            floor = statistics.median(floors) if value is None and floors else None
            cells[metric] = Cell(value, partial, errors[0] if errors else "", floor)
        table[row["key"]] = cells
    return table


def higher_is_better(metric: str) -> bool:
    return METRICS[metric][3]
