"""docs/architecture.md names only paths and code that exist."""

from __future__ import annotations

import builtins
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "architecture.md"
SEARCHED = ("jobq", "tests", "docs", "bench")


def _inline_code() -> list[str]:
    text = re.sub(r"^```.*?^```", "", DOC.read_text(encoding="utf-8"),
                  flags=re.MULTILINE | re.DOTALL)
    return re.findall(r"`([^`\n]+)`", text)


def _exists(path: str) -> bool:
    if (REPO / path).exists():
        return True
    # A path given relative to the package or folder the text is about.
    return any(next((REPO / top).glob(f"**/{path.rstrip('/')}"), None) is not None
               for top in SEARCHED)


def test_every_path_it_names_exists() -> None:
    paths = [c for c in _inline_code() if re.fullmatch(r"[\w./-]+", c)
             and ("/" in c or re.search(r"\.(py|md|sql|lua)$", c))]
    assert len(paths) > 30  # the check sees the paths
    assert [p for p in paths if not _exists(p)] == []


def _defined(name: str, source: str) -> bool:
    """Whether ``name`` is defined in the code: a def, a class, an assignment, a field,
    a key of a table (``"thread": ThreadPool``) or a SQL function; or a Python builtin."""
    word = re.escape(name)
    return hasattr(builtins, name) or re.search(
        rf"\b(def|class)\s+{word}\b|^\s*\"?{word}\"?\s*[:=]|FUNCTION\s+(\S+\.)?{word}\(",
        source, re.MULTILINE) is not None


def test_every_name_it_gives_is_in_the_code() -> None:
    source = "\n".join(p.read_text(encoding="utf-8")
                       for top in ("jobq", "tests") for suffix in ("*.py", "*.sql")
                       for p in (REPO / top).rglob(suffix))
    names = [c.removesuffix("()").rsplit(".", 1)[-1] for c in _inline_code()
             if re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)?(\(\))?", c)
             and not re.search(r"\.(py|md|sql|lua)$", c)]
    assert len(names) > 20  # the check sees the names
    assert [n for n in names if not _defined(n, source)] == []
