"""RQ: `rq worker-pool -n N` (one job at a time per worker process, a fork per job)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from bench.systems.base import Adapter, Variant


class RQAdapter(Adapter):
    name = venv = "rq"
    label = "RQ"
    requirements = ("rq", "redis")
    packages = ("rq", "redis")
    redis_db = 10
    has_bulk = True
    bulk_api = "Queue.enqueue_many (one pipeline)"
    config = ("`rq worker-pool -n N` (N worker processes, each forking a work horse per job: "
              "the default Worker class), default result_ttl 500 s.")
    backlog_variant = "simple"
    variants = (Variant("simple", "RQ SimpleWorker (tuned)",
                        "`rq worker-pool -n N -w rq.worker.SimpleWorker`: runs jobs in the "
                        "worker process, no fork per job."),)

    def worker_command(
        self, bin_dir: Path, concurrency: int, variant: str | None, store_url: str
    ) -> tuple[list[str], dict[str, str]]:
        cmd = [str(bin_dir / "rq"), "worker-pool", "-n", str(concurrency), "-u", store_url]
        if variant == "simple":
            cmd += ["-w", "rq.worker.SimpleWorker"]
        return [*cmd, "default"], {}

    def open(self) -> Any:
        import redis
        from rq import Queue

        from bench.apps.rq_app import noop

        self.fn = noop
        self.queue_cls = Queue
        self.queue = Queue("default", connection=redis.Redis.from_url(
            os.environ["BENCH_STORE_URL"]))

    def enqueue_one(self, t_enq: float, sleep_ms: float) -> Any:
        self.queue.enqueue(self.fn, t_enq, sleep_ms)

    def enqueue_bulk(self, jobs: list[tuple[float, float]]) -> Any:
        prepare = self.queue_cls.prepare_data
        self.queue.enqueue_many([prepare(self.fn, args=job) for job in jobs])
