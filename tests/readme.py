"""The code blocks of a Markdown file, as the README test runs them.

A fenced ``python`` block whose first line is ``# name.py`` is a file the reader saves; a
block of ``>>>`` lines is a session typed at the interpreter (one session through the
whole file); any other ``python`` block is a script. Shell blocks are not run unless an
HTML comment right above them says ``<!-- readme-test: run -->`` (every command line) or
``<!-- readme-test: run TEXT -->`` (the lines that contain TEXT). ``<!-- readme-test:
skip REASON -->`` keeps a block out, saying why, for what cannot run here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_FENCE = re.compile(r"^(\s*)```(\w*)\s*$")
_DIRECTIVE = re.compile(r"^\s*<!--\s*readme-test:\s*(run|skip)\b\s*(.*?)\s*-->\s*$")
_FILE = re.compile(r"^#\s*([\w/.-]+\.py)\s*$")


@dataclass(frozen=True)
class Block:
    line: int  # where the block's code starts, 1-based
    language: str
    code: str
    directive: str = ""  # "run" or "skip", from a comment right above
    argument: str = ""  # what follows the directive

    @property
    def file(self) -> str | None:
        """The file this block is (``# name.py`` on its first line), if any."""
        first = self.code.split("\n", 1)[0]
        match = _FILE.match(first)
        return match.group(1) if match else None

    @property
    def session(self) -> bool:
        return self.code.lstrip().startswith(">>>")

    def commands(self) -> list[str]:
        """The shell lines to run, per the directive."""
        lines = [line.split("  #", 1)[0].strip() for line in self.code.splitlines()]
        lines = [line for line in lines if line and not line.startswith("#")]
        return [line for line in lines if self.argument in line]


def blocks(path: Path) -> list[Block]:
    found: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        indent, language = opening.group(1), opening.group(2)
        directive = _directive_above(lines, i)
        body: list[str] = []
        i += 1
        while i < len(lines) and not _FENCE.match(lines[i]):
            body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i])
            i += 1
        code = "\n".join(body) + "\n"
        start = i - len(body) + 1
        found.append(Block(start, language, code, *directive))
        i += 1
    return found


def _directive_above(lines: list[str], fence: int) -> tuple[str, str]:
    above = fence - 1
    while above >= 0 and not lines[above].strip():
        above -= 1
    if above >= 0 and (match := _DIRECTIVE.match(lines[above])):
        return match.group(1), match.group(2)
    return "", ""
