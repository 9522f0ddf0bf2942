"""Tasks of ``tests.cli.split_app`` defined outside it, the way ``reports.py`` does
``from myapp import app``. Nothing imports this module but the App's ``include=``."""

from __future__ import annotations

from tests.cli.split_app import app


@app.task
def report(n: int) -> str:
    return f"report {n}"
