"""arq: `arq bench.apps.arq_app.WorkerSettings`, concurrency as ``max_jobs``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from bench.systems.base import Adapter, Variant

TUNED_POLL_DELAY = 0.01


class ArqAdapter(Adapter):
    name = venv = "arq"
    label = "arq"
    requirements = ("arq",)
    packages = ("arq", "redis")
    redis_db = 13
    config = ("`arq WorkerSettings` with `max_jobs = N` (arq has no CLI concurrency flag), "
              "default poll_delay 0.5 s, results kept 3600 s. Async task. No bulk API.")
    backlog_variant = "poll"
    variants = (Variant("poll", f"arq poll_delay={TUNED_POLL_DELAY} (tuned)",
                        f"`poll_delay = {TUNED_POLL_DELAY}` s instead of 0.5 s: arq polls its "
                        "queue, so the default costs up to half a second per idle pickup."),)

    def worker_command(
        self, bin_dir: Path, concurrency: int, variant: str | None, store_url: str
    ) -> tuple[list[str], dict[str, str]]:
        env = {"BENCH_CONCURRENCY": str(concurrency)}
        if variant == "poll":
            env["BENCH_ARQ_POLL_DELAY"] = str(TUNED_POLL_DELAY)
        return [str(bin_dir / "arq"), "bench.apps.arq_app.WorkerSettings"], env

    async def open(self) -> Any:
        from arq import create_pool
        from arq.connections import RedisSettings

        self.pool = await create_pool(RedisSettings.from_dsn(os.environ["BENCH_STORE_URL"]))

    async def enqueue_one(self, t_enq: float, sleep_ms: float) -> Any:
        await self.pool.enqueue_job("noop", t_enq, sleep_ms)

    async def close(self) -> Any:
        await self.pool.aclose()
