"""``python -m bench.run``: jobq against Celery, RQ, Dramatiq, Huey, arq and procrastinate.

Installs each system into bench/.venvs/<system>, starts PostgreSQL and Redis if they are
down, runs the same workloads against every system (interleaved, each run in turn),
and writes bench/results.json, bench/PEERS.md and bench/plots/*.png.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import venvs

ROOT = venvs.REPO / "bench"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="small sizes, 1 run, no 1,000,000 backlog or 100,000-job memory")
    parser.add_argument("--systems", default="",
                        help="comma-separated subset (e.g. jobq-sqlite,celery); default all")
    parser.add_argument("--no-tuned", action="store_true", help="skip the tuned rows")
    parser.add_argument("--skip", default="",
                        help="comma-separated workloads to skip: one,bulk,latency,mix,"
                             "backlog,rss")
    parser.add_argument("--out", default=str(ROOT), help="where PEERS.md etc. go")
    parser.add_argument("--report-only", action="store_true",
                        help="measure nothing: redraw PEERS.md and plots from results.json")
    return parser.parse_args(argv)


def bootstrap(argv: list[str]) -> None:
    """Re-run inside bench/.venvs/harness (matplotlib, redis, psycopg live there)."""
    bin_dir = venvs.ensure("harness", venvs.HARNESS_REQUIREMENTS)
    env = {**os.environ, "PYTHONPATH": str(venvs.REPO)}
    os.execve(str(bin_dir / "python"), [str(bin_dir / "python"), "-m", "bench.run", *argv],
              env)


def ensure_services() -> list[str]:
    """Start the local PostgreSQL and Redis if they are down; say what was done."""
    import psycopg
    import redis

    from bench.systems.base import ADMIN_DB, POSTGRES_URL, REDIS_URL

    notes = []
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.ConnectionError:
        subprocess.run(["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1",
                        "--port", "6379", "--save", "", "--appendonly", "no", "--dir",
                        "/var/lib/redis", "--logfile", "/var/log/redis/ci.log"], check=True)
        notes.append("started Redis")
    try:
        psycopg.connect(f"{POSTGRES_URL}/{ADMIN_DB}", connect_timeout=3).close()
    except psycopg.OperationalError:
        version = sorted(os.listdir("/etc/postgresql"))[-1]
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"],
                       check=True)
        notes.append("started PostgreSQL")
    deadline = time.monotonic() + 30
    while True:
        try:
            redis.Redis.from_url(REDIS_URL).ping()
            psycopg.connect(f"{POSTGRES_URL}/{ADMIN_DB}", connect_timeout=3).close()
            return notes
        except (redis.ConnectionError, psycopg.OperationalError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def machine() -> dict[str, Any]:
    model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    load = os.getloadavg()
    return {"nproc": os.cpu_count(), "cpu": model, "memory_gib": round(mem_kb / 2**20, 1),
            "kernel": platform.release(), "python": platform.python_version(),
            "loadavg_at_start": [round(x, 2) for x in load]}


def main(argv: list[str]) -> int:
    if not venvs.in_harness():
        bootstrap(argv)
    from bench import plots, report
    from bench.measure import Context, Counter
    from bench.suite import Suite
    from bench.systems import SYSTEMS
    from bench.workloads import QUICK, Sizes

    args = parse_args(argv)
    out = Path(args.out)
    if args.report_only:
        results = json.loads((out / "results.json").read_text())
        plots.draw(results, out / "plots")
        (out / "PEERS.md").write_text(report.render(results))
        return 0
    started = time.time()
    notes = ensure_services()
    wanted = [s for s in args.systems.split(",") if s] or list(SYSTEMS)
    unknown = [s for s in wanted if s not in SYSTEMS]
    if unknown:
        raise SystemExit(f"unknown systems {unknown}; choose from {sorted(SYSTEMS)}")
    sizes = QUICK if args.quick else Sizes()
    (out / "plots").mkdir(parents=True, exist_ok=True)
    logs = Path(tempfile.mkdtemp(prefix="bench-logs-"))
    with tempfile.TemporaryDirectory(prefix="bench-work-") as work:
        ctx = Context(work=Path(work), counter=Counter(), logs=logs)
        partial = out / "results.partial.json"
        suite = Suite(ctx, sizes, [SYSTEMS[s] for s in wanted], tuned=not args.no_tuned,
                      skip=set(filter(None, args.skip.split(","))),
                      checkpoint=lambda so_far: partial.write_text(json.dumps(so_far)))
        suite.install(log=logs / "pip.log")
        suite.run_all()
    results = {
        "command": "python -m bench.run " + " ".join(shlex.quote(a) for a in argv),
        "quick": args.quick, "sizes": sizes.__dict__, "machine": machine(),
        "service_notes": notes, "started": started, "seconds": time.time() - started,
        "logs": str(logs), **suite.results(),
    }
    (out / "results.json").write_text(json.dumps(results, indent=1))
    partial.unlink(missing_ok=True)
    plots.draw(results, out / "plots")
    (out / "PEERS.md").write_text(report.render(results))
    print(f"wrote {out / 'PEERS.md'} in {results['seconds'] / 60:.1f} min (logs: {logs})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
