"""One `jobq bench` drain figure alone, for comparing two trees without the whole bench:

    PYTHONPATH=/tmp/before python -m bench.drain_figure sqlite 20000
    PYTHONPATH=/tmp/after  python -m bench.drain_figure sqlite 20000

Stores the jobs, drains them with 1 worker process x 4 threads (``runs.drain``, as the
``drain, 1 worker process`` figure) and prints the rate as JSON with the jobq it used.
The store is a fresh SQLite file, or a throwaway schema / key prefix on the local servers.
"""

from __future__ import annotations

import json
import sys

import jobq
from jobq.benchmark import runs

URLS = {"sqlite": None, "postgres": "postgresql://127.0.0.1:5432/test",
        "redis": "redis://127.0.0.1:6379/0"}


def main() -> None:
    kind, jobs = sys.argv[1], int(sys.argv[2])
    stores = runs.Stores(URLS[kind])
    try:
        with stores.fresh() as store:
            rate = runs.drain(store, jobs, 1, 4, lambda done: None)
    finally:
        stores.close()
    print(json.dumps({"store": kind, "jobq": jobq.__file__, "rate": rate}))


if __name__ == "__main__":  # the drain's worker processes are spawned: they import this
    main()
