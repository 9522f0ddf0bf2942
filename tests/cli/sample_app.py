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


other = jobq.App("sqlite:///cli-sample-other.db")
not_an_app = "just a string"
