"""Dramatiq with its Redis broker and its default middleware."""

from __future__ import annotations

import os

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from bench.apps import probe

broker = RedisBroker(url=os.environ["BENCH_STORE_URL"])
dramatiq.set_broker(broker)


@dramatiq.actor(queue_name="default")
def noop(t_enq: float = 0.0, sleep_ms: float = 0.0) -> None:
    probe.run(t_enq, sleep_ms)
