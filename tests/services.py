"""Where the test servers are, and whether a missing one skips or fails the run."""

from __future__ import annotations

import os
import uuid

import pytest

POSTGRES_URL = os.environ.get("JOBQ_TEST_POSTGRES_URL", "postgresql://127.0.0.1:5432/test")
REDIS_URL = os.environ.get("JOBQ_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REQUIRE_SERVICES = os.environ.get("JOBQ_REQUIRE_SERVICES") == "1"


def unavailable(what: str, reason: str) -> None:
    """Skip the test, or fail it when $JOBQ_REQUIRE_SERVICES=1 (as in CI)."""
    message = f"{what} unavailable: {reason}"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message} (JOBQ_REQUIRE_SERVICES=1, so this fails instead of skipping)")
    pytest.skip(message)


def unique_name(prefix: str = "t") -> str:
    """A fresh schema / key-prefix name, so tests never see each other's jobs."""
    return f"{prefix}_{uuid.uuid4().hex[:12]}"
