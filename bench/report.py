"""bench/PEERS.md: the tables, the ratios, the configurations, versions and machine."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from bench.summary import Cell, higher_is_better, summarize
from bench.venvs import REPO

THROUGHPUT = [("enqueue_one", "enqueue one"), ("enqueue_bulk", "enqueue bulk"),
              ("drain_c2", "drain c=2"), ("drain_c8", "drain c=8"), ("mix_c32", "mix c=32")]
LATENCY = [("p50", "p50"), ("p95", "p95"), ("p99", "p99")]


def _fmt(cell: Cell | None, digits: int = 0) -> str:
    if cell is None:
        return "—"
    if cell.value is None:
        if cell.floor is not None:
            return f"> {cell.floor:,.{digits}f} †"
        return "error" if cell.error else "—"
    text = f"{cell.value:,.{digits}f}"
    return text + " †" if cell.partial else text


def _table(header: list[str], lines: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(line) + " |" for line in lines]
    return [*out, ""]


def _best(rows: list[dict[str, Any]], cells: dict[str, dict[str, Cell]], metric: str,
          jobq: bool) -> tuple[dict[str, Any], float] | None:
    found = [(r, cells[r["key"]][metric].value) for r in rows
             if r["system"].startswith("jobq") == jobq and metric in cells[r["key"]]
             and cells[r["key"]][metric].value]
    if not found:
        return None
    pick = max if higher_is_better(metric) else min
    return pick(found, key=lambda item: item[1])  # type: ignore[arg-type,return-value]


def _ratios(rows: list[dict[str, Any]], cells: dict[str, dict[str, Cell]]) -> list[str]:
    out: list[str] = []
    metrics = THROUGHPUT + LATENCY
    for jrow in (r for r in rows if r["system"].startswith("jobq")):
        jc = cells[jrow["key"]]
        out.append(f"**{jrow['label']} ÷ peer** (throughput: above 1 means jobq is faster; "
                   "latency: below 1 means jobq is faster)\n")
        lines = []
        for prow in (r for r in rows if not r["system"].startswith("jobq")):
            pc = cells[prow["key"]]
            line = [prow["label"]]
            for metric, _ in metrics:
                a, b = jc.get(metric), pc.get(metric)
                ok = a and b and a.value and b.value
                line.append(f"{a.value / b.value:.2f}" if ok else "—")  # type: ignore[union-attr]
            lines.append(line)
        out += _table(["peer"] + [m[1] for m in metrics], lines)
    return out


def _behind(rows: list[dict[str, Any]], cells: dict[str, dict[str, Cell]]) -> list[str]:
    out = []
    for metric, name in THROUGHPUT + LATENCY:
        best_j, best_p = _best(rows, cells, metric, True), _best(rows, cells, metric, False)
        if not best_j or not best_p:
            continue
        (jr, jv), (pr, pv) = best_j, best_p
        better = jv > pv if higher_is_better(metric) else jv < pv
        unit = "jobs/s" if higher_is_better(metric) else "ms"
        verdict = "ahead" if better else "**behind**"
        factor = (jv / pv) if higher_is_better(metric) else (pv / jv)
        out.append(f"- {name}: best jobq {jr['label']} {jv:,.1f} {unit} vs best peer "
                   f"{pr['label']} {pv:,.1f} {unit} — jobq {verdict} (x{factor:.2f})")
    return [*out, ""]


def _against_best(jrow: dict[str, Any], peers: list[dict[str, Any]],
                  cells: dict[str, dict[str, Cell]]) -> Iterator[tuple[str, str, Cell,
                                                                   dict[str, Any], float]]:
    """Per figure that both have: (metric, name, jobq's cell, best peer row, its value)."""
    for metric, name in THROUGHPUT + LATENCY:
        mine = cells[jrow["key"]].get(metric)
        best = _best(peers, cells, metric, False)
        if mine and mine.value and best:
            yield metric, name, mine, *best


def _lead(metric: str, mine: float, theirs: float) -> float:
    """How many times better jobq is: above 1 it is ahead."""
    return mine / theirs if higher_is_better(metric) else theirs / mine


def _behind_each(rows: list[dict[str, Any]], cells: dict[str, dict[str, Cell]]) -> list[str]:
    """For each jobq store, every figure where some peer row does better, and by how much."""
    out = []
    for jrow in (r for r in rows if r["system"].startswith("jobq")):
        lost = []
        for metric, name, mine, prow, pv in _against_best(jrow, rows, cells):
            factor = _lead(metric, mine.value or 0.0, pv)
            if factor < 1:
                unit = "jobs/s" if higher_is_better(metric) else "ms"
                lost.append(f"{name} {mine.value:,.1f} vs {prow['label']} {pv:,.1f} {unit} "
                            f"(jobq at {factor:.2f}x)")
        out.append(f"- {jrow['label']}: " + ("; ".join(lost) if lost else "behind nowhere"))
    return [*out, ""]


def _store(row: dict[str, Any]) -> str:
    """The kind of server a row ran on (results of older runs do not record it)."""
    from bench.systems import SYSTEMS

    adapter = SYSTEMS.get(row["system"])
    return row.get("store") or (adapter.store if adapter else "")


def _same_store(rows: list[dict[str, Any]], cells: dict[str, dict[str, Cell]]) -> list[str]:
    """Each jobq store against the best peer row on the same kind of server (default or
    tuned), figure by figure: the comparison that says whether jobq wins where a team
    already runs Redis or PostgreSQL."""
    out = ["jobq's lead (x) = how many times better jobq is (its rate ÷ the peer's, or the "
           "peer's latency ÷ jobq's): above 1 jobq is ahead.", ""]
    for jrow in (r for r in rows if r["system"].startswith("jobq")):
        peers = [r for r in rows if not r["system"].startswith("jobq")
                 and _store(r) == _store(jrow)]
        if not peers:
            continue
        names = ", ".join(sorted({p["label"] for p in peers if not p["tuned"]}))
        out += [f"**{jrow['label']}** against {names} (and their tuned rows):", ""]
        lines = []
        for metric, name, mine, prow, pv in _against_best(jrow, peers, cells):
            factor = _lead(metric, mine.value or 0.0, pv)
            verdict = ("ahead, ≥ 2x" if factor >= 2 else "ahead" if factor > 1
                       else "**behind**")
            digits = 0 if higher_is_better(metric) else 2
            theirs = _fmt(cells[prow["key"]][metric], digits)
            lines.append([name, _fmt(mine, digits), f"{prow['label']}: {theirs}",
                          f"{factor:.2f}", verdict])
        out += _table(["figure", jrow["label"], "best peer on the same server", "jobq's lead (x)",
                       "verdict"], lines)
    return out


def _backlog(results: dict[str, Any]) -> list[str]:
    labels = {r["key"]: r["label"] for r in results["rows"]}
    levels = results["sizes"]["backlogs"]
    header = ["system"] + [f"{lv:,} finished" for lv in levels] + ["last ÷ first"]
    lines = []
    for key, entry in results["backlog"].items():
        rates = [lv.get("drain_rate") for lv in entry.get("levels", [])]
        if entry.get("keeps_nothing"):
            line = [labels[key], f"{rates[0]:,.0f}" if rates and rates[0] else "—"]
            line += ["keeps no finished jobs"] * (len(levels) - 1) + ["flat by construction"]
        else:
            tuned = f" (worker: {entry['variant']} variant)" if entry.get("variant") else ""
            line = [labels[key] + tuned] + [f"{r:,.0f}" if r else "—" for r in rates]
            line += ["—"] * (len(levels) - len(rates))
            ratio = rates[-1] / rates[0] if len(rates) == len(levels) and rates[0] and \
                rates[-1] else None
            line.append(f"{ratio:.2f}" if ratio else entry.get("error", "—")[:60])
        lines.append(line)
    return _table(header, lines) if lines else ["(not measured)", ""]


def _memory(results: dict[str, Any]) -> list[str]:
    labels = {r["key"]: r["label"] for r in results["rows"]}
    lines = []
    for key, m in results["memory"].items():
        peak, rss = m.get("peak_rss_kb", 0) / 1024, m.get("rss_kb", 0) / 1024
        lines.append([labels[key], f"{m.get('count', 0):,}", f"{peak:,.0f}", f"{rss:,.0f}",
                      m.get("error", "")])
    if not lines:
        return ["Not measured in this run (`--quick` skips it).", ""]
    intro = [f"Peak resident memory of the worker's whole process group (parent and pool "
             f"children) while it drains {results['sizes']['rss_jobs']:,} no-op jobs at "
             f"concurrency 2, or for {results['sizes'].get('rss_cap', 0):.0f} s if it is "
             "slower than that (then 'jobs run' says how far it got).", ""]
    return intro + _table(["system", "jobs run", "peak RSS MiB (process group)",
                           "RSS at end MiB", "note"], lines)


def render(results: dict[str, Any]) -> str:
    rows, cells, s, m = results["rows"], summarize(results), results["sizes"], results["machine"]
    quick = results["quick"]
    out = ["# jobq against its Python peers" + (" — QUICK RUN" if quick else ""), ""]
    if quick:
        out += [f"> **Quick run** (`--quick`): N = {s['n']:,}, 1 run, no 1,000,000 backlog, "
                "no 100,000-job memory figure. For development only: small N and one run on a "
                "shared, busy machine make these figures noisy. The full run "
                "(`make bench`) takes the median of 3 runs at the sizes below.", ""]
    out += [f"Command: `{results['command']}` — took {results['seconds'] / 60:.1f} min, "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(results['started']))}.", "",
            f"Machine: {m['nproc']} cores ({m['cpu']}), {m['memory_gib']} GiB, Linux "
            f"{m['kernel']}, Python {m['python']}; load average at start "
            f"{m['loadavg_at_start']}. The machine was shared with other work during the run, "
            "so every figure carries noise.", ""]
    for name, why in results["unavailable"].items():
        out.append(f"- **{name}**: {why} — its rows are missing.")
    out += ["", "## Throughput (jobs/s, higher is better)", "",
            f"N = {s['n']:,} no-op jobs; mix = {s['mix']:,} jobs sleeping 1-20 ms each "
            "(the same seeded sequence for all). † = cut at the time limit "
            f"({s['drain_cap']:.0f} s): the rate is of the jobs done by then. Tuned rows "
            "reuse their system's client, so their enqueue cells are empty.", ""]
    out += _table(["system"] + [t[1] for t in THROUGHPUT],
                  [[r["label"]] + [_fmt(cells[r["key"]].get(k)) for k, _ in THROUGHPUT]
                   for r in rows])
    out += ["## Enqueue → start latency (ms, lower is better)", "",
            f"{s['latency']} jobs, one every {1000 / s['latency_rate']:.0f} ms, to an idle "
            "worker at concurrency 2, after 20 warm-up jobs run one at a time. A system that "
            "cannot keep up with that pace builds a queue, and its latency then includes the "
            "wait. † = some jobs had not started when the run was cut; \"> x\" means that "
            "percentile lies among them, so it is above the largest latency seen (x).", ""]
    out += _table(["system"] + [t[1] for t in LATENCY],
                  [[r["label"]] + [_fmt(cells[r["key"]].get(k), 2) for k, _ in LATENCY]
                   for r in rows])
    out += ["## Same server: jobq on Redis against the Redis peers, jobq on PostgreSQL "
            "against procrastinate", "", *_same_store(rows, cells)]
    out += ["## Where jobq stands", "", "Best jobq row against the best peer row (default "
            "or tuned), figure by figure:", "", *_behind(rows, cells),
            "Where each jobq store is behind the best peer (throughput: jobq at 0.5x means "
            "half the peer's rate; latency: at 0.5x means twice the peer's latency):", "",
            *_behind_each(rows, cells)]
    out += ["## Ratios jobq ÷ peer", "", *_ratios(rows, cells)]
    out += ["## Cost as finished jobs pile up (drain jobs/s, concurrency 2)", "",
            f"Each level drains {s['backlog_n']:,} fresh jobs with that many finished jobs "
            "already stored. Levels above 0 are reached by copying a job the system itself "
            "finished (bench/clone.py), since running a million jobs through every worker "
            "would take hours. RQ and arq use their tuned worker here: their default one "
            "cannot finish the first drain in time, and only a store holding nothing but "
            "finished jobs can be cloned safely.", "", *_backlog(results)]
    out += ["## Worker memory (peak RSS) after 100,000 jobs", "", *_memory(results)]
    out += _method(results)
    return "\n".join(out) + "\n"


def _method(results: dict[str, Any]) -> list[str]:
    out = ["## How it was measured", "",
           "- Every system runs its standard worker command in its documented default "
           "configuration, installed from PyPI into its own virtualenv (bench/.venvs/).",
           "- The task is the same for all: it increments a counter in a Redis database "
           "reserved for the harness (the counter proves every job ran, and is how "
           "completion is detected for all); latency jobs push their enqueue and start times.",
           "- Drain rate = jobs ÷ (last job's end - first job's start), as the tasks record "
           "them: worker start-up is excluded. Jobs are all queued before the worker starts.",
           "- Each system's store is isolated and emptied before each measurement (its own "
           "Redis database 9-14, or its own PostgreSQL database / schema, or a fresh SQLite "
           "file). Workloads run interleaved: each workload runs for every system in turn.",
           "- The bulk API, where a system has one, is called in chunks of 1,000 jobs.",
           "- Memory is summed over the worker's process group (RQ's per-job work horses "
           "start their own session, so they are not in it: they live for one job).",
           "- Asyncio systems (arq, procrastinate) run the same task as a coroutine: the "
           "1-20 ms sleep is `asyncio.sleep`, the counter uses redis.asyncio.", "",
           "| row | configuration |", "|---|---|"]
    out += [f"| {r['label']} | {r['config']} |" for r in results["rows"]]
    out += ["", "Worker commands (concurrency 2 shown; paths relative to bench/.venvs/):", ""]
    for key, cmd in results["commands"].items():
        if key.endswith(":one"):
            out.append(f"- `{cmd.replace(str(REPO / 'bench' / '.venvs') + '/', '')}`")
    out += ["", "Versions:", ""]
    for venv, found in results["versions"].items():
        out.append(f"- {venv}: " + ", ".join(f"{k} {v}" for k, v in found.items()))
    return [*out, ""]
