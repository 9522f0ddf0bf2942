"""Each Lua script's declared transitions, checked against the state machine and its code.

A script's header (its leading comment lines) declares every job transition it makes
with ``-- transition: <from>[,<from>…] -> <to>``, as the SQL files do, and the statuses
it gives the jobs it creates with ``-- creates: <status>[, …]``. At load, each declared
edge must be legal, and each status the script writes where the code shows it (a
``'status', '<status>'`` pair, a ``restatus(…, from, to)`` call, or a variable given
literal statuses before it is written) must be declared. A script whose statuses are
all literal may declare nothing it does not write, so a header cannot go stale either.
"""

from __future__ import annotations

import difflib
import re

from jobq.backends.sqlfiles import declared_transitions
from jobq.errors import IllegalTransition
from jobq.job import WAITING, Status

_STATUSES = frozenset(s.value for s in Status)
_CREATES = re.compile(r"^--\s*creates:\s*([\w,\s]+?)\s*$")
_STATUS_PAIR = re.compile(r"'status',\s*(?:'(\w*)'|([A-Za-z_]\w*))")
_RESTATUS = re.compile(r"\brestatus\(([^()]*)\)")
_LITERAL = re.compile(r"^'(\w*)'$")


def _header(text: str) -> list[str]:
    lines = []
    for line in text.splitlines():
        if not line.startswith("--"):
            break
        lines.append(line)
    return lines


def _code(text: str) -> str:
    """The script without its comments (no string in the scripts holds ``--``)."""
    return "\n".join(line.split("--", 1)[0] for line in text.splitlines())


def _looks_like_status(word: str) -> bool:
    """A status, or a misspelt one; anything else beside ``'status'`` is a field name
    in a list being read."""
    return word in _STATUSES or bool(difflib.get_close_matches(word, _STATUSES, cutoff=0.8))


def _status(name: str, word: str) -> Status:
    if word not in _STATUSES:
        near = difflib.get_close_matches(word, sorted(_STATUSES), n=1)
        hint = f"; did you mean {near[0]!r}?" if near else ""
        raise IllegalTransition(f"Lua script {name}: {word!r} is not a job status{hint}")
    return Status(word)


class _Writes:
    """The statuses a script's code writes, as far as literals in it show them."""

    def __init__(self, name: str, code: str) -> None:
        self.name, self.code = name, code
        self.targets: set[Status] = set()
        self.edges: set[tuple[Status | None, Status]] = set()
        self.computed = False
        for match in _STATUS_PAIR.finditer(code):
            word, variable = match.groups()
            if word is not None:
                if _looks_like_status(word):
                    self.targets.add(_status(name, word))
            else:
                self._variable(variable)
        for match in _RESTATUS.finditer(code):
            args = [arg.strip() for arg in match.group(1).split(",")]
            if len(args) == 5:
                sources: list[Status | None] = [*self._values(args[3])] or [None]
                targets = self._values(args[4])
                self.computed = self.computed or not targets
                self.edges |= {(source, target) for source in sources for target in targets}
                self.targets |= set(targets)

    def _values(self, expression: str) -> list[Status]:
        if literal := _LITERAL.match(expression):
            return [_status(self.name, literal.group(1))]
        if re.fullmatch(r"[A-Za-z_]\w*", expression):
            return self._variable(expression)
        return []  # a field read back, such as h.status: its value is not in the text

    def _variable(self, variable: str) -> list[Status]:
        """The literal statuses assigned to a variable (``to = 'failed'``); a variable
        given anything else as well is a computed write."""
        assigned = re.findall(rf"(?<![.\w]){variable}\s*=(?!=)([^\n]*)", self.code)
        values = [_status(self.name, word) for rhs in assigned
                  for word in re.findall(r"'(\w*)'", rhs)
                  if _looks_like_status(word)]
        if not assigned or any(re.search(r"\bor\s+[A-Za-z_]", rhs) or "'" not in rhs
                               for rhs in assigned):
            self.computed = True
        self.targets |= set(values)
        return values


def check_script(name: str, text: str) -> None:
    """Refuse (``IllegalTransition``) a script whose header declares an illegal edge or
    whose code writes a status its header does not declare."""
    edges: set[tuple[Status, Status]] = set()
    creates: set[Status] = set()
    for line in _header(text):
        edges |= set(declared_transitions(line))
        if match := _CREATES.match(line):
            creates |= {_status(name, word.strip()) for word in match.group(1).split(",")}
    if not creates <= WAITING:
        raise IllegalTransition(f"Lua script {name}: a new job waits, so it cannot be "
                                f"created {', '.join(sorted(creates - WAITING))}")
    writes = _Writes(name, _code(text))
    declared_targets = {target for _, target in edges} | creates
    undeclared = sorted(f"to {t}" for t in writes.targets - declared_targets)
    undeclared += sorted(f"{s} -> {t}" for s, t in writes.edges
                         if s is not None and (s, t) not in edges)
    if undeclared:
        raise IllegalTransition(
            f"Lua script {name} moves jobs along edges its header does not declare "
            f"({'; '.join(undeclared)}): add '-- transition: <from> -> <to>' lines")
    stale = declared_targets - writes.targets
    if stale and not writes.computed:
        raise IllegalTransition(
            f"Lua script {name} declares statuses it never writes: "
            f"{', '.join(sorted(stale))}")
