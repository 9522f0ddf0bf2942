"""Huey: RedisHuey, `huey_consumer -w N -k thread`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.systems.base import Adapter


class HueyAdapter(Adapter):
    name = venv = "huey"
    label = "Huey"
    requirements = ("huey", "redis")
    packages = ("huey", "redis")
    redis_db = 12
    config = ("RedisHuey (blocking dequeue, results stored only for non-None returns), "
              "`huey_consumer -w N -k thread`. No bulk API.")

    def worker_command(
        self, bin_dir: Path, concurrency: int, variant: str | None, store_url: str
    ) -> tuple[list[str], dict[str, str]]:
        return [str(bin_dir / "huey_consumer"), "bench.apps.huey_app.huey",
                "-w", str(concurrency), "-k", "thread"], {}

    def open(self) -> Any:
        from bench.apps.huey_app import noop

        self.task = noop

    def enqueue_one(self, t_enq: float, sleep_ms: float) -> Any:
        self.task(t_enq, sleep_ms)
