"""Huey on Redis (RedisHuey, blocking reads: its default)."""

from __future__ import annotations

import os

from huey import RedisHuey

from bench.apps import probe

huey = RedisHuey("bench", url=os.environ["BENCH_STORE_URL"])


@huey.task()
def noop(t_enq: float = 0.0, sleep_ms: float = 0.0) -> None:
    probe.run(t_enq, sleep_ms)
