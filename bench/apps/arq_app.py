"""arq: an asyncio worker configured by a WorkerSettings class.

arq has no concurrency flag on its command line; ``max_jobs`` is its concurrency, set here
from BENCH_CONCURRENCY (arq's default is 10). BENCH_ARQ_POLL_DELAY overrides
``poll_delay`` (default 0.5 s) for the tuned row only.
"""

from __future__ import annotations

import os
from typing import Any

from arq.connections import RedisSettings

from bench.apps import probe


async def noop(ctx: dict[str, Any], t_enq: float = 0.0, sleep_ms: float = 0.0) -> None:
    await probe.run_async(t_enq, sleep_ms)


def _settings() -> dict[str, Any]:
    values: dict[str, Any] = {
        "functions": [noop],
        "redis_settings": RedisSettings.from_dsn(os.environ["BENCH_STORE_URL"]),
    }
    if os.environ.get("BENCH_CONCURRENCY"):
        values["max_jobs"] = int(os.environ["BENCH_CONCURRENCY"])
    if os.environ.get("BENCH_ARQ_POLL_DELAY"):
        values["poll_delay"] = float(os.environ["BENCH_ARQ_POLL_DELAY"])
    return values


WorkerSettings = type("WorkerSettings", (), _settings())
