"""Encoding of arguments and results. JSON only: pickle is never used."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from jobq.errors import SerializationError

_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
dumps = _encoder.encode
loads = json.loads


def _find_bad_value(value: Any) -> str | None:
    """A short description of the first value in ``value`` JSON cannot hold."""
    try:
        dumps(value)
    except (TypeError, ValueError) as exc:
        return f"{type(value).__name__} ({exc})"
    return None


def encode_call(task: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> tuple[str, str]:
    """Encode positional and keyword arguments; on failure name the argument at fault."""
    try:
        # Many calls have no keyword arguments, some no arguments: skip the encoder then.
        return (dumps(list(args)) if args else "[]"), (dumps(dict(kwargs)) if kwargs else "{}")
    except (TypeError, ValueError):
        pass
    for index, value in enumerate(args):
        bad = _find_bad_value(value)
        if bad:
            raise SerializationError(
                f"{task}: positional argument {index} is a {bad} and cannot be stored as JSON; "
                "pass plain data (str, int, float, bool, None, list, dict) such as an id or path"
            ) from None
    for name, value in kwargs.items():
        bad = _find_bad_value(value)
        if bad:
            raise SerializationError(
                f"{task}: argument {name!r} is a {bad} and cannot be stored as JSON; "
                "pass plain data (str, int, float, bool, None, list, dict) such as an id or path"
            ) from None
    raise SerializationError(f"{task}: arguments cannot be stored as JSON")


def encode_result(task: str, value: Any) -> str:
    """Encode a task's return value."""
    try:
        return dumps(value)
    except (TypeError, ValueError) as exc:
        raise SerializationError(
            f"{task} returned a {type(value).__name__}, which cannot be stored as JSON ({exc}); "
            "return plain data"
        ) from None
