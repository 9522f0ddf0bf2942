"""The README's code, and the docs', runs as written, in order, as a reader would run it.

Its files are saved, its ``>>>`` sessions are checked with doctest (job ids and times
may differ from the ones printed), its scripts are run, and the shell blocks marked to
run are run with this checkout's ``jobq`` (tests/readme.py says how blocks are read).
Each block runs in a fresh folder shared by the whole README, with no ``JOBQ_*`` setting
from outside, so the docs cannot drift from the code again.
"""

from __future__ import annotations

import doctest
import importlib
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.readme import Block, blocks

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
DOCS = sorted((REPO / "docs").glob("*.md"))
_ID = re.compile(r"\b[0-9a-f]{32}\b")
_TIME = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?(Z|\+00:00)?")


class _SameShape(doctest.OutputChecker):
    """Output matches when it differs only in job ids and times, which change per run."""

    def check_output(self, want: str, got: str, optionflags: int) -> bool:
        def shape(text: str) -> str:
            return _TIME.sub("<time>", _ID.sub("<id>", text))

        return super().check_output(shape(want), shape(got), optionflags)


@pytest.fixture
def reader_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh folder as the current directory and first on sys.path; modules imported
    from it are forgotten afterwards."""
    for name in [n for n in os.environ if n.startswith("JOBQ_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        yield tmp_path
    finally:
        for name, module in list(sys.modules.items()):
            if str(getattr(module, "__file__", "") or "").startswith(str(tmp_path)):
                del sys.modules[name]
                app = getattr(module, "app", None)
                if hasattr(app, "close"):
                    app.close()


def _session(block: Block, globs: dict[str, object], doc: Path) -> None:
    name = f"{doc.name}:{block.line}"
    test = doctest.DocTestParser().get_doctest(block.code, globs, name, str(doc),
                                               block.line - 1)
    runner = doctest.DocTestRunner(checker=_SameShape(), optionflags=doctest.ELLIPSIS)
    out: list[str] = []
    runner.run(test, out=out.append, clear_globs=False)
    globs.update(test.globs)  # DocTest works on a copy: the next block goes on from here
    assert runner.failures == 0, "".join(out)


def _script(block: Block, doc: Path) -> None:
    code = compile(block.code, f"{doc.name}:{block.line}", "exec")
    exec(code, {"__name__": f"{doc.stem}_line_{block.line}"})


def _commands(block: Block, folder: Path, doc: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBQ_")}
    env["PYTHONPATH"] = os.pathsep.join([str(folder), str(REPO)])
    for command in block.commands():
        argv = shlex.split(command)
        if argv[0] == "jobq":
            argv = [sys.executable, "-m", "jobq", *argv[1:]]
        done = subprocess.run(argv, cwd=folder, env=env, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, (
            f"{doc.name}:{block.line}: {command!r} exited {done.returncode}\n{done.stderr}")


def _run(doc: Path, folder: Path) -> int:
    """Run ``doc``'s blocks in order in ``folder``; return how many ran."""
    session: dict[str, object] = {"__name__": f"{doc.stem}_session"}
    ran = 0
    for block in blocks(doc):
        if block.directive == "skip":
            assert block.argument, f"{doc.name}:{block.line}: a skipped block says why"
            continue
        if block.language == "python":
            if block.file:
                (folder / block.file).write_text(block.code, encoding="utf-8")
                importlib.invalidate_caches()
            elif block.session:
                _session(block, session, doc)
            else:
                _script(block, doc)
            ran += 1
        elif block.directive == "run":
            _commands(block, folder, doc)
            ran += 1
    return ran


def test_the_readme_runs_as_written(reader_folder: Path) -> None:
    assert _run(README, reader_folder) >= 10  # the test reads the README it means to


@pytest.mark.parametrize("doc", DOCS, ids=[d.name for d in DOCS])
def test_each_doc_runs_as_written(doc: Path, reader_folder: Path) -> None:
    # The docs build on the README's myapp.py, as a reader who followed it has it.
    (myapp,) = [b for b in blocks(README) if b.file == "myapp.py"]
    (reader_folder / "myapp.py").write_text(myapp.code, encoding="utf-8")
    _run(doc, reader_folder)
