"""The pictures: throughput per system, latency distribution, scaling with backlog."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from bench.summary import summarize

JOBQ = "#d62728"
PEER = "#1f77b4"
TUNED = "#9ecae1"


def _colour(row: dict[str, Any]) -> str:
    if row["system"].startswith("jobq"):
        return JOBQ
    return TUNED if row["tuned"] else PEER


def _title(results: dict[str, Any], what: str, once: bool = False) -> str:
    if results["quick"]:
        return what + " (quick run: small N, 1 run)"
    return what + (" (one drain per level)" if once else
                   f" (median of {results['sizes']['runs']} runs)")


def throughput(results: dict[str, Any], path: Path) -> None:
    cells = summarize(results)
    rows = results["rows"]
    panels = [("drain_c2", "drain, concurrency 2"), ("drain_c8", "drain, concurrency 8"),
              ("mix_c32", "1-20 ms jobs, concurrency 32"), ("enqueue_one", "enqueue one by one"),
              ("enqueue_bulk", "enqueue with the bulk API")]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 0.42 * len(rows) + 1.8),
                             sharey=True)
    labels = [r["label"] for r in rows]
    for ax, (metric, title) in zip(axes, panels, strict=True):
        values = [(cells[r["key"]].get(metric).value or 0.0) if cells[r["key"]].get(metric)
                  else 0.0 for r in rows]
        bars = ax.barh(labels, values, color=[_colour(r) for r in rows])
        for bar, value in zip(bars, values, strict=True):
            if value:
                ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, f" {value:,.0f}",
                        va="center", fontsize=8)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("jobs/s (higher is better)")
        ax.set_xlim(0, max([*values, 1]) * 1.3)
        ax.grid(axis="x", alpha=0.3)
    axes[0].invert_yaxis()
    fig.suptitle(_title(results, "Throughput, no-op jobs"), fontsize=12)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def latency(results: dict[str, Any], path: Path) -> None:
    rows, data, labels, colours = results["rows"], [], [], []
    for row in rows:
        samples: list[float] = []
        for run in results["raw"].get(row["key"], {}).get("latency", []):
            samples += run.get("samples_ms", [])
        runs = results["raw"].get(row["key"], {}).get("latency", [])
        expected = sum(run.get("n", 0) for run in runs)
        if samples:
            data.append(samples)
            missing = f" ({len(samples)}/{expected} started)" if len(samples) < expected else ""
            labels.append(row["label"] + missing)
            colours.append(_colour(row))
    if not data:
        return
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(data) + 1.6))
    box = ax.boxplot(data, vert=False, whis=(1, 99), showfliers=False, patch_artist=True,
                     widths=0.6)
    for patch, colour in zip(box["boxes"], colours, strict=True):
        patch.set_facecolor(colour)
        patch.set_alpha(0.7)
    ax.set_yticks(range(1, len(labels) + 1), labels)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("enqueue → start, ms (log scale; box 25-75 %, median in orange, whiskers "
                  "1-99 %; lower is better)")
    ax.grid(axis="x", alpha=0.3, which="both")
    ax.set_title(_title(results, "Latency on an idle worker, 500 jobs at 50/s"), fontsize=12)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


JOBQ_STYLES = {"jobq-sqlite": ("#8b0000", "o"), "jobq-postgres": ("#d62728", "s"),
               "jobq-redis": ("#ff7f7f", "^")}
PEER_COLOURS = ["#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#17becf", "#7f7f7f", "#bcbd22"]


def backlog(results: dict[str, Any], path: Path) -> None:
    rows = {r["key"]: r for r in results["rows"]}
    levels = list(results["sizes"]["backlogs"])
    fig, ax = plt.subplots(figsize=(10, 5.5))
    peers = iter(PEER_COLOURS)
    drawn, flat = False, []
    for key, entry in results["backlog"].items():
        row = rows[key]
        rates = [lv.get("drain_rate") for lv in entry.get("levels", [])]
        if entry.get("keeps_nothing"):
            flat.append(row["label"])
            continue
        points = [(i, r) for i, r in enumerate(rates) if r]
        if not points:
            continue
        colour, marker = JOBQ_STYLES[key] if key in JOBQ_STYLES else (next(peers), "o")
        jobq = key.startswith("jobq")
        label = row["label"] + (" (tuned worker)" if entry.get("variant") else "")
        ax.plot([p[0] for p in points], [p[1] for p in points], marker=marker, color=colour,
                linewidth=2.8 if jobq else 1.6, markersize=8 if jobq else 6, label=label)
        drawn = True
    if not drawn:
        plt.close(fig)
        return
    ax.set_xticks(range(len(levels)), [f"{lv:,}" for lv in levels])
    ax.set_xlim(-0.3, len(levels) - 0.7)
    ax.set_xlabel("finished jobs already in the store")
    ax.set_ylabel("drain rate, jobs/s, concurrency 2 (higher is better)")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9, loc="center left", bbox_to_anchor=(1.01, 0.5))
    if flat:
        ax.text(0.0, -0.16, "Not drawn: " + ", ".join(flat) + " keep no finished jobs by "
                "default, so their store never grows.", transform=ax.transAxes, fontsize=8)
    ax.set_title(_title(results, "Does the drain slow down as finished jobs pile up?",
                        once=True), fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def draw(results: dict[str, Any], out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    made = []
    for name, fn in (("throughput", throughput), ("latency", latency), ("backlog", backlog)):
        path = out / f"{name}.png"
        fn(results, path)
        if path.exists():
            made.append(path)
    return made
