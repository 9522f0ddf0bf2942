"""The workloads, identical for every system: enqueue, drain, latency, mix, backlog, memory."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any

from bench.measure import Context, WorkerProcess, agent, wait_for
from bench.systems.base import Adapter

MIX_SEED = 20240601  # the same 1-20 ms sleeps, in the same order, for every system


@dataclass(frozen=True)
class Sizes:
    """How big each workload is: ``--quick`` for development, the default for results."""

    n: int = 5_000  # (a)-(c): jobs enqueued / drained
    mix: int = 10_000  # (e): sleeping jobs at concurrency 32
    latency: int = 500  # (d): jobs at a steady pace
    latency_rate: float = 50.0  # jobs per second for (d)
    backlog_n: int = 5_000  # jobs drained at each backlog level
    backlogs: tuple[int, ...] = (0, 100_000, 1_000_000)
    rss_jobs: int | None = 100_000
    runs: int = 3
    drain_cap: float = 15.0  # seconds a drain may run before it is cut (and marked so)
    backlog_cap: float = 120.0  # a backlog drain must finish: only finished jobs are cloned
    rss_cap: float = 60.0  # the memory drain may run longer, and says how many jobs it ran
    startup: float = 90.0  # seconds a worker may take to run its first job


QUICK = Sizes(n=2_000, mix=2_000, latency=500, backlog_n=2_000, backlogs=(0, 100_000),
              rss_jobs=None, runs=1, drain_cap=15.0)


def drain(ctx: Context, adapter: Adapter, variant: str | None, concurrency: int, n: int,
          mode: str, sizes: Sizes, seed: int | None = None, flush: bool = True,
          cap: float | None = None) -> dict[str, Any]:
    """Enqueue ``n`` jobs (``mode`` one/bulk), then start the worker and time the drain.

    The drain rate runs from the first job's start to the last job's end, as the tasks
    record them, so worker start-up is not counted.
    """
    key = ctx.counter.new_key()
    env = ctx.env(adapter, key, n)
    prep = agent(ctx, adapter, {"action": "prepare", "mode": mode, "n": n, "seed": seed,
                                "flush": flush}, env)
    cmd, extra = adapter.worker_command(ctx.bins[adapter.venv], concurrency, variant,
                                        env["BENCH_STORE_URL"])
    worker = WorkerProcess(cmd, {**env, **extra}, ctx.logs / f"{adapter.name}.log")
    try:
        state = wait_for(ctx, key, n, worker, sizes.startup, cap or sizes.drain_cap)
        rss, peak = worker.memory_kb()
    finally:
        worker.stop()
    first, last = ctx.counter.mark(key, "first"), ctx.counter.mark(key, "last")
    count = ctx.counter.count(key)  # late finishers counted too: every job ran
    ctx.counter.drop(key)
    result = {"n": n, "mode": mode, "concurrency": concurrency, "enqueue_s": prep["seconds"],
              "enqueue_rate": n / prep["seconds"] if prep["seconds"] else None,
              "count": count, "complete": state["complete"], "rss_kb": rss,
              "peak_rss_kb": peak, "command": _shown(cmd, extra)}
    if state.get("error"):
        result["error"] = state["error"]
    if state["complete"] and first is not None and last is not None and last > first:
        result["drain_rate"] = n / (last - first)
    elif first is not None:
        result["drain_rate"] = state["count"] / max(time.time() - first, 1e-9)
    return result


def percentile(sorted_values: list[float], q: float, total: int | None = None) -> float | None:
    """The q-th percentile of ``total`` samples of which only the smallest are known.

    Jobs that never started before the cut have a latency above every known one: a
    percentile that falls among them is unknown (None), never made up from the rest.
    """
    total = len(sorted_values) if total is None else total
    if not total:
        return None
    index = min(total - 1, max(0, round(q / 100.0 * (total - 1))))
    return sorted_values[index] if index < len(sorted_values) else None


def latency(ctx: Context, adapter: Adapter, variant: str | None, sizes: Sizes,
            concurrency: int = 2, warmup: int = 20) -> dict[str, Any]:
    """Enqueue→start latency on an idle worker: jobs sent one at a time at a steady pace."""
    key = ctx.counter.new_key()
    target = warmup + sizes.latency
    env = ctx.env(adapter, key, target)
    agent(ctx, adapter, {"action": "prepare", "mode": "one", "n": 0, "seed": None}, env)
    cmd, extra = adapter.worker_command(ctx.bins[adapter.venv], concurrency, variant,
                                        env["BENCH_STORE_URL"])
    worker = WorkerProcess(cmd, {**env, **extra}, ctx.logs / f"{adapter.name}.log")
    try:
        agent(ctx, adapter, {"action": "latency", "n": sizes.latency,
                             "rate": sizes.latency_rate, "warmup": warmup,
                             "startup_timeout": sizes.startup}, env)
        state = wait_for(ctx, key, target, worker, sizes.startup, sizes.drain_cap,
                         since_now=True)
    finally:
        worker.stop()
    samples = ctx.counter.latencies_ms(key)
    ctx.counter.drop(key)
    n = sizes.latency
    result: dict[str, Any] = {q: percentile(samples, float(q[1:]), n)
                              for q in ("p50", "p95", "p99")}
    result.update({"n": n, "count": len(samples), "complete": len(samples) == n,
                   "max_known_ms": max(samples) if samples else None,
                   "command": _shown(cmd, extra), "samples_ms": [round(s, 3) for s in samples]})
    if state.get("error"):
        result["error"] = state["error"]
    return result


def _shown(cmd: list[str], extra: dict[str, str]) -> str:
    """The command as a reader would type it, with the environment it was given."""
    return " ".join([*(f"{k}={v}" for k, v in extra.items()), *cmd])


def median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None
