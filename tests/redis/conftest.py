"""Fixtures for Redis-only tests: the worker-process fixtures of ``tests.worker.harness``,
on Redis alone."""

from __future__ import annotations

import pytest

from tests.worker.harness import run_dir, store, store_app, workers

__all__ = ["backend_name", "run_dir", "store", "store_app", "workers"]


@pytest.fixture
def backend_name() -> str:
    return "redis"
