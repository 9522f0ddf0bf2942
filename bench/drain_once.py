"""One drain in the harness's conditions, for profiling jobq's worker between full runs.

    python -m bench.drain_once [--jobs 20000] [--concurrency 2] [-- worker options...]

Stores ``--jobs`` no-op jobs of ``bench/apps/jobq_app.py`` in Redis (database 2, the
harness's counter in database 3), starts ``jobq worker`` on them with the options after
``--`` (e.g. ``-- --log-level WARNING``), waits for the counter, and prints the drain rate
(first job's start to last job's end, as the harness measures it) and the CPU time the
worker process and the Redis server spent per job. Run from a checkout with jobq and
redis-py installed (``.venv/bin/python -m bench.drain_once``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import redis

STORE_URL = "redis://127.0.0.1:6379/2"
COUNTER_URL = "redis://127.0.0.1:6379/3"
KEY = "drain-once"


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    argv = sys.argv[1:]
    worker_args = argv[argv.index("--") + 1:] if "--" in argv else []
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args(argv[:argv.index("--")] if "--" in argv else argv)
    env = {**os.environ, "BENCH_STORE_URL": STORE_URL, "BENCH_COUNTER_URL": COUNTER_URL,
           "BENCH_KEY": KEY, "BENCH_TARGET": str(args.jobs),
           "JOBQ_APP": "bench.apps.jobq_app:app"}
    os.environ.update(env)
    from bench.apps.jobq_app import app, noop

    counter = redis.Redis.from_url(COUNTER_URL)
    counter.delete(KEY, f"{KEY}:first", f"{KEY}:last")
    redis.Redis.from_url(STORE_URL).flushdb()
    app.migrate()
    calls = [noop.call() for _ in range(args.jobs)]
    for i in range(0, len(calls), 1000):
        app.enqueue_many(calls[i:i + 1000])
    app.close()
    server = int(redis.Redis.from_url(STORE_URL).info("server")["process_id"])
    server_before = cpu_seconds(server)
    bin_dir = Path(sys.executable).parent
    worker = subprocess.Popen([str(bin_dir / "jobq"), "worker", "--concurrency",
                               str(args.concurrency), "--queues", "default", *worker_args],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 600
        while int(counter.get(KEY) or 0) < args.jobs:
            if time.monotonic() > deadline or worker.poll() is not None:
                raise SystemExit("the worker did not run every job")
            time.sleep(0.05)
        worker_cpu = cpu_seconds(worker.pid)
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    server_cpu = cpu_seconds(server) - server_before
    first, last = (float(counter.get(f"{KEY}:{m}") or 0) for m in ("first", "last"))
    print(f"drain {args.jobs / (last - first):,.0f} jobs/s; CPU per job: worker "
          f"{worker_cpu / args.jobs * 1e6:,.0f} µs, Redis {server_cpu / args.jobs * 1e6:,.0f} µs")


if __name__ == "__main__":
    main()
