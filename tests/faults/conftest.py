"""Fixtures for fault tests: the test's store on each backend, worker processes on it
(killed at teardown), and the run log their tasks write. See ``tests.worker.harness``."""

from tests.worker.harness import run_dir, store, store_app, workers

__all__ = ["run_dir", "store", "store_app", "workers"]
