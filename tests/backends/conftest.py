"""Fixtures the contract suite's files share."""

from __future__ import annotations

from typing import Any

import pytest

import jobq


@pytest.fixture
def noop(app: jobq.App) -> Any:
    """A task ``noop(n=0) -> n`` with two retries (three attempts in all)."""

    @app.task(name="noop", retries=2)
    def noop(n: int = 0) -> int:
        return n

    return noop
