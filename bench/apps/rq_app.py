"""RQ: the task is a plain importable function; the queue is built by the client."""

from __future__ import annotations

from bench.apps import probe


def noop(t_enq: float = 0.0, sleep_ms: float = 0.0) -> None:
    probe.run(t_enq, sleep_ms)
