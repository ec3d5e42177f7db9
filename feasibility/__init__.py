"""feasibility: how many registry patients would qualify for a trial, why the others don't,
and how far the data can be trusted.

The public API, in the order an analyst uses it::

    import feasibility as fz

    reg = fz.load_registry("data_samples/registry")          # typed, normalised polars frames
    vr = fz.validate_registry(reg)                            # Great Expectations suites
    protocol = fz.load_protocol("pomalidomide-ixazomib-dex")  # a reviewed YAML file
    res = fz.screen(reg, protocol, "2024-06-30")              # pass / fail / unknown per patient
    res.funnel(); res.impact(); res.why("P000123")
    fz.build_report("out", protocol, res, registry=reg, validation=vr)

Charts live in :mod:`feasibility.charts`, disclosure control in :mod:`feasibility.disclosure`.
"""

from __future__ import annotations

__version__ = "0.1.0"

import importlib  # noqa: E402
from typing import TYPE_CHECKING, Any  # noqa: E402

from feasibility.errors import FeasibilityError, ProtocolError, RegistryError  # noqa: E402

# Heavy dependencies (Great Expectations, Altair, vl-convert) load on first use, so the CLI
# and a notebook's first cell start fast.
_LAZY = {
    "IndexEvents": "feasibility.engine",
    "screen": "feasibility.engine",
    "Protocol": "feasibility.protocol",
    "load_protocol": "feasibility.protocol",
    "ValidationResult": "feasibility.quality",
    "criterion_readiness": "feasibility.quality",
    "validate_registry": "feasibility.quality",
    "Registry": "feasibility.registry",
    "load_registry": "feasibility.registry",
    "build_report": "feasibility.report",
    "ScreenResult": "feasibility.results",
    "generate_registry": "feasibility.synth",
}
_SUBMODULES = {"charts", "disclosure"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"feasibility.{name}")
    else:
        raise AttributeError(f"module 'feasibility' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:  # pragma: no cover
    from feasibility import charts, disclosure
    from feasibility.engine import IndexEvents, screen
    from feasibility.protocol import Protocol, load_protocol
    from feasibility.quality import ValidationResult, criterion_readiness, validate_registry
    from feasibility.registry import Registry, load_registry
    from feasibility.report import build_report
    from feasibility.results import ScreenResult
    from feasibility.synth import generate_registry

__all__ = [
    "__version__",
    "FeasibilityError",
    "IndexEvents",
    "Protocol",
    "ProtocolError",
    "Registry",
    "RegistryError",
    "ScreenResult",
    "ValidationResult",
    "build_report",
    "charts",
    "criterion_readiness",
    "disclosure",
    "generate_registry",
    "load_protocol",
    "load_registry",
    "screen",
    "validate_registry",
]
