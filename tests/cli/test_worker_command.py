"""What ``jobq worker`` says at start, and its --prefetch: a real process each time."""

from __future__ import annotations

import os
from pathlib import Path

import jobq
from tests.cli import sample_app
from tests.cli.conftest import APP, REPO, python_m_jobq


def test_a_new_store_is_announced_with_its_absolute_path(tmp_path: Path) -> None:
    done = python_m_jobq("--app", APP, "--url", "sqlite:///fresh.db", "worker", "--burst",
                         cwd=tmp_path, env={"PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr
    where = f"sqlite:///{tmp_path / 'fresh.db'}"
    assert (f"WARNING no jobq store at {where} yet (the file 'fresh.db' does not exist): "
            "starting with a new, empty one") in done.stderr
    assert f"store={where}" in done.stderr


def test_an_existing_store_is_not_announced_as_new(url: str, sample: jobq.App) -> None:
    done = python_m_jobq("--app", APP, "--url", url, "worker", "--burst")
    assert done.returncode == 0, done.stderr
    assert "no jobq store" not in done.stderr


def test_queues_no_task_uses_are_named(url: str, sample: jobq.App) -> None:
    done = python_m_jobq("--app", APP, "--url", url, "worker", "--burst", "--queues", "nosuch")
    assert done.returncode == 0, done.stderr
    assert ("WARNING no task of this app uses queue(s) nosuch (its tasks use: default, mail); "
            "this worker runs only jobs enqueued there with with_options(queue=)") in done.stderr
    quiet = python_m_jobq("--app", APP, "--url", url, "worker", "--burst", "--queues", "mail")
    assert "no task of this app uses" not in quiet.stderr


def test_prefetch_sets_how_many_jobs_are_claimed_beyond_concurrency(url: str,
                                                                  sample: jobq.App) -> None:
    jobs = [sample_app.running_now.enqueue() for _ in range(6)]
    done = python_m_jobq("--app", APP, "--url", url, "worker", "--burst", "--concurrency", "1",
                         "--prefetch", "0")
    assert done.returncode == 0, done.stderr
    # With no prefetch, the job running is the only one the store holds as running.
    assert [job.result(timeout=5) for job in jobs] == [1] * 6
    refused = python_m_jobq("--app", APP, "--url", url, "worker", "--prefetch", "-1")
    assert refused.returncode == 2 and "--prefetch" in refused.stderr


def test_an_argument_that_is_not_utf8_is_a_usage_error(url: str, sample: jobq.App) -> None:
    raw = os.fsdecode(b"queue-\x9b-name")  # bytes a terminal could not decode
    for args in (("worker", "--burst", "--queues", raw), ("enqueue", "greet", '["x"]',
                                                         "--queue", raw)):
        done = python_m_jobq("--app", APP, "--url", url, *args)
        assert done.returncode == 2, done.stderr
        assert done.stderr.strip().endswith(
            "(queue-\\x9b-name) is not valid UTF-8; jobq takes names and JSON as UTF-8 text")
        assert "Traceback" not in done.stderr
