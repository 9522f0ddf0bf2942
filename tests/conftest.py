"""Shared fixtures. ``backend_app`` is an App on each backend in turn, isolated per test."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import jobq

# Backends the contract suite runs against; a server backend joins once its module exists.
BACKENDS = [
    name for name in ("sqlite", "postgres", "redis")
    if importlib.util.find_spec(f"jobq.backends.{name}") is not None
]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--dashboard-png", metavar="PATH", default=None,
                     help="The browser test also saves its dashboard screenshot here "
                     "(`make screenshot` retakes docs/dashboard.png).")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'jobq.db'}"


@pytest.fixture(params=BACKENDS)
def backend_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_app(backend_name: str, tmp_path: Path) -> Iterator[Callable[..., jobq.App]]:
    """A factory of Apps on the parametrized backend, all sharing one isolated store."""
    from tests import isolation

    store = isolation.open_store(backend_name, tmp_path)
    apps: list[jobq.App] = []

    def factory(**options: Any) -> jobq.App:
        app = jobq.App(store.url, **store.options, **options)
        apps.append(app)
        return app

    try:
        yield factory
    finally:
        for app in apps:
            app.close()
        store.drop()


@pytest.fixture
def app(make_app: Callable[..., jobq.App]) -> jobq.App:
    """An App on the parametrized backend with a short lease, isolated from other tests."""
    return make_app(lease=2.0)
