"""One virtualenv per system under bench/.venvs/, created on first use and then reused."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENVS = REPO / "bench" / ".venvs"
HARNESS_REQUIREMENTS = ("matplotlib", "redis", "psycopg[binary]")


def _fingerprint(requirements: tuple[str, ...]) -> str:
    text = json.dumps(list(requirements))
    if "-e" in requirements:  # an editable install goes stale when its dependencies change
        text += hashlib.sha256((REPO / "pyproject.toml").read_bytes()).hexdigest()
    return text


def ensure(name: str, requirements: tuple[str, ...], log: Path | None = None) -> Path:
    """The bin/ directory of bench/.venvs/<name>, with ``requirements`` installed."""
    root = VENVS / name
    marker = root / ".bench-requirements"
    want = _fingerprint(requirements)
    bin_dir = root / "bin"
    if (bin_dir / "python").exists() and marker.exists() and marker.read_text() == want:
        return bin_dir
    print(f"installing {name}: pip install {' '.join(requirements)}", file=sys.stderr, flush=True)
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", str(root)], check=True)
    out = log.open("a") if log else subprocess.DEVNULL
    try:
        subprocess.run([str(bin_dir / "pip"), "install", "-q", "--disable-pip-version-check",
                        *requirements], check=True, stdout=out, stderr=out)
    finally:
        if log:
            out.close()  # type: ignore[union-attr]
    marker.write_text(want)
    return bin_dir


def in_harness() -> bool:
    return Path(sys.prefix).resolve() == (VENVS / "harness").resolve()
