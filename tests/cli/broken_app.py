"""An application module that fails while being imported (for the --app error tests)."""

from __future__ import annotations

raise RuntimeError("the settings file is missing")
