"""An attempt's outcome is a plain value that survives JSON (a child process sends it
back over a pipe), and anything else is refused rather than half-read."""

from __future__ import annotations

import json
from typing import Any

import pytest

from jobq.errors import SerializationError
from jobq.job import JobError
from jobq.worker.outcomes import AttemptOutcome


@pytest.mark.parametrize("outcome", [
    AttemptOutcome(result='{"a":[1,2]}'),
    AttemptOutcome(result="null"),
    AttemptOutcome(error=JobError("ValueError", "bad", "Traceback ...\n"), retry_in=1.5),
    AttemptOutcome(error=JobError("Timeout", "ran past its 1s time limit")),
])
def test_an_outcome_survives_json(outcome: AttemptOutcome) -> None:
    assert AttemptOutcome.from_json(json.loads(json.dumps(outcome.to_json()))) == outcome


@pytest.mark.parametrize("data", [
    {},
    {"result": 3, "error": None, "retry_in": None},
    {"result": None, "error": ["ValueError"], "retry_in": None},
    {"result": None, "error": None, "retry_in": "soon"},
])
def test_anything_else_is_refused(data: dict[str, Any]) -> None:
    with pytest.raises(SerializationError, match="not an attempt outcome"):
        AttemptOutcome.from_json(data)
