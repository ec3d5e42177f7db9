"""The offline HTML report: one self-contained file plus the suppressed tables it shows as CSV."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def build_report(*args: Any, **kwargs: Any) -> Path:
    """Build OUTDIR/report.html and its CSV tables; see :func:`feasibility.report.build.build_report`."""
    from feasibility.report.build import build_report as _build

    return _build(*args, **kwargs)


__all__ = ["build_report"]
