"""What the routes of one ``create_app`` share, kept on ``app.state.jobq``."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from prometheus_client import CollectorRegistry

import jobq
from jobq.jobjson import stats_json


class StatsCache:
    """``app.stats()`` folded as ``jobq stats --json`` shows it, read at most once per
    ``ttl`` seconds however many requests ask (the dashboard polls, and so does
    Prometheus): concurrent askers wait for the one read in flight and share it. A failed
    read is not kept, so the next request tries the store again."""

    def __init__(self, read: Callable[[], Mapping[str, Mapping[str, int]]], ttl: float) -> None:
        self._read = read
        self._ttl = ttl
        self._lock = threading.Lock()
        self._value: dict[str, Any] | None = None
        self._at = -math.inf

    def get(self) -> dict[str, Any]:
        with self._lock:
            if self._value is None or time.monotonic() - self._at >= self._ttl:
                self._value = stats_json(self._read())
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
    metrics: CollectorRegistry


def state(request: Request) -> WebState:
    """The shared state of the app serving ``request``."""
    found: WebState = request.app.state.jobq
    return found
