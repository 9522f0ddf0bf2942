"""An application whose jobs carry every kind of control character in every field an
operator sees: ``--app tests.cli.hostile_app:app``.

Its task name, its queue (the app's default queue, so a worker given no ``--queues``
takes it: a NUL cannot be passed on a command line), its jobs' arguments, keys, error
types and error messages all hold ``HOSTILE``.
"""

from __future__ import annotations

from typing import NoReturn

import jobq

# Each control character class, labelled, with what jobq must show instead.
CONTROLS = {
    "NUL": ("\x00", "\\x00"),
    "ESC": ("\x1b[31m", "\\x1b[31m"),
    "BEL": ("\x07", "\\x07"),
    "CR": ("\r", "\\r"),
    "LF": ("\nFORGED", "\\nFORGED"),
    "DEL": ("\x7f", "\\x7f"),
    "C1": ("\x9b2J", "\\x9b2J"),
}
HOSTILE = " ".join(f"{name}:{raw}" for name, (raw, _) in CONTROLS.items())
ESCAPED = " ".join(f"{name}:{shown}" for name, (_, shown) in CONTROLS.items())
# What JSON makes of it (the arguments line of `jobq show`, and --json).
JSON_ESCAPED = ("NUL:\\u0000 ESC:\\u001b[31m BEL:\\u0007 CR:\\r LF:\\nFORGED DEL:\\u007f "
                "C1:\\u009b2J")

# A name (task, queue, key) cannot hold NUL: every store refuses it at enqueue, as
# PostgreSQL's text cannot hold it. Names carry every other class.
NAME_HOSTILE = HOSTILE.split(" ", 1)[1]
NAME_ESCAPED = ESCAPED.split(" ", 1)[1]
# An error message's NUL is stored made visible, as \x00, for the same reason.
STORED_MESSAGE = f"message {HOSTILE}".replace("\x00", "\\x00")

TASK = f"task {NAME_HOSTILE}"
QUEUE = f"queue {NAME_HOSTILE}"
# A class name cannot hold NUL (the first one): the error type has every other class.
ERROR_TYPE = "Error " + HOSTILE.split(" ", 1)[1]
ERROR_TYPE_ESCAPED = "Error " + ESCAPED.split(" ", 1)[1]

app = jobq.App("sqlite:///cli-hostile-placeholder.db", default_queue=QUEUE)


class HostileError(Exception):
    pass


# The error type is the class's name, as the store, the log and `jobq jobs` show it.
HostileError.__name__ = HostileError.__qualname__ = ERROR_TYPE


@app.task(name=TASK, queue=QUEUE)
def hostile(argument: str) -> NoReturn:
    raise HostileError(f"message {HOSTILE}")
