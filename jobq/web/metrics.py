"""``GET /metrics``: Prometheus's text format, from a registry of this app's own (never
prometheus-client's global one, so two apps in one process do not mix).

``jobq_jobs{queue, state}`` (every state of every queue, zeros included, so a query never
has to guess whether a missing series means zero), ``jobq_oldest_pending_age_seconds
{queue}``, ``jobq_workers``, all from the same cached counts as ``/api/stats``; and
``jobq_finished_total{queue, outcome}`` from the throughput history (cached the same way).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from jobq.backends.base import Throughput
from jobq.web.overview import totals
from jobq.web.state import state

router = APIRouter(tags=["metrics"])


class JobsCollector:
    """Reads the counts when scraped, not before."""

    def __init__(self, stats: Callable[[], dict[str, Any]],
                 history: Callable[[], list[Throughput]]) -> None:
        self._stats = stats
        self._history = history

    def describe(self) -> Iterator[Metric]:
        # Lets the registry know the names without asking the store.
        yield from self._families()

    def collect(self) -> Iterator[Metric]:
        jobs, oldest, workers, finished = self._families()
        stats = self._stats()
        for queue, counts in stats["queues"].items():
            for job_state, count in counts.items():
                jobs.add_metric([queue, job_state], count)
        now = time.time()
        for queue, since in stats["oldest_pending"].items():
            at = datetime.fromisoformat(since).timestamp()
            oldest.add_metric([queue], max(now - at, 0.0))
        workers.add_metric([], stats["workers"])
        for queue, counts in sorted(totals(self._history()).items()):
            for outcome, n in counts.items():
                finished.add_metric([queue, outcome], n)
        yield from (jobs, oldest, workers, finished)

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily,
                             CounterMetricFamily]:
        return (
            GaugeMetricFamily("jobq_jobs", "Jobs in the store, by queue and state.",
                              labels=["queue", "state"]),
            GaugeMetricFamily("jobq_oldest_pending_age_seconds",
                              "Seconds the longest-waiting pending job of a queue has been "
                              "due.", labels=["queue"]),
            GaugeMetricFamily("jobq_workers", "Workers running on the store."),
            CounterMetricFamily("jobq_finished", "Attempts that ended, by queue and outcome "
                                "(the throughput history workers record).",
                                labels=["queue", "outcome"]),
        )


def registry_for(stats: Callable[[], dict[str, Any]],
                 history: Callable[[], list[Throughput]]) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(JobsCollector(stats, history))
    return registry


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {CONTENT_TYPE_LATEST: {}},
                             "description": "Prometheus text format"}})
def metrics(request: Request) -> Response:
    """The store's counts for Prometheus."""
    return Response(generate_latest(state(request).metrics), media_type=CONTENT_TYPE_LATEST)
