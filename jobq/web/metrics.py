"""``GET /metrics``: Prometheus's text format, from a registry of this app's own (never
prometheus-client's global one, so two apps in one process do not mix).

Today: ``jobq_jobs{queue, state}``, the jobs in the store, from the same cached counts as
``/api/stats``. Every state of every queue is present, zeros included, so a query never
has to guess whether a missing series means zero.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from jobq.web.state import state

router = APIRouter(tags=["metrics"])


class JobsCollector:
    """Reads the counts when scraped, not before."""

    def __init__(self, stats: Callable[[], dict[str, Any]]) -> None:
        self._stats = stats

    def describe(self) -> Iterator[Metric]:
        # Lets the registry know the names without asking the store.
        yield self._family()

    def collect(self) -> Iterator[Metric]:
        family = self._family()
        for queue, counts in self._stats()["queues"].items():
            for job_state, count in counts.items():
                family.add_metric([queue, job_state], count)
        yield family

    @staticmethod
    def _family() -> GaugeMetricFamily:
        return GaugeMetricFamily("jobq_jobs", "Jobs in the store, by queue and state.",
                                 labels=["queue", "state"])


def registry_for(stats: Callable[[], dict[str, Any]]) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(JobsCollector(stats))
    return registry


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {CONTENT_TYPE_LATEST: {}},
                             "description": "Prometheus text format"}})
def metrics(request: Request) -> Response:
    """The store's counts for Prometheus."""
    return Response(generate_latest(state(request).metrics), media_type=CONTENT_TYPE_LATEST)
