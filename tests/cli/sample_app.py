"""A small application for the command-line tests: ``--app tests.cli.sample_app:app``.

Its URL is a placeholder; every test points it at its own store with ``--url``.
"""

from __future__ import annotations

import jobq

app = jobq.App("sqlite:///cli-sample-placeholder.db")


@app.task
def add(a: int, b: int) -> int:
    return a + b


@app.task(name="greet", queue="mail", priority=5)
def greet(name: str, punctuation: str = "!") -> str:
    return f"hello {name}{punctuation}"


@app.task(name="explode")
def explode(message: str = "boom") -> None:
    raise ValueError(message)


@app.task(name="flaky", retries=1, backoff=jobq.Backoff(base=0, cap=0))
def flaky() -> str:
    if jobq.current_job().attempts == 1:
        raise ConnectionError("first try fails")
    return "second try works"


other = jobq.App("sqlite:///cli-sample-other.db")
not_an_app = "just a string"


@app.task(name="running_now")
def running_now() -> int:
    """How many jobs the store holds as running while this one runs (prefetch shows)."""
    return sum(counts.get("running", 0) for counts in app.stats().values())
