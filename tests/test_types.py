"""The package type-checks clean with mypy (its configuration: ``[tool.mypy]`` in pyproject.toml)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_mypy_finds_no_errors():
    assert importlib.util.find_spec("mypy"), "mypy is a dev dependency: pip install -e '.[dev]'"
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-error-summary", "--hide-error-context"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    errors = [line for line in proc.stdout.splitlines() if ": error:" in line]
    assert proc.returncode == 0 and not errors, f"{len(errors)} mypy errors:\n" + "\n".join(
        errors[:50] + [proc.stderr]
    )
