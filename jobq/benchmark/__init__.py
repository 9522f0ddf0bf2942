"""``jobq bench``: how fast this store enqueues, drains and starts jobs.

Figures: single and bulk enqueue rates, drain rates of no-op jobs with one and two worker
processes (and with one worker logging every state change at INFO), the
enqueue-to-start latency of jobs trickling into an idle worker, and workflows (a chord,
many chains) beside plain jobs. On SQLite, raw-SQLite reference rows (the same SQL with
no jobq in between) show jobq's own overhead. The pools side by side: the process and
async pools' drain rates, eight CPU-bound jobs at concurrency 2 on threads and on
processes, and many ``asyncio.sleep`` jobs at concurrency 100 on the async pool and on
threads. Limits beside the plain drain: unlimited jobs while another task has limits,
and jobs that are all under a generous limit.
"""

from __future__ import annotations

import json
import os
import platform
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from jobq.benchmark import counts, raw, runs, workflows
from jobq.benchmark.tasks import ASYNC_NOOP, GENEROUS, NAP, NOOP, SPIN
from jobq.config import redact_url

# Targets by store kind (the issues that built each store); a figure not named: none.
TARGETS: dict[str, dict[str, tuple[float, str]]] = {
    "sqlite": {
        "single_enqueue": (15_000, "≥"),
        "bulk_enqueue": (80_000, "≥"),
        "drain_1": (8_000, "≥"),
        "latency_p50": (5.0, "≤"),
    },
    "redis": {
        "single_enqueue": (10_000, "≥"),
        "bulk_enqueue": (100_000, "≥"),
        "drain_1": (10_000, "≥"),
        "latency_p50": (2.0, "≤"),
    },
}
STATS_SMALL = 1_000  # --stats: the few finished jobs the many are compared with
CALLER_THREADS = 4  # the concurrent one-by-one enqueue figure
CPU_JOBS, CPU_CONCURRENCY = 8, 2  # the CPU-bound figures
SLEEP_SECONDS, SLEEP_CONCURRENCY = 0.1, 100  # the asyncio.sleep figures
LIMIT_HELD = 1_000  # jobs of another task waiting on their limit, beside the drain


@dataclass
class Figure:
    """One measured figure, with its target and raw-SQLite reference when there is one."""

    key: str
    label: str
    value: float
    unit: str
    target: float | None = None
    compare: str | None = None  # "≥" or "≤"
    reference: str | None = None  # key of the raw-SQLite figure it compares with
    ratio: float | None = None

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        return self.value >= self.target if self.compare == "≥" else self.value <= self.target


@dataclass
class Plan:
    jobs: int
    concurrency: int
    latency_jobs: int
    latency_interval: float
    raw_reference: bool
    periodic: bool = False  # the drain workers also fire a periodic task every second
    workflow_size: int = 1_000
    cpu_seconds: float = 1.0
    sleep_jobs: int = 1_000
    stats_finished: int = 0  # --stats: app.stats() with 1,000 vs this many finished jobs


class Bench:
    """Runs every measurement in turn, drawing one progress bar per figure."""

    def __init__(self, stores: runs.Stores, plan: Plan, progress: Progress) -> None:
        self.stores = stores
        self.plan = plan
        self.progress = progress
        self.figures: list[Figure] = []

    def _step(self, label: str, total: int) -> Callable[[int], None]:
        task = self.progress.add_task(label, total=total)
        return lambda done: self.progress.update(task, completed=done)

    def _add(self, key: str, label: str, value: float, unit: str = "jobs/s",
             reference: str | None = None) -> None:
        kind = "redis" if self.stores.kind.startswith("redis") else self.stores.kind
        target = TARGETS.get(kind, {}).get(key)
        self.figures.append(Figure(
            key, label, value, unit, target[0] if target else None,
            target[1] if target else None, reference,
        ))

    def run(self) -> list[Figure]:
        if self.plan.stats_finished:
            self._stats()
            return self.figures
        if self.plan.raw_reference:
            self._raw()
        self._enqueue()
        self._drains()
        self._pools()
        self._latency()
        self._workflows()
        by_key = {f.key: f for f in self.figures}
        for fig in self.figures:
            if fig.reference in by_key:
                fig.ratio = fig.value / by_key[fig.reference].value
            else:
                fig.reference = None  # not measured on this store (raw SQLite rows)
        return self.figures

    def _stats(self) -> None:
        small, big = STATS_SMALL, self.plan.stats_finished
        few, many = counts.stats_costs(self.stores, small, big, self._step)
        for cost, size in ((few, small), (many, big)):
            self._add(f"stats_{size}", f"app.stats(), {size:,} finished jobs stored",
                      cost.stats, "ms", reference=f"stats_{small}")
            if cost.round_trip is not None:
                self._add(f"round_trip_{size}", "  beside it: one round trip (PING / SELECT 1)",
                          cost.round_trip, "ms", reference=f"round_trip_{small}")
        for fig in self.figures:
            base = next(f for f in self.figures if f.key == fig.reference)
            fig.ratio = None if fig is base else fig.value / base.value

    def _raw(self) -> None:
        jobs, batch = self.plan.jobs, runs.BATCH
        # What one worker claims at a time by default: concurrency plus 4 x concurrency.
        claim = self.plan.concurrency * 5
        sync = self.stores.sqlite_options.get("synchronous", "normal")
        rows: list[tuple[str, str, Callable[[Path], float]]] = [
            ("raw_minimal", "raw SQLite: 2-column table, 1 row per commit",
             lambda path: raw.minimal_commits(path, jobs, sync)),
            ("raw_single", "raw SQLite: jobq's insert, 1 row per commit",
             lambda path: raw.single_commits(path, jobs, sync)),
            ("raw_bulk", f"raw SQLite: jobq's insert, {batch} rows per commit",
             lambda path: raw.batched_inserts(path, jobs, batch, sync)),
            ("raw_drain", f"raw SQLite: jobq's claim of {claim} + finish, 1 thread",
             lambda path: raw.claim_and_finish(path, jobs, claim, sync)),
        ]
        step = self._step("raw SQLite reference", len(rows))
        for done, (key, label, measure) in enumerate(rows, 1):
            with self.stores.sqlite_file() as path:
                self._add(key, label, measure(path), "rows/s")
            step(done)

    def _enqueue(self) -> None:
        jobs = self.plan.jobs
        # One-by-one enqueueing is one round trip per job: a server store's own round
        # trip, measured here, is the figure it compares with.
        single_reference = "raw_single" if self.plan.raw_reference else "round_trip"
        if not self.plan.raw_reference:
            step = self._step("round trip", 1)
            self._add("round_trip", "one round trip (PING / SELECT 1), 1 caller",
                      runs.round_trips(self.stores.base, jobs), "calls/s")
            step(1)
        with self.stores.fresh() as store:
            rate = runs.single_enqueue(store, jobs, self._step("single enqueue", jobs))
        self._add("single_enqueue", "single enqueue (task.enqueue()), 1 caller", rate,
                  reference=single_reference)
        label = f"single enqueue (task.enqueue()), {CALLER_THREADS} caller threads"
        with self.stores.fresh() as store:
            rate = runs.single_enqueue(store, jobs, self._step(label, jobs), CALLER_THREADS)
        self._add("single_enqueue_threads", label, rate, reference=single_reference)
        with self.stores.fresh() as store:
            rate = runs.bulk_enqueue(store, jobs, self._step("bulk enqueue", jobs))
        self._add("bulk_enqueue", f"bulk enqueue (enqueue_many, {runs.BATCH} per call)",
                  rate, reference="raw_bulk")

    def _drains(self) -> None:
        jobs, conc = self.plan.jobs, self.plan.concurrency
        for key, workers, logged in (("drain_1", 1, False), ("drain_2", 2, False),
                                     ("drain_1_info", 1, True)):
            procs = f"{workers} worker process{'es' if workers > 1 else ''}"
            logs = "INFO log to a file" if logged else "WARNING log level"
            label = f"drain, {procs} x {conc} threads, {logs}"
            with self.stores.fresh() as store:
                log_file = str(store.folder / f"{key}.log") if logged else None
                rate = runs.drain(store, jobs, workers, conc, self._step(label, jobs),
                                  log_file=log_file, periodic=self.plan.periodic)
            self._add(key, label, rate, reference="raw_drain")
        self._limits()

    def _limits(self) -> None:
        """The cost of limits, beside drain_1 (the same worker, the same jobs)."""
        jobs, conc = self.plan.jobs, self.plan.concurrency
        worker = f"1 worker process x {conc} threads"
        held = LIMIT_HELD
        for key, label, task, waiting in (
            ("limits_elsewhere", f"  limits elsewhere: drain, {worker}, another task "
             f"limited (1/h), {held:,} of its jobs waiting", NOOP, held),
            ("limits_generous", f"  limited jobs: drain, {worker}, every job under a "
             "generous rate and concurrency limit", GENEROUS, 0),
        ):
            with self.stores.fresh() as store:
                rate = runs.drain(store, jobs, 1, conc, self._step(label.strip(), jobs),
                                  task_name=task, held=waiting)
            self._add(key, label, rate, reference="drain_1")

    def _pools(self) -> None:
        jobs, conc = self.plan.jobs, self.plan.concurrency
        for key, pool, task, what in (("drain_process", "process", NOOP, "no-op"),
                                      ("drain_async", "async", ASYNC_NOOP, "async no-op")):
            label = f"drain, 1 worker process, {pool} pool x {conc}, {what} jobs"
            with self.stores.fresh() as store:
                rate = runs.drain(store, jobs, 1, conc, self._step(label, jobs), pool=pool,
                                  task_name=task)
            self._add(key, label, rate)
        cpu = self.plan.cpu_seconds
        for pool in ("thread", "process"):
            label = (f"{CPU_JOBS} CPU-bound jobs ({cpu:g} s CPU each), concurrency "
                     f"{CPU_CONCURRENCY}, {pool} pool")
            self._timed(f"cpu_{pool}", label, CPU_JOBS, CPU_CONCURRENCY, pool, SPIN, (cpu,))
        naps = self.plan.sleep_jobs
        for pool in ("thread", "async"):
            label = (f"{naps:,} asyncio.sleep({SLEEP_SECONDS:g}) jobs, concurrency "
                     f"{SLEEP_CONCURRENCY}, {pool} pool")
            self._timed(f"sleep_{pool}", label, naps, SLEEP_CONCURRENCY, pool, NAP,
                        (SLEEP_SECONDS,))

    def _timed(self, key: str, label: str, jobs: int, concurrency: int, pool: str,
               task: str, args: tuple[Any, ...]) -> None:
        with self.stores.fresh() as store:
            seconds = runs.run_all(store, jobs, 1, concurrency, self._step(label, jobs),
                                   pool=pool, task_name=task, args=args)
        self._add(key, label, seconds, "s")

    def _latency(self) -> None:
        count, interval = self.plan.latency_jobs, self.plan.latency_interval
        with self.stores.fresh() as store:
            delays = runs.latency(store, count, interval, self.plan.concurrency,
                                  self._step("enqueue→start latency", count))
        for pct in (50, 95, 99):
            self._add(f"latency_p{pct}",
                      f"enqueue→start latency p{pct} ({count} jobs, 1 every "
                      f"{interval * 1000:g} ms, idle worker)",
                      runs.percentile(delays, pct) * 1000, "ms")


    def _workflows(self) -> None:
        size, conc = self.plan.workflow_size, self.plan.concurrency
        if not size:
            return
        worker = f"1 worker process x {conc} threads"

        def step(what: str, total: int) -> Callable[[int], None]:
            return self._step(f"workflows: {what}", total)

        chord, plain = workflows.chord_figures(self.stores, size, conc, step)
        self._add("chord_enqueue", f"chord of {size:,} no-op jobs + callback: enqueue, 1 call",
                  chord.enqueue, reference="chord_plain_enqueue")
        self._add("chord_plain_enqueue", f"  beside it: {size + 1:,} plain jobs, enqueue_many",
                  plain.enqueue)
        self._add("chord_drain", f"chord of {size:,}: drain until the callback ran, {worker}",
                  chord.drain, reference="chord_plain_drain")
        self._add("chord_plain_drain", f"  beside it: {size + 1:,} plain jobs, same worker",
                  plain.drain)
        chains, plain = workflows.chain_figures(self.stores, size, conc, step)
        self._add("chains_enqueue", f"{size:,} chains of 3: enqueue, 1 chain per call",
                  chains.enqueue, reference="chains_plain_enqueue")
        self._add("chains_plain_enqueue",
                  f"  beside them: {3 * size:,} plain jobs, enqueue_many of 3 per call",
                  plain.enqueue)
        self._add("chains_drain", f"{size:,} chains of 3: drain, {worker}", chains.drain,
                  reference="chains_plain_drain")
        self._add("chains_plain_drain", f"  beside them: {3 * size:,} plain jobs, same worker",
                  plain.drain)


def environment(url: str | None) -> dict[str, Any]:
    """Versions and machine notes recorded with the figures."""
    from jobq import __version__

    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "store": redact_url(url) if url else "sqlite (fresh file per figure, temp dir)",
        "versions": {"python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
                     "jobq": __version__},
        "machine": {"nproc": os.cpu_count(), "cpu": runs.cpu_model(),
                    "platform": platform.platform(), "load_average": runs.load_average()},
    }


def _fmt(value: float, unit: str) -> str:
    return f"{value:,.2f}" if unit in ("ms", "s") else f"{value:,.0f}"


def render(console: Console, env: dict[str, Any], figures: list[Figure]) -> None:
    targets = any(f.target is not None for f in figures)
    ratios = any(f.ratio is not None for f in figures)
    table = Table(title="jobq bench", title_justify="left")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("unit")
    if targets:
        table.add_column("target", justify="right")
    if ratios:
        table.add_column("ratio", justify="right")
    for fig in figures:
        row = [fig.label, _fmt(fig.value, fig.unit), fig.unit]
        if targets:
            target = "" if fig.target is None else f"{fig.compare} {_fmt(fig.target, fig.unit)}"
            if fig.met is not None:
                target += " [green]ok[/]" if fig.met else " [red]missed[/]"
            row.append(target)
        if ratios:
            row.append("" if fig.ratio is None else f"{fig.ratio:.0%}")
        table.add_row(*row)
    console.print(table)
    if any(f.key.startswith("stats_") for f in figures):
        console.print("ratio: with many finished jobs stored over with few")
    elif ratios:
        raw = any(f.reference and f.reference.startswith("raw") for f in figures)
        console.print(
            "ratio: each rate over its reference: "
            + ("the raw SQLite row" if raw else "one round trip (single enqueues)")
            + "; a workflow row over the plain jobs measured beside it"
        )
    machine, versions = env["machine"], env["versions"]
    console.print(
        f"{env['date']}  store: {env['store']}  python {versions['python']}, sqlite "
        f"{versions['sqlite']}, jobq {versions['jobq']}  {machine['nproc']} CPUs "
        f"({machine['cpu']}), load {machine['load_average']}"
    )


@contextmanager
def _sigterm_exits() -> Iterator[None]:
    """Turn SIGTERM into SystemExit while inside, so the throwaway schemas, key prefixes
    and worker processes are cleaned up when the bench is killed (e.g. by ``timeout``)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _command(ctx: click.Context) -> str:
    """The command line that reproduces this run (options left at their default omitted)."""
    words = ["jobq", "bench"]
    for param in ctx.command.params:
        name = param.name or ""
        if ctx.get_parameter_source(name) is click.core.ParameterSource.DEFAULT:
            continue
        value = ctx.params[name]
        if isinstance(param, click.Option) and param.is_flag:
            words += [param.opts[0]] if value else []
        else:
            words += [param.opts[0], str(value)]
    return " ".join(words)


@click.command("bench")
@click.option("--url", default=None, help="Store to measure (default: a fresh SQLite file "
              "per figure in a temp dir). PostgreSQL and Redis runs use a throwaway "
              "schema / key prefix.")
@click.option("--jobs", default=20_000, show_default=True, type=click.IntRange(min=1),
              help="Jobs per enqueue and drain figure.")
@click.option("--concurrency", default=4, show_default=True, type=click.IntRange(min=1),
              help="Threads per worker process.")
@click.option("--latency-jobs", default=500, show_default=True, type=click.IntRange(min=1),
              help="Jobs in the latency figure.")
@click.option("--latency-interval", default=10.0, show_default=True,
              type=click.FloatRange(min=0), help="Milliseconds between latency jobs.")
@click.option("--workflow-size", default=1_000, show_default=True,
              type=click.IntRange(min=0), help="Members of the chord, and chains of 3, in "
              "the workflow figures (0 skips them).")
@click.option("--cpu-seconds", default=1.0, show_default=True, type=click.FloatRange(min=0.001),
              help=f"CPU time of each of the {CPU_JOBS} CPU-bound jobs (thread vs process pool).")
@click.option("--sleep-jobs", default=1_000, show_default=True, type=click.IntRange(min=1),
              help=f"asyncio.sleep({SLEEP_SECONDS:g}) jobs at concurrency {SLEEP_CONCURRENCY} "
              "(async vs thread pool).")
@click.option("--stats", "stats_finished", type=click.IntRange(min=STATS_SMALL + 1),
              default=None, is_flag=False, flag_value=1_000_000,
              help="Instead, time app.stats() with 1,000 and with this many finished jobs "
              "stored (--stats alone: 1,000,000).")
@click.option("--json", "json_out", is_flag=True, help="Print the results as JSON.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the JSON results to this file.")
@click.option("--peers", is_flag=True, help="Instead, run the side-by-side comparison with "
              "Celery, RQ, Dramatiq, Huey, arq and procrastinate (bench/run.py in a jobq "
              "checkout; writes bench/PEERS.md).")
@click.option("--quick", is_flag=True, help="With --peers: the short run (small sizes, 1 run).")
@click.option("--periodic", is_flag=True, help="The drain workers' app also has a periodic "
              "task firing every second onto a queue of its own, so the drain figures "
              "include an elected leader firing ticks.")
def bench(url: str | None, jobs: int, concurrency: int, latency_jobs: int,
          latency_interval: float, workflow_size: int, cpu_seconds: float, sleep_jobs: int,
          json_out: bool, output: Path | None, peers: bool, quick: bool,
          periodic: bool, stats_finished: int | None) -> None:
    """Measure enqueue rates, drain rates and enqueue-to-start latency on a store, and
    the three pools side by side."""
    if peers:
        sys.exit(run_peers(quick))
    if quick:
        raise click.UsageError("--quick goes with --peers")
    command = _command(click.get_current_context())
    stores = runs.Stores(url)
    plan = Plan(jobs, concurrency, latency_jobs, latency_interval / 1000,
                raw_reference=stores.kind == "sqlite", periodic=periodic,
                workflow_size=workflow_size, cpu_seconds=cpu_seconds,
                sleep_jobs=sleep_jobs, stats_finished=stats_finished or 0)
    env = {"command": command, **environment(url)}
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=Console(stderr=True))
    try:
        with progress, _sigterm_exits():
            figures = Bench(stores, plan, progress).run()
    finally:
        stores.close()
    env["machine"]["load_average_after"] = runs.load_average()
    result = {**env, "plan": asdict(plan),
              "figures": [{**asdict(f), "met": f.met} for f in figures]}
    if output is not None:
        output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    if json_out:
        click.echo(json.dumps(result, indent=2))
    else:
        render(Console(), env, figures)


def run_peers(quick: bool) -> int:
    """Run ``python -m bench.run`` from the checkout this jobq is installed from."""
    checkout = Path(__file__).resolve().parents[2]
    if not (checkout / "bench" / "run.py").is_file():
        raise click.ClickException(
            "--peers needs a jobq checkout (bench/run.py beside the jobq package); this "
            f"jobq is installed at {checkout}. Clone the repository and run `make bench`."
        )
    argv = [sys.executable, "-m", "bench.run", *(["--quick"] if quick else [])]
    return subprocess.call(argv, cwd=checkout)


if __name__ == "__main__":
    bench(sys.argv[1:], prog_name="jobq bench")
