"""The CPU-bound pool figure of ``jobq bench``, alone and interleaved, for a busy machine.

    python -m bench.pool_cpu [--pairs 3] [--cpu-seconds 1.0]

Runs 8 CPU-bound jobs (each spins for ``--cpu-seconds`` of its own thread's CPU time) at
concurrency 2 with a thread-pool worker and then a process-pool worker, ``--pairs``
times, each on a fresh SQLite file, and prints each wall time with the 1-minute load
average when it started. Run from a checkout with jobq installed
(``.venv/bin/python -m bench.pool_cpu``).
"""

from __future__ import annotations

import argparse
import os

from jobq.benchmark import runs
from jobq.benchmark.tasks import SPIN


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--cpu-seconds", type=float, default=1.0)
    args = parser.parse_args()
    stores = runs.Stores(None)
    try:
        for _ in range(args.pairs):
            for pool in ("thread", "process"):
                load = os.getloadavg()[0]
                with stores.fresh() as store:
                    seconds = runs.run_all(store, 8, 1, 2, lambda done: None, pool=pool,
                                           task_name=SPIN, args=(args.cpu_seconds,))
                print(f"{pool:8} {seconds:6.2f} s   load {load:.2f}", flush=True)
    finally:
        stores.close()


if __name__ == "__main__":
    main()
