"""Fixtures for the command-line tests: a store in tmp_path, the sample app pointed at it,
and two ways to run ``jobq``: in-process (CliRunner) and as ``python -m jobq``."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import jobq
from jobq.cli import cli
from jobq.jobjson import job_json
from tests.cli import sample_app

REPO = Path(__file__).resolve().parents[2]
APP = "tests.cli.sample_app:app"
# The tests choose every setting themselves; none leaks in from the environment.
CLEAN_ENV: dict[str, str | None] = {
    name: None for name in os.environ if name.startswith("JOBQ_")
} | {"COLUMNS": None}


@dataclass
class Jobq:
    """Runs ``jobq`` in-process against one store."""

    url: str

    def __call__(self, *args: str, input: str | None = None,
                 env: dict[str, str | None] | None = None) -> Result:
        result = CliRunner().invoke(cli, list(args), input=input, env={**CLEAN_ENV,
                                                                      **(env or {})})
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result

    def on_store(self, *args: str, **kwargs: Any) -> Result:
        """``jobq --url <the store> …``"""
        return self(*("--url", self.url, *args), **kwargs)

    def with_app(self, *args: str, **kwargs: Any) -> Result:
        """``jobq --app tests.cli.sample_app:app --url <the store> …``"""
        return self(*("--app", APP, "--url", self.url, *args), **kwargs)


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'jobs.db'}"


def app_on_store(app: jobq.App, url: str) -> Iterator[jobq.App]:
    """For a fixture: ``app`` pointed at ``url`` (the store created), closed afterwards."""
    app.reconfigure(url=url)
    app.migrate()
    yield app
    app.close()


@pytest.fixture
def sample(url: str) -> Iterator[jobq.App]:
    """The sample app on this test's store (created), to seed and inspect jobs."""
    yield from app_on_store(sample_app.app, url)


@pytest.fixture
def run(url: str) -> Jobq:
    return Jobq(url)


def snapshot(url: str) -> list[dict[str, Any]]:
    """Every stored job, every field: to show a failed command changed nothing."""
    reader = jobq.App(url)
    try:
        return [job_json(job.record) for job in reader.jobs(limit=10_000)]
    finally:
        reader.close()


def child_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without its JOBQ_* settings, and ``env``."""
    found = {k: v for k, v in os.environ.items() if not k.startswith("JOBQ_")}
    found.update(env or {})
    return found


def python_m_jobq(*args: str, cwd: Path = REPO, timeout: float = 120,
                  env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m jobq …`` in a child process, with no JOBQ_* settings inherited."""
    return subprocess.run([sys.executable, "-m", "jobq", *args], cwd=cwd, env=child_env(env),
                          capture_output=True, text=True, timeout=timeout)


def burst(app: jobq.App) -> None:
    """Work off everything due on the sample app, in this process."""
    app.run_worker(concurrency=2, burst=True, queues=["default", "mail"])
