"""Fixtures for limit tests; see ``tests.worker.harness``."""

from tests.worker.harness import run_dir, store, store_app, workers

__all__ = ["run_dir", "store", "store_app", "workers"]
