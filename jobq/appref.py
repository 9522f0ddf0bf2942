"""Finding an App by reference (``module:attr``), here or in another process.

``jobq --app myapp:app`` imports the App this way, and so do the process pool's children:
a child is a fresh interpreter, so it finds the worker's App and tasks by importing the
modules that define them, never by unpickling anything.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from jobq.app import App
from jobq.errors import ConfigError, TaskNotImportable


def load_app(reference: str, label: str = "--app") -> App:
    """Import ``module:attr`` (with the current directory on ``sys.path``) and return the App.

    Raises ``TaskNotImportable`` saying what was tried and what to do; ``label`` names
    where the reference came from.
    """
    module_name, sep, attr = reference.partition(":")
    if not sep or not module_name or not attr:
        raise TaskNotImportable(
            f"{label} {reference!r} is not module:attr; write e.g. {label} myapp:app for the "
            "App named app in myapp.py"
        )
    cwd = os.getcwd()
    # Like uvicorn and celery: the application usually sits in the folder jobq runs from.
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    module = _import(f"{label} {reference}", module_name, cwd)
    value: Any = module
    for part in attr.split("."):
        try:
            value = getattr(value, part)
        except AttributeError:
            apps = sorted(n for n, v in vars(module).items() if isinstance(v, App))
            hint = f"; the Apps it defines: {', '.join(apps)}" if apps else (
                "; it defines no jobq.App at module level"
            )
            raise TaskNotImportable(
                f"{label} {reference}: module {module_name!r} has no attribute {attr!r}{hint}"
            ) from None
    if not isinstance(value, App):
        raise TaskNotImportable(
            f"{label} {reference}: {attr!r} is a {type(value).__name__}, not a jobq.App; "
            f"point {label} at the App instance (app = jobq.App(...))"
        )
    return value


def _import(source: str, module_name: str, cwd: str) -> Any:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if module_name.endswith(".py"):  # a file name where a module name belongs
            name = module_name[:-3].replace("/", ".").replace("\\", ".")
            label, _, reference = source.partition(" ")
            raise TaskNotImportable(
                f"{source}: give the module's name, not its file: "
                f"{label} {name}:{reference.partition(':')[2] or 'app'}"
            ) from None
        if missing and (module_name == missing or module_name.startswith(missing + ".")):
            where = module_name.replace(".", "/")
            raise TaskNotImportable(
                f"{source}: no module named {missing!r} (looked in {cwd} and on "
                f"sys.path); run jobq from the folder that holds {where}.py, or add that "
                "folder to PYTHONPATH"
            ) from None
        raise TaskNotImportable(
            f"{source}: importing {module_name!r} failed: {exc}; install what it "
            "needs"
        ) from None
    except Exception as exc:
        raise TaskNotImportable(
            f"{source}: importing {module_name!r} raised {type(exc).__name__}: {exc}; "
            f"run python -c 'import {module_name}' to see the traceback"
        ) from None


# -- the same App in another process ---------------------------------------------------

# Set while a process pool child imports the app, so that a worker started by that import
# (app.run_worker() not under ``if __name__ == "__main__":``) is refused, not run.
_importing_in_child = False
# What a child imports the parent's ``__main__`` as, so its ``__main__`` guard holds.
CHILD_MAIN = "__mp_main__"


@dataclass(frozen=True)
class AppLocation:
    """Where a fresh interpreter finds a worker's App and its tasks.

    app: ``module:attr`` of the App; the module ``__main__`` stands for ``main``.
    imports: the modules that define the App's tasks, imported first.
    main: the worker's ``__main__``, when the App or a task lives there: a module name
        (``python -m pkg.mod``) or a script's path (``python worker.py``).
    """

    app: str
    imports: tuple[str, ...] = ()
    main: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"app": self.app, "imports": list(self.imports), "main": self.main}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AppLocation:
        return cls(str(data["app"]), tuple(data["imports"]), data["main"])


def locate(app: App, app_ref: str | None = None) -> AppLocation:
    """Where another process can import ``app``: ``app_ref`` if given, else a module
    that holds it at top level. Raises ``ConfigError`` saying what to do when there is
    none (an App made inside a function, or in an interactive session)."""
    reference = app_ref or _find(app)
    if reference is None:
        raise ConfigError(
            "pool='process' runs tasks in child processes that import the App, and this "
            "App is not a module-level name of any imported module; define it at module "
            "level (app = jobq.App(...) in myapp.py) and pass app_ref='myapp:app' (jobq "
            "worker --app passes it for you)"
        )
    modules = {task.fn.__module__ for task in app.tasks.values()}
    main = None
    if reference.startswith("__main__:") or "__main__" in modules:
        main = _main_source()
        if main is None:
            raise ConfigError(
                "pool='process': the App or some of its tasks are defined in __main__, "
                "which a child process cannot import (an interactive session?); move them "
                "to a module and pass app_ref='module:attr'"
            )
    return AppLocation(reference, tuple(sorted(modules - {"__main__"})), main)


def _find(app: App) -> str | None:
    found = []
    for name, module in list(sys.modules.items()):
        if name == CHILD_MAIN or not isinstance(module, ModuleType):
            continue
        for attr, value in list(vars(module).items()):
            if value is app:
                found.append((name == "__main__", name, attr))
    if not found:
        return None
    _, name, attr = min(found)  # a module over __main__, then by name: the same every run
    return f"{name}:{attr}"


def _main_source() -> str | None:
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name and spec.name != "__main__":
        return str(spec.name)  # python -m pkg.mod
    path = getattr(main, "__file__", None)
    return os.path.abspath(path) if path else None


def import_location(location: AppLocation) -> App:
    """Import the App (and its tasks) a worker's ``locate`` described, in this process.

    Tasks that the worker registered in its ``__main__`` keep their ``__main__.`` names.
    """
    global _importing_in_child
    _importing_in_child = True
    try:
        main_name = _import_main(location.main) if location.main else None
        for module in location.imports:
            if module not in sys.modules:
                _import(f"task module {module!r}", module, os.getcwd())
        module, _, attr = location.app.partition(":")
        if module == "__main__" and main_name:
            module = main_name
        app = load_app(f"{module}:{attr}", label="app_ref")
    finally:
        _importing_in_child = False
    if main_name:
        prefix = f"{main_name}."
        for name, task in list(app.tasks.items()):
            if name.startswith(prefix):
                app.tasks.setdefault("__main__." + name[len(prefix):], task)
    return app


def _import_main(source: str) -> str:
    """Import the worker's ``__main__`` without running its ``__main__`` block; return
    the module name it now has here."""
    if not source.endswith(".py") and os.sep not in source:
        _import(f"the worker's __main__ ({source})", source, os.getcwd())
        return source
    spec = importlib.util.spec_from_file_location(CHILD_MAIN, source)
    if spec is None or spec.loader is None:
        raise TaskNotImportable(f"the worker's __main__ script {source!r} cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[CHILD_MAIN] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[CHILD_MAIN]
        raise TaskNotImportable(
            f"importing the worker's __main__ script {source!r} raised "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    return CHILD_MAIN


def check_not_importing() -> None:
    """Refuse to start a worker while a process pool child imports the app."""
    if _importing_in_child:
        raise ConfigError(
            "a worker was started while a process pool child imported the app; start "
            "workers under `if __name__ == \"__main__\":` so that importing the module "
            "does not start one"
        )
