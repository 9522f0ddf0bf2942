"""The whole comparison: which rows exist, in which order they run, and their raw results."""

from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import clone, venvs
from bench.measure import Context, agent
from bench.systems.base import Adapter
from bench.workloads import MIX_SEED, Sizes, drain, latency

LATENCY_CONCURRENCY = 2
BACKLOG_CONCURRENCY = 2


@dataclass(frozen=True)
class Row:
    """One line of the tables: a system in its default configuration, or a tuned variant."""

    adapter: Adapter
    variant: str | None = None

    @property
    def key(self) -> str:
        return self.adapter.name + (f":{self.variant}" if self.variant else "")

    @property
    def label(self) -> str:
        for v in self.adapter.variants:
            if v.name == self.variant:
                return v.label
        return self.adapter.label

    @property
    def fill_mode(self) -> str:
        return "bulk" if self.adapter.has_bulk else "one"


def log(message: str) -> None:
    print(time.strftime("%H:%M:%S"), message, file=sys.stderr, flush=True)


class Suite:
    def __init__(self, ctx: Context, sizes: Sizes, adapters: list[Adapter], tuned: bool,
                 skip: set[str], checkpoint: Callable[[dict[str, Any]], None] | None = None
                 ) -> None:
        self.ctx, self.sizes, self.skip = ctx, sizes, skip
        # Hears the results so far after every figure: a long run stopped half way
        # keeps what it measured.
        self.checkpoint = checkpoint
        self.unavailable: dict[str, str] = {}
        self.rows: list[Row] = []
        for adapter in adapters:
            why = adapter.available(venvs.REPO)
            if why:
                self.unavailable[adapter.name] = why
                log(f"{adapter.label}: {why}")
                continue
            self.rows.append(Row(adapter))
            if tuned:
                self.rows += [Row(adapter, v.name) for v in adapter.variants]
        self.raw: dict[str, dict[str, list[dict[str, Any]]]] = {r.key: {} for r in self.rows}
        self.backlog: dict[str, Any] = {}
        self.memory: dict[str, Any] = {}
        self.versions: dict[str, Any] = {}
        self.commands: dict[str, str] = {}

    def install(self, log: Path) -> None:
        seen: dict[str, Path] = {}
        for row in self.rows:
            a = row.adapter
            if a.venv not in seen:
                seen[a.venv] = venvs.ensure(a.venv, tuple(a.requirements), log)
                self.ctx.bins[a.venv] = seen[a.venv]
                env = self.ctx.env(a, "bench:versions", 0)
                self.versions[a.venv] = agent(self.ctx, a, {"action": "versions",
                                                            "packages": list(a.packages)}, env)

    def _record(self, row: Row, workload: str, fn: Callable[[], dict[str, Any]]) -> None:
        began = time.monotonic()
        try:
            result = fn()
        except Exception as exc:  # one system failing must not lose the others' figures
            result = {"error": f"{type(exc).__name__}: {exc}"}
            traceback.print_exc()
        result["wall_s"] = round(time.monotonic() - began, 2)
        self.raw[row.key].setdefault(workload, []).append(result)
        if "command" in result:
            self.commands[f"{row.key}:{workload}"] = result["command"]
        log(f"{row.label:<34} {workload:<8} {_brief(result)}")
        self._checkpoint()

    def _checkpoint(self) -> None:
        if self.checkpoint is not None:
            self.checkpoint(self.results())

    def run_all(self) -> None:
        s, ctx = self.sizes, self.ctx
        workloads: list[tuple[str, Callable[[Row], dict[str, Any]]]] = [
            ("one", lambda r: drain(ctx, r.adapter, r.variant, 2, s.n,
                                    "one" if r.variant is None else r.fill_mode, s)),
            ("bulk", lambda r: drain(ctx, r.adapter, r.variant, 8, s.n, r.fill_mode, s)),
            ("latency", lambda r: latency(ctx, r.adapter, r.variant, s, LATENCY_CONCURRENCY)),
            ("mix", lambda r: drain(ctx, r.adapter, r.variant, 32, s.mix, r.fill_mode, s,
                                    seed=MIX_SEED)),
        ]
        for run in range(s.runs):
            for name, fn in workloads:
                if name in self.skip:
                    continue
                log(f"run {run + 1}/{s.runs}: {name}")
                for row in self.rows:  # every system in turn: interleaved, same conditions
                    self._record(row, name, lambda row=row, fn=fn: fn(row))
        for row in self.rows:
            if row.variant is None and "backlog" not in self.skip:
                self._backlog(row)
        if s.rss_jobs and "rss" not in self.skip:
            for row in self.rows:
                if row.variant is None:
                    self._memory(row)

    def _backlog(self, row: Row) -> None:
        s, a, variant = self.sizes, row.adapter, row.adapter.backlog_variant
        levels: list[dict[str, Any]] = []
        self.backlog[row.key] = {"levels": levels, "variant": variant}
        try:
            first = drain(self.ctx, a, variant, BACKLOG_CONCURRENCY, s.backlog_n, row.fill_mode,
                          s, cap=s.backlog_cap)
            levels.append({"finished_before": 0, **first})
            log(f"{row.label:<34} backlog 0: {_brief(first)}")
            if not first["complete"]:
                # Unfinished jobs are still queued: cloning one would queue copies.
                raise RuntimeError("the first drain did not finish, so no finished-only store")
            cloner = _cloner(a, self.ctx)
            if not cloner.discover():
                self.backlog[row.key]["keeps_nothing"] = True
                log(f"{row.label:<34} keeps no finished jobs: backlog stays empty")
                return
            for level in s.backlogs[1:]:
                began = time.monotonic()
                cloner.clone(max(level - cloner.finished, 0))
                filled = time.monotonic() - began
                result = drain(self.ctx, a, variant, BACKLOG_CONCURRENCY, s.backlog_n,
                               row.fill_mode, s, flush=False, cap=s.backlog_cap)
                levels.append({"finished_before": cloner.finished, "fill_s": filled, **result})
                cloner.finished += s.backlog_n
                log(f"{row.label:<34} backlog {level:,}: {_brief(result)}")
                self._checkpoint()
        except Exception as exc:
            self.backlog[row.key]["error"] = f"{type(exc).__name__}: {exc}"
            traceback.print_exc()
        finally:
            self._empty(a)

    def _empty(self, adapter: Adapter) -> None:
        """Leave no million-job store behind on a shared server."""
        try:
            env = self.ctx.env(adapter, "bench:empty", 0)
            agent(self.ctx, adapter, {"action": "prepare", "mode": "one", "n": 0, "seed": None},
                  env)
        except Exception:
            traceback.print_exc()

    def _memory(self, row: Row) -> None:
        s = self.sizes
        assert s.rss_jobs
        self._record(row, "rss", lambda: drain(self.ctx, row.adapter, None, 2, s.rss_jobs,
                                               row.fill_mode, s, cap=s.rss_cap))
        self.memory[row.key] = self.raw[row.key].pop("rss")[-1]
        self._empty(row.adapter)

    def results(self) -> dict[str, Any]:
        return {
            "rows": [{"key": r.key, "label": r.label, "system": r.adapter.name,
                      "store": r.adapter.store,
                      "variant": r.variant, "tuned": r.variant is not None,
                      "config": _config(r), "venv": r.adapter.venv,
                      "bulk_api": r.adapter.bulk_api} for r in self.rows],
            "unavailable": self.unavailable, "raw": self.raw, "backlog": self.backlog,
            "memory": self.memory, "versions": self.versions, "commands": self.commands,
        }


def _config(row: Row) -> str:
    for v in row.adapter.variants:
        if v.name == row.variant:
            return v.note
    return row.adapter.config


def _cloner(adapter: Adapter, ctx: Context) -> Any:
    url = adapter.env(ctx.work)["BENCH_STORE_URL"]
    if adapter.store == "redis":
        return clone.RedisCloner(url)
    if adapter.store == "sqlite":
        return clone.SQLiteCloner(url.removeprefix("sqlite:///"))
    schema = adapter.env(ctx.work).get("BENCH_JOBQ_SCHEMA", "public")
    return clone.PostgresCloner(url, schema)


def _brief(result: dict[str, Any]) -> str:
    if "error" in result and "count" not in result:
        return "ERROR " + result["error"][:200]
    parts = []
    for key in ("enqueue_rate", "drain_rate", "p50", "p99", "peak_rss_kb"):
        value = result.get(key)
        if isinstance(value, float | int):
            parts.append(f"{key}={value:,.1f}")
    if not result.get("complete", True):
        parts.append(f"INCOMPLETE {result.get('count')}/{result.get('n')} "
                     f"{result.get('error', '')}")
    return " ".join(parts)
