"""A worker process whose app has one periodic task, ``tick``, for the periodic fault
tests:

    python -m tests.periodic.subject '{"url": ..., "options": {...}, "worker": {...},
                                       "every": 1, "skew": 30}'

``skew`` (seconds) sets this process's clock that far ahead: the tick loop reads a wall
clock ``skew`` seconds fast, as a machine with a wrong clock would.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

import jobq
from jobq.worker import Worker
from jobq.worker.leader import StoreClock
from tests.worker.subject import _die_with

TASK = "tick"


def build_app(url: str, options: dict[str, Any], every: float = 1.0) -> jobq.App:
    app = jobq.App(url, **options)

    @app.periodic(every=every, name=TASK)
    def tick() -> None: ...

    return app


def main(argv: list[str]) -> int:
    config = json.loads(argv[1])
    _die_with(config["parent"])
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    app = build_app(config["url"], config["options"], config.get("every", 1.0))
    skew = float(config.get("skew", 0.0))
    clock = StoreClock(local=lambda: time.time() + skew) if skew else None
    try:
        Worker(app, periodic_clock=clock, **config["worker"]).run()
    finally:
        app.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
