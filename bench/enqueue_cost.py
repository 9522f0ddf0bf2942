"""One-by-one enqueue on Redis: jobq's ``task.enqueue()`` beside the least a queue can do.

    python -m bench.enqueue_cost [--calls 10000] [--rounds 3]

The floor is one ``LPUSH`` of a pickled message through redis-py per call, which is what
Huey's enqueue sends; both make one round trip per call, so the ratio shows what jobq's
job record and indexes cost on top of it. Uses Redis database 6 and empties it.
"""

from __future__ import annotations

import argparse
import pickle
import time
import uuid

import redis

import jobq

URL = "redis://127.0.0.1:6379/6"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    client = redis.Redis.from_url(URL)
    client.flushdb()
    app = jobq.App(URL, prefix="enqueue-cost:")
    app.migrate()
    noop = app.task(name="noop")(lambda t_enq=0.0, sleep_ms=0.0: None)
    try:
        for _ in range(args.rounds):
            began = time.perf_counter()
            for _ in range(args.calls):
                message = ("noop", uuid.uuid4().hex, (time.time(), 0.0), {})
                client.lpush("enqueue-cost:list", pickle.dumps(message))
            floor = args.calls / (time.perf_counter() - began)
            began = time.perf_counter()
            for _ in range(args.calls):
                noop.enqueue(time.time(), 0.0)
            mine = args.calls / (time.perf_counter() - began)
            print(f"LPUSH of a pickled message {floor:,.0f}/s, jobq task.enqueue() "
                  f"{mine:,.0f}/s: {mine / floor:.2f}x")
    finally:
        app.close()
        client.flushdb()


if __name__ == "__main__":
    main()
