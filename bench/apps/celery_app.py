"""Celery with its Redis broker, no result backend: Celery's documented default set-up."""

from __future__ import annotations

import os

from celery import Celery

from bench.apps import probe

app = Celery("bench", broker=os.environ["BENCH_STORE_URL"])


@app.task(name="bench.noop")
def noop(t_enq: float = 0.0, sleep_ms: float = 0.0) -> None:
    probe.run(t_enq, sleep_ms)
