"""Celery: Redis broker, default prefork pool at ``-c N``; ``-P threads`` as the tuned row."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.systems.base import Adapter, Variant


class CeleryAdapter(Adapter):
    name = venv = "celery"
    label = "Celery"
    requirements = ("celery[redis]", "redis")
    packages = ("celery", "kombu", "redis")
    redis_db = 9
    config = ("Redis broker, no result backend, default prefork pool (`celery worker -c N`), "
              "default prefetch multiplier 4, tasks sent with `.delay()`. No bulk API "
              "(a group still publishes one message per task).")
    variants = (Variant("threads", "Celery -P threads (tuned)",
                        "`celery worker -P threads -c N`: the thread pool suits I/O-bound "
                        "work and avoids prefork's pipe round trip per task."),)

    def worker_command(
        self, bin_dir: Path, concurrency: int, variant: str | None, store_url: str
    ) -> tuple[list[str], dict[str, str]]:
        cmd = [str(bin_dir / "celery"), "-A", "bench.apps.celery_app", "worker",
               "-c", str(concurrency)]
        if variant == "threads":
            cmd += ["-P", "threads"]
        return cmd, {}

    def open(self) -> Any:
        from bench.apps.celery_app import noop

        self.task = noop

    def enqueue_one(self, t_enq: float, sleep_ms: float) -> Any:
        self.task.delay(t_enq, sleep_ms)
