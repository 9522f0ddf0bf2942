"""Fixtures for PostgreSQL-only tests: the worker harness, on a PostgreSQL store only."""

from __future__ import annotations

import pytest

from tests.worker.harness import run_dir, store, store_app, workers

__all__ = ["run_dir", "store", "store_app", "workers"]


@pytest.fixture
def backend_name() -> str:
    return "postgres"
