"""Showing text that came from outside (a job's arguments, error, traceback, key, queue)
without letting it act on the operator's terminal or log stream.

A control character in a job's error message is data: printed raw, ESC starts a
terminal escape sequence (colours, a new window title, worse) and a line break starts
what looks like a new log record. ``escape_controls`` writes every control character
visibly instead, as ``\\x1b``, ``\\n``, ``\\x9b`` …, so what the operator sees is the text
itself.
"""

from __future__ import annotations

import json
import re
from typing import Any

# C0 (tab and line breaks included), DEL, C1, and the two Unicode line separators, which
# Python's str.splitlines() and some viewers break lines on.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROLS_BUT_NEWLINE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]")
# What JSON leaves raw even though it can escape it: DEL, C1 and the line separators.
_JSON_RAW = re.compile("[\x7f-\x9f\u2028\u2029]")
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _visible(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return _SHORT.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def escape_controls(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` with every control character written out visibly (``\\x1b``, ``\\n``,
    ``\\x9b``, ``\\u2028`` …): C0 (tab, CR and LF included), DEL and C1.

    The result is one line, fit for a log record or a table cell. With
    ``keep_newlines`` a line feed stays a real line break and everything else is still
    escaped: for a traceback shown on several lines. Backslashes are left as they are,
    so a text that already holds ``\\x1b`` as four characters looks the same as one that
    held ESC; the point is that neither acts on the terminal.
    """
    pattern = _CONTROLS_BUT_NEWLINE if keep_newlines else _CONTROLS
    if pattern.search(text) is None:  # the common case: nothing to copy
        return text
    return pattern.sub(_visible, text)


def _json_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def safe_json(value: Any, **options: Any) -> str:
    """``json.dumps(value, **options)`` with DEL, C1 and U+2028/U+2029 escaped as
    ``\\u…`` too (JSON escapes C0 itself but leaves those raw, and a terminal may act on
    C1). The same JSON value, safe to print."""
    text = json.dumps(value, **options)
    # Outside strings JSON is plain ASCII, so every match is inside a string.
    if _JSON_RAW.search(text) is None:
        return text
    return _JSON_RAW.sub(_json_escape, text)
