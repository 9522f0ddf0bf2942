"""Where jobq's enqueue→start latency goes, stage by stage, on an idle worker.

    python -m bench.latency_stages [--url redis://127.0.0.1:6379/5] [--jobs 300]

Starts one worker process (concurrency 2) whose wake-up listener, claim and thread hand-off
are wrapped to record when each happened (epoch seconds), then enqueues jobs one every
10 ms, each returning the time it started, and prints the median time from just before
``task.enqueue()`` to each stage. For profiling only: the wrappers reach into jobq's
internals, so this follows the Redis backend's structure and is not part of any test.
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jobq

STAGES = ("wake heard", "claim sent", "claim replied", "handed to a thread")


def make_app(url: str, prefix: str) -> jobq.App:
    app = jobq.App(url, prefix=prefix)
    app.task(name="stamp")(time.time)
    return app


def worker(url: str, prefix: str, out: str) -> None:
    from jobq.backends import redis as redis_backend
    from jobq.backends import redis_wake
    from jobq.worker import pool

    marks: dict[str, list[float]] = {name: [] for name in STAGES}

    def before(owner: object, name: str, stage: str) -> None:
        original = getattr(owner, name)

        def wrapped(*args: object, **kwargs: object) -> object:
            marks[stage].append(time.time())
            return original(*args, **kwargs)

        setattr(owner, name, wrapped)

    original_claim = redis_backend.RedisBackend.claim

    def claim(self: redis_backend.RedisBackend, *args: object, **kwargs: object) -> object:
        sent = time.time()
        claimed = original_claim(self, *args, **kwargs)  # type: ignore[arg-type]
        if claimed:
            marks["claim sent"].append(sent)
            marks["claim replied"].append(time.time())
        return claimed

    before(redis_wake.WakeListener, "_notify", "wake heard")
    before(pool.ThreadPool, "submit", "handed to a thread")
    redis_backend.RedisBackend.claim = claim  # type: ignore[method-assign]

    make_app(url, prefix).run_worker(concurrency=2, queues=["default"])  # until SIGTERM
    Path(out).write_text(json.dumps(marks))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="redis://127.0.0.1:6379/5")
    parser.add_argument("--jobs", type=int, default=300)
    args = parser.parse_args()
    prefix = f"latency-stages-{os.getpid()}:"  # a store of its own for this run
    app = make_app(args.url, prefix)
    app.migrate()
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, "marks.json")
        proc = subprocess.Popen([sys.executable, "-c", "import sys; from bench.latency_stages "
                                 "import worker; worker(*sys.argv[1:])", args.url, prefix, out])
        try:
            stamp = app.get_task("stamp")
            for _ in range(20):  # warm up: the worker is up and idle once these ran
                stamp.enqueue().result(timeout=60)
            sent = []
            for _ in range(args.jobs):
                time.sleep(0.01)
                began = time.time()
                job = stamp.enqueue()
                sent.append((job, began, time.time()))
            started = [float(job.result(timeout=60)) for job, _, _ in sent]
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
        marks = json.loads(Path(out).read_text())
    rows = {"enqueue() returned": [done - began for _, began, done in sent]}
    for stage in STAGES:
        times = sorted(marks[stage])
        rows[stage] = []
        for _, began, _ in sent:
            i = bisect.bisect_left(times, began)
            if i < len(times):
                rows[stage].append(times[i] - began)
    rows["job started"] = [s - began for s, (_, began, _) in zip(started, sent, strict=True)]
    app.purge(older_than=0)
    print(f"{args.jobs} jobs, one every 10 ms, idle worker (concurrency 2), {args.url}")
    print("median ms after the enqueue began:")
    for name, values in rows.items():
        print(f"  {name:<22} {statistics.median(values) * 1000:6.3f}")
    app.close()


if __name__ == "__main__":
    main()
