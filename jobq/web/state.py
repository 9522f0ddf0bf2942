"""What the routes of one ``create_app`` share, kept on ``app.state.jobq``."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from prometheus_client import CollectorRegistry

import jobq


class StatsCache:
    """A read of the store (the counts of ``/api/stats``, the throughput history) done at
    most once per ``ttl`` seconds however many requests ask (the dashboard polls, and so does
    Prometheus): concurrent askers wait for the one read in flight and share it. A failed
    read is not kept, so the next request tries the store again."""

    def __init__(self, read: Callable[[], Any], ttl: float) -> None:
        self._read = read
        self._ttl = ttl
        self._lock = threading.Lock()
        self._value: Any = None
        self._at = -math.inf

    def get(self) -> Any:
        with self._lock:
            if self._value is None or time.monotonic() - self._at >= self._ttl:
                self._value = self._read()
                self._at = time.monotonic()
            return self._value

    def clear(self) -> None:
        """Forget the counts: a changing call just made them stale."""
        with self._lock:
            self._value = None


@dataclass(frozen=True)
class WebState:
    """What the routes share, kept on ``app.state.jobq``."""

    app: jobq.App
    stats: StatsCache
    history: StatsCache  # the whole throughput history: list[Throughput]
    metrics: CollectorRegistry


def state(request: Request) -> WebState:
    """The shared state of the app serving ``request``."""
    found: WebState = request.app.state.jobq
    return found
