"""Every store is built the same way, and only a store that can join the caller's
transaction says it can."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from jobq.backends import backend_kind, open_backend
from jobq.backends.base import TransactionalBackend
from jobq.config import Settings

# Unreachable servers: building a store connects nothing.
URLS = {"sqlite": "sqlite:///{tmp}/jobq.db", "postgres": "postgresql://127.0.0.1:1/test",
        "redis": "redis://127.0.0.1:1"}
EXTRAS = {"sqlite": "sqlite3", "postgres": "psycopg", "redis": "redis"}


@pytest.mark.parametrize("kind", sorted(URLS))
def test_every_store_is_built_by_its_package_s_connect(kind: str, tmp_path: Path) -> None:
    pytest.importorskip(EXTRAS[kind])
    settings = Settings(url=URLS[kind].format(tmp=tmp_path))
    assert backend_kind(settings.url) == kind
    package = importlib.import_module(f"jobq.backends.{kind}")
    built, opened = package.connect(settings), open_backend(settings)
    direct = type(opened)(settings)  # every store class takes the settings alike
    try:
        assert type(built) is type(opened)
        assert opened.url == direct.url == settings.url
        assert isinstance(opened, TransactionalBackend) is (kind == "postgres")
    finally:
        built.close()
        opened.close()
        direct.close()
    assert not (tmp_path / "jobq.db").exists()  # nothing was opened
