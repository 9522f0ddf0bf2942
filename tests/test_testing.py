"""jobq.testing: a real store in memory and a one-call drain, for users' own tests."""

from __future__ import annotations

from pathlib import Path

import pytest

import jobq
import jobq.testing
from jobq import Status


def _app(tmp_path: Path) -> tuple[jobq.App, Path]:
    path = tmp_path / "production.db"
    app = jobq.App(f"sqlite:///{path}")
    return app, path


def test_in_memory_and_drain_run_jobs_without_touching_the_real_store(tmp_path: Path) -> None:
    app, path = _app(tmp_path)
    seen: list[tuple[int, int]] = []

    @app.task
    def double(x: int) -> int:
        seen.append((x, jobq.current_job().attempts))
        return x * 2

    with jobq.testing.in_memory(app) as same:
        assert same is app
        first, second = double.enqueue(1), double.enqueue(2)
        done = jobq.testing.drain(app)
        assert [job.id for job in done] == [first.id, second.id]
        assert [job.status for job in done] == [Status.SUCCEEDED] * 2
        assert first.result(timeout=0) == 2 and second.result(timeout=0) == 4
        assert seen == [(1, 1), (2, 1)]
        assert jobq.testing.drain(app) == []  # nothing left
    assert app.settings.url == f"sqlite:///{path}"
    assert not path.exists()


def test_each_block_starts_empty(tmp_path: Path) -> None:
    app, _ = _app(tmp_path)
    noop = app.task(name="noop")(lambda: None)
    with jobq.testing.in_memory(app):
        noop.enqueue()
        assert app.stats() == {"default": {"pending": 1}}
    with jobq.testing.in_memory(app):
        assert app.stats() == {}


def test_a_failed_job_raises_with_its_traceback(tmp_path: Path) -> None:
    app, _ = _app(tmp_path)

    @app.task(name="explode")
    def explode(message: str) -> None:
        raise ValueError(message)

    with jobq.testing.in_memory(app):
        job = explode.enqueue("no such user")
        with pytest.raises(jobq.JobFailed) as info:
            jobq.testing.drain(app)
        assert info.value.job_id == job.id
        assert info.value.error_type == "ValueError"
        assert info.value.error_message == "no such user"
        assert "raise ValueError(message)" in info.value.traceback
        explode.enqueue("again")
        (failed,) = jobq.testing.drain(app, raise_failed=False)
        assert failed.status is Status.FAILED


def test_retries_run_and_delayed_jobs_wait(tmp_path: Path) -> None:
    app, _ = _app(tmp_path)
    calls: list[int] = []

    @app.task(name="flaky", retries=2, backoff=jobq.Backoff(base=0))
    def flaky() -> str:
        calls.append(jobq.current_job().attempts)
        if len(calls) < 3:
            raise ConnectionError("try again")
        return "ok"

    with jobq.testing.in_memory(app):
        job = flaky.enqueue()
        later = flaky.with_options(delay=3600).enqueue()
        (done,) = jobq.testing.drain(app)
        assert done.id == job.id and done.result(timeout=0) == "ok"
        assert calls == [1, 2, 3]
        assert later.refresh().status is Status.SCHEDULED
