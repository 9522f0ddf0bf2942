"""``jobq demo``: the guided tour, on an embedded SQLite file and nothing else.

1,000 weekly e-mail digests are enqueued. Every tenth user's mail server times out on
the first try (``ConnectionError``: retried after a short backoff, then delivered); five
users have addresses no retry can mend (``ValueError``: not retried, so those jobs end
``failed``, the dead-letter list). A real worker with 8 threads works them off while a
live display counts.

The task lives here, importable, so ``jobq --app jobq.demo:app --url sqlite:///…`` works
on the demo's file too (to run a retried job again, for instance).
"""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from jobq.app import App
from jobq.demo.display import Tally, print_intro, print_summary, watch
from jobq.retry import Backoff
from jobq.worker import Worker, current_job

DEMO_URL = "sqlite:///.demo/demo.db"
DB_NAME = "demo.db"
JOBS = 1000
CONCURRENCY = 8
FLAKY_EVERY = 10  # user ids ending in 7: the mail server times out on the first try
BAD_ADDRESSES = {
    113: "carol@@example.com",
    286: "dave.example.com",
    451: "erin@",
    642: "@example.org",
    908: "frank@example .com",
}

app = App(DEMO_URL, lease=10.0)


def _deliverable(address: str) -> bool:
    local, at, domain = address.partition("@")
    return bool(local and at and "." in domain and "@" not in domain and " " not in address)


@app.task(retries=3, retry_on=ConnectionError, backoff=Backoff(base=0.5, cap=2.0))
def send_digest(user_id: int, address: str) -> dict[str, Any]:
    """Render one user's weekly digest and hand it to the mail server."""
    if not _deliverable(address):
        raise ValueError(f"cannot deliver to {address!r}: not a valid e-mail address")
    time.sleep(random.uniform(0.02, 0.06))  # rendering and the SMTP round trip
    if user_id % FLAKY_EVERY == 7 and current_job().attempts == 1:
        raise ConnectionError("smtp.example.com:587 timed out")
    return {"to": address, "items": 3 + user_id % 9}


def address_of(user_id: int) -> str:
    return BAD_ADDRESSES.get(user_id, f"user{user_id}@example.com")


def _fresh_store(folder: Path) -> str:
    """An empty demo store in ``folder``; returns its URL."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / DB_NAME
    for leftover in (path, path.with_name(DB_NAME + "-wal"), path.with_name(DB_NAME + "-shm")):
        leftover.unlink(missing_ok=True)
    return f"sqlite:///{path}"


def run_demo(directory: str | Path = ".demo", console: Console | None = None) -> Tally:
    """Run the tour with its store in ``directory``; return the final counts."""
    console = console or Console(highlight=False)
    url = _fresh_store(Path(directory).resolve())
    app.reconfigure(url=url)
    print_intro(console, url, JOBS, CONCURRENCY, len(BAD_ADDRESSES))
    started = time.monotonic()
    app.enqueue_many(send_digest.call(uid, address_of(uid)) for uid in range(1, JOBS + 1))
    console.print(f"[green]✔[/] Enqueued {JOBS:,} jobs in "
                  f"{(time.monotonic() - started) * 1000:.0f} ms (one transaction: "
                  "app.enqueue_many)\n")

    worker = Worker(app, concurrency=CONCURRENCY, burst=True)
    crashed: list[BaseException] = []

    def work() -> None:
        try:
            worker.run()
        except BaseException as exc:
            crashed.append(exc)

    thread = threading.Thread(target=work, name="jobq-demo-worker", daemon=True)
    watcher = App(url)  # its own connection: reading counts never waits on the worker
    started = time.monotonic()
    try:
        thread.start()
        tally = watch(console, watcher, thread, JOBS)
    except BaseException:
        worker.stop(graceful=False)
        thread.join(10)
        raise
    finally:
        watcher.close()
    elapsed = time.monotonic() - started
    if crashed:
        raise crashed[0]
    print_summary(console, app, url, tally, elapsed, CONCURRENCY)
    app.close()
    return tally
