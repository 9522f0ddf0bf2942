"""jobq demo, end to end in its own process, with nothing but the core install."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import jobq
from jobq.demo import BAD_ADDRESSES, FLAKY_EVERY, JOBS
from jobq.demo.display import jobq_command
from tests.cli.conftest import python_m_jobq


def test_demo_works_off_1000_jobs_and_shows_how_to_inspect_a_failure(tmp_path: Path) -> None:
    folder = tmp_path / "tour"
    done = python_m_jobq("demo", "--dir", str(folder), cwd=tmp_path, timeout=240)
    assert done.returncode == 0, done.stderr
    url = f"sqlite:///{folder / 'demo.db'}"

    store = jobq.App(url)
    try:
        records = [job.record for job in store.jobs(limit=10 * JOBS)]
    finally:
        store.close()
    assert len(records) == JOBS == 1000
    by_user = {r.args[0]: r for r in records}
    failed = {uid: r for uid, r in by_user.items() if r.status is jobq.Status.FAILED}
    # The bad addresses failed for good, on their first and only attempt: not retried.
    assert set(failed) == set(BAD_ADDRESSES)
    for uid, record in failed.items():
        assert record.args == [uid, BAD_ADDRESSES[uid]]
        assert record.error is not None and record.error.type == "ValueError"
        assert record.attempts == 1
    # The flaky ones failed once with ConnectionError, were retried, and were delivered.
    flaky = [r for uid, r in by_user.items() if uid % FLAKY_EVERY == 7]
    assert len(flaky) == JOBS // FLAKY_EVERY
    assert all(r.status is jobq.Status.SUCCEEDED and r.attempts == 2 for r in flaky)
    rest = [r for uid, r in by_user.items() if uid not in failed and uid % FLAKY_EVERY != 7]
    assert all(r.status is jobq.Status.SUCCEEDED and r.attempts == 1 for r in rest)

    out = done.stdout
    assert "Enqueued 1,000 jobs" in out
    assert "1,000/1,000 finished" in out and "✔ 995 sent" in out and "✖ 5 failed" in out
    summary = out[out.index("Summary"):]
    assert "995" in summary and "100 of them after a retry" in summary
    # The printed commands name the real store and a real failed job.
    failed_ids = {r.id for r in failed.values()}
    shown = [line.split()[-1] for line in out.splitlines() if f"--url {url} show " in line]
    assert len(shown) == 1 and shown[0] in failed_ids
    assert f"jobq --url {url} retry {shown[0]}" in out
    assert f"jobq --url {url} jobs --status failed" in out


def test_demo_commands_name_the_jobq_that_ran(tmp_path: Path, monkeypatch: Any) -> None:
    # `make demo` runs .venv/bin/jobq, which need not be on PATH: the printed commands
    # must work when pasted into the same shell.
    script = tmp_path / ".venv" / "bin" / "jobq"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\n")
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(sys, "argv", [".venv/bin/jobq", "demo"])
    monkeypatch.chdir(tmp_path)
    assert jobq_command() == ".venv/bin/jobq"
    script.chmod(0o755)
    monkeypatch.setenv("PATH", str(script.parent))
    assert jobq_command() == "jobq"
    monkeypatch.setattr(sys, "argv", ["/somewhere/jobq/__main__.py", "demo"])
    assert jobq_command() == f"{sys.executable} -m jobq"
