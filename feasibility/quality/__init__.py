"""Data-quality validation of a registry with Great Expectations (GX Core), tied to the
protocol criteria that read each field.

``validate_registry(registry, index_date=..., protocol=..., index_span=...)`` ->
:class:`ValidationResult` (``vr.for_protocol(p)`` links findings to another protocol's
criteria); ``criterion_readiness(protocol, validation, screen_result)`` -> polars DataFrame
(per criterion, for the screened patients). Suites are reviewed in ``expectations/*.json``
and shipped as ``feasibility/quality/suites/*.json`` (both written by
``expectations/_build.py``). Modules: :mod:`.links` (field -> criteria from a protocol's
rules), :mod:`.nearmiss`, :mod:`.timeline` (coverage by month, cut-off findings),
:mod:`.readiness`, :mod:`.runner`, :mod:`.prep`, :mod:`.gxrun`, :mod:`.suites`.
"""

from __future__ import annotations

from feasibility.quality.readiness import criterion_readiness
from feasibility.quality.result import STATUSES, ValidationResult
from feasibility.quality.runner import validate_registry
from feasibility.quality.suites import Check, load_checks, load_gx_suite

__all__ = [
    "STATUSES",
    "Check",
    "ValidationResult",
    "criterion_readiness",
    "load_checks",
    "load_gx_suite",
    "validate_registry",
]
