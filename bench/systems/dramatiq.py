"""Dramatiq: Redis broker, `dramatiq --processes 1 --threads N`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.systems.base import Adapter, Variant

TUNED_PREFETCH = 64


class DramatiqAdapter(Adapter):
    name = venv = "dramatiq"
    label = "Dramatiq"
    requirements = ("dramatiq[redis]", "redis")
    packages = ("dramatiq", "redis")
    redis_db = 11
    config = ("Redis broker, default middleware, `dramatiq --processes 1 --threads N` "
              "(its default prefetch is 2 messages per thread). No bulk API.")
    variants = (Variant("prefetch", f"Dramatiq prefetch {TUNED_PREFETCH} (tuned)",
                        f"`dramatiq_queue_prefetch={TUNED_PREFETCH}` (documented environment "
                        "setting): fetch more messages per Redis round trip."),)

    def worker_command(
        self, bin_dir: Path, concurrency: int, variant: str | None, store_url: str
    ) -> tuple[list[str], dict[str, str]]:
        cmd = [str(bin_dir / "dramatiq"), "bench.apps.dramatiq_app",
               "--processes", "1", "--threads", str(concurrency)]
        env = {"dramatiq_queue_prefetch": str(TUNED_PREFETCH)} if variant == "prefetch" else {}
        return cmd, env

    def open(self) -> Any:
        from bench.apps.dramatiq_app import noop

        self.actor = noop

    def enqueue_one(self, t_enq: float, sleep_ms: float) -> Any:
        self.actor.send(t_enq, sleep_ms)
