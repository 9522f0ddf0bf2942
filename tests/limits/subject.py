"""An app of limited tasks whose runs record their own start and end times, and a worker
entry point for tests that run workers in processes of their own:

    python -m tests.limits.subject '{"url": ..., "options": {...}, "worker": {...}}'

``"skew": seconds`` in the config sets the worker's clock (``time.time``) that far ahead.
Each run appends ``<job id> <key>`` to a starts file when it starts, and ``<start> <end>
<job id> <key>`` (wall-clock seconds, read from the
system clock, which the skew leaves alone) to a file of its own process.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, NamedTuple

import jobq
from tests.worker import subject
from tests.worker.subject import RELEASE, append_line


class Span(NamedTuple):
    start: float
    end: float
    job_id: str
    key: str


def _clock() -> float:
    return time.clock_gettime(time.CLOCK_REALTIME)


def _record(run_dir: str, key: str, seconds: float = 0.0, hold: bool = False) -> None:
    start = _clock()
    append_line(run_dir, "starts", f"{jobq.current_job().id} {key}\n")
    if seconds:
        time.sleep(seconds)  # stands in for the task's work
    deadline = time.monotonic() + 60
    while hold and not (Path(run_dir) / RELEASE).exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    append_line(run_dir, "spans", f"{start!r} {_clock()!r} {jobq.current_job().id} {key}\n")


def read_starts(run_dir: Path) -> list[tuple[str, str]]:
    """(job id, key) of every run started so far, finished or not."""
    return [(line.split()[0], line.split()[1]) for path in sorted(run_dir.glob("starts-*.log"))
            for line in path.read_text().splitlines()]


def read_spans(run_dir: Path) -> list[Span]:
    spans = []
    for path in sorted(run_dir.glob("spans-*.log")):
        for line in path.read_text().splitlines():
            start, end, job_id, key = line.split()
            spans.append(Span(float(start), float(end), job_id, key))
    return sorted(spans)


def build_app(url: str, options: dict[str, Any]) -> jobq.App:
    app = jobq.App(url, **options)

    @app.task(name="paced", rate_limit="10/s")
    def paced(run_dir: str) -> None:
        _record(run_dir, "paced")

    @app.task(name="steady", rate_limit="1/s")
    def steady(run_dir: str) -> None:
        _record(run_dir, "steady")

    @app.task(name="per_key", concurrency_limit=2, limit_key=lambda run_dir, key, *_, **__: key)
    def per_key(run_dir: str, key: str, seconds: float = 0.0, hold: bool = False) -> None:
        _record(run_dir, key, seconds, hold)

    return app


def main(argv: list[str]) -> int:
    skew = json.loads(argv[1]).get("skew")
    if skew:
        real = time.time
        time.time = lambda: real() + skew  # what jobq reads; the store's clock is not it
    return subject.main(argv, build_app)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
