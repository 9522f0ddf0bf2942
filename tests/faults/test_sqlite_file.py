"""The SQLite file under trouble: a full disk (a file size limit), a read-only file, and a
producer SIGKILLed inside ``enqueue_many``. Each write either happens whole or not at
all, the error says what is wrong, the file stays sound (``PRAGMA integrity_check``),
and the jobs already stored run once the trouble is gone."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import jobq
from jobq import Status
from jobq.errors import BackendError
from tests.waiting import wait_for

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
# Run in a child process: an app on the file, with one task, told what to do by argv.
CHILD = """
import json, resource, signal, sys
import jobq
app = jobq.App(sys.argv[1])
noop = app.task(name="noop")(lambda n=0: n)
app.get_job("warm-up")  # the file and its schema exist before anything is limited
if sys.argv[2] == "fill":
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails instead
    used = sum(__import__("os").path.getsize(sys.argv[1][10:] + s) for s in ("", "-wal"))
    resource.setrlimit(resource.RLIMIT_FSIZE, (used + 300_000, resource.RLIM_INFINITY))
    stored = 0
    try:
        for _ in range(1_000):
            app.enqueue_many([noop.call(i) for i in range(200)])
            stored += 200
    except jobq.JobqError as exc:
        print(json.dumps({"stored": stored, "error": str(exc), "type": type(exc).__name__}))
else:
    print("go", flush=True)
    app.enqueue_many([noop.call(i) for i in range(int(sys.argv[2]))])
    print("done", flush=True)
"""


def _child(url: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", CHILD, url, *args], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _scalar(path: Path, sql: str) -> object:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchone()[0]
    finally:
        conn.close()


def _integrity(path: Path) -> object:
    return _scalar(path, "PRAGMA integrity_check")


def _count(path: Path) -> object:
    return _scalar(path, "SELECT count(*) FROM jobq_jobs")


def _run_all(url: str) -> list[int]:
    """Run every stored job with a burst worker; the arguments of the runs."""
    app = jobq.App(url)
    ran: list[int] = []
    app.task(name="noop")(lambda n=0: ran.append(n))
    try:
        app.run_worker(concurrency=2, burst=True)
        assert set(app.stats()["default"]) == {"succeeded"}
    finally:
        app.close()
    return ran


def test_a_full_disk_is_named_and_loses_nothing_already_stored(tmp_path: Path) -> None:
    path = tmp_path / "jobq.db"
    url = f"sqlite:///{path}"
    child = _child(url, "fill")
    out, err = child.communicate(timeout=120)
    assert child.returncode == 0, err
    report = json.loads(out)
    assert report["type"] == "BackendError"
    assert "file size limit" in report["error"] and "free space" in report["error"]
    assert "jobs already stored are kept" in report["error"]
    assert report["stored"] > 0

    assert _integrity(path) == "ok"
    assert _count(path) == report["stored"]  # the batch that failed left nothing
    ran = _run_all(url)  # space is back: no limit in this process
    assert len(ran) == report["stored"]
    assert sorted(ran) == sorted(list(range(200)) * (report["stored"] // 200))


@contextmanager
def _read_only(path: Path) -> Iterator[None]:
    """``path`` read-only, even to root (which file modes do not stop)."""
    path.chmod(0o444)
    immutable = os.geteuid() == 0
    if immutable:
        chattr = shutil.which("chattr")
        if chattr is None or subprocess.run([chattr, "+i", str(path)]).returncode != 0:
            path.chmod(0o644)
            pytest.skip("running as root, and the file cannot be made immutable (chattr)")
    try:
        with pytest.raises(PermissionError):
            path.open("ab").close()
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        path.chmod(0o644)


def test_a_read_only_file_is_named_and_its_jobs_run_once_it_is_writable(
    tmp_path: Path,
) -> None:
    path = tmp_path / "jobq.db"
    url = f"sqlite:///{path}"
    app = jobq.App(url)
    noop = app.task(name="noop")(lambda n=0: n)
    app.enqueue_many([noop.call(i) for i in range(5)])
    app.close()  # the last connection: the -wal and -shm files go with it

    with _read_only(path):
        reader = jobq.App(url)
        reader.task(name="noop")(lambda n=0: n)
        try:
            assert len(reader.jobs()) == 5  # reading still works
            with pytest.raises(BackendError, match="read-only to this process") as info:
                reader.enqueue("noop", 6)
            assert str(path) in str(info.value) and "make them writable" in str(info.value)
            with pytest.raises(BackendError, match="read-only"):
                reader.run_worker(concurrency=1, burst=True)
        finally:
            reader.close()
    assert _integrity(path) == "ok"
    assert sorted(_run_all(url)) == [0, 1, 2, 3, 4]


def test_a_producer_killed_inside_enqueue_many_stores_all_or_nothing(tmp_path: Path) -> None:
    jobs = 60_000
    inside = 0
    for round_ in range(3):
        path = tmp_path / f"round-{round_}.db"
        child = _child(f"sqlite:///{path}", str(jobs))
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "go", child.stderr
        wal = Path(f"{path}-wal")
        start = wal.stat().st_size
        # Killed while its transaction writes: pages it spilled are in the WAL already.
        wait_for(lambda c=child, w=wal, s=start: (w.exists() and w.stat().st_size > s + 1e6)
                 or c.poll() is not None, timeout=120, interval=0.002,
                 what="the batch's transaction to write")
        child.send_signal(signal.SIGKILL)
        out, _ = child.communicate(timeout=30)
        assert _integrity(path) == "ok"
        stored = _count(path)
        assert stored in (0, jobs), stored
        if stored == 0 and "done" not in out:
            inside += 1
            app = jobq.App(f"sqlite:///{path}")  # the file opens and takes writes again
            app.task(name="noop")(lambda n=0: n)
            assert app.enqueue("noop").status is Status.PENDING
            app.close()
    assert inside, "no kill landed inside a transaction"
