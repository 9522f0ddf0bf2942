"""``jobq serve`` itself: the token it makes and prints once, the address it refuses
without a token, and that neither ``import jobq`` nor ``jobq --help`` loads the web code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import jobq
from jobq.cli import cli
from tests.cli.conftest import CLEAN_ENV
from tests.web.live import REPO, serving


@pytest.fixture
def failed(tmp_path: Path) -> tuple[str, jobq.Job]:
    """A SQLite store in tmp_path holding one failed job."""
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    app = jobq.App(url)

    @app.task(name="boom")
    def boom() -> None:
        raise ValueError("boom")

    job = boom.enqueue()
    app.run_worker(concurrency=1, burst=True)
    assert job.refresh().status is jobq.Status.FAILED
    app.close()
    return url, job


def test_serve_makes_a_token_prints_it_once_and_it_works(tmp_path: Path,
                                                         failed: tuple[str, jobq.Job]) -> None:
    url, job = failed
    with serving(tmp_path, ["--url", url]) as server:
        lines = [line for line in server.output().splitlines() if "API token" in line]
        assert len(lines) == 1, server.output()
        token = lines[0].rsplit(" ", 1)[-1]
        assert len(token) >= 32
        assert server.call(f"/api/jobs/{job.id}/retry", "POST", token="x" * 32)[0] == 401
        assert job.refresh().status is jobq.Status.FAILED
        status, body = server.call(f"/api/jobs/{job.id}/retry", "POST", token=token)
        assert (status, body["status"]) == (200, "pending")
        everything = server.output() + server.stderr.read_text()
    assert everything.count(token) == 1  # printed once, never logged


def test_serve_takes_the_token_from_the_environment(tmp_path: Path,
                                                   failed: tuple[str, jobq.Job]) -> None:
    url, job = failed
    token = "from-the-environment-0123456789"
    with serving(tmp_path, ["--url", url], env={"JOBQ_API_TOKEN": token}) as server:
        assert "API token" not in server.output()
        assert server.call(f"/api/jobs/{job.id}/retry", "POST", token=token)[0] == 200
    assert token not in server.output() + server.stderr.read_text()


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.7", "jobs.example.com"])
def test_another_address_without_a_token_is_refused(tmp_path: Path, host: str) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    result = CliRunner().invoke(cli, ["--url", url, "serve", "--host", host], env=CLEAN_ENV)
    assert result.exit_code == 2
    assert "--token" in result.output and "JOBQ_API_TOKEN" in result.output
    assert not (tmp_path / "jobs.db").exists()  # refused before anything was opened


def test_a_weak_token_is_a_usage_error(tmp_path: Path, failed: tuple[str, jobq.Job]) -> None:
    url, _ = failed
    result = CliRunner().invoke(cli, ["--url", url, "serve", "--token", "secret"], env=CLEAN_ENV)
    assert result.exit_code == 2
    assert "--token" in result.output and "at least 16" in result.output


def test_a_missing_store_is_a_configuration_problem(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'typo.db'}"
    result = CliRunner().invoke(cli, ["--url", url, "serve"], env=CLEAN_ENV)
    assert result.exit_code == 3
    assert "does not exist" in result.output


@pytest.mark.parametrize("code", [
    "import jobq",
    "from click.testing import CliRunner; from jobq.cli import cli; "
    "assert CliRunner().invoke(cli, ['--help']).exit_code == 0",
    "from click.testing import CliRunner; from jobq.cli import cli; "
    "assert CliRunner().invoke(cli, ['serve', '--help']).exit_code == 0",
])
def test_the_web_code_loads_only_when_serving(code: str) -> None:
    check = (f"{code}\nimport sys\nloaded = [m for m in ('fastapi', 'uvicorn', 'starlette', "
             "'prometheus_client', 'jobq.web') if m in sys.modules]\nassert not loaded, loaded")
    done = subprocess.run([sys.executable, "-c", check], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
