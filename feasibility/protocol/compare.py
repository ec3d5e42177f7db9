"""The one operator table and the one unit-aware comparison of the rule model.

A thresholded rule leaf (the most recent lab value or assessment grade, age, the
Cockcroft-Gault clearance, a lesion's diameter) compares a value with a threshold. The
threshold is kept twice: in the canonical unit of its measure (what every engine compares
registry values with, the registry having converted them to that unit) and as the protocol
stated it (what describes the rule to a reader). :func:`compare` applies an operator to
anything that overloads comparison: Python numbers, polars expressions, Spark columns.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from feasibility.schema import TESTS

#: The operators a protocol may write, in the order error messages list them.
OPS = (">=", ">", "<=", "<", "==", "!=")

_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
}
assert tuple(_OPERATORS) == OPS


def compare(x: Any, op: str, value: Any) -> Any:
    """``x op value`` for any of :data:`OPS` (``x`` a number, a polars expression, a Spark
    column ...). An unknown operator is a ``KeyError``."""
    return _OPERATORS[op](x, value)


class UnitError(ValueError):
    """A unit the measure does not accept."""


def to_canonical(test: str, value: float, unit: str | None = None) -> tuple[float, str]:
    """``value`` stated in ``unit`` (default: the canonical unit) of the measurement
    ``test``, converted to the canonical unit: ``(converted value, canonical unit)``. The
    factors are the registry's own (``schema.TESTS``), so thresholds and values meet in
    one unit."""
    t = TESTS[test]
    u = t.canonical_unit if unit is None else unit
    if u not in t.factors:
        raise UnitError(f"unit {u!r} not accepted for {test}")
    return value * t.factors[u], t.canonical_unit


@dataclass(frozen=True)
class Comparison:
    """``value op threshold``: the threshold in the canonical ``unit`` (``value``) and as
    stated in the protocol (``stated_value`` in ``stated_unit``). Units are ``None`` for
    unitless measures (assessment grades)."""

    op: str
    value: float
    unit: str | None
    stated_value: float
    stated_unit: str | None

    def __post_init__(self) -> None:
        if self.op not in _OPERATORS:
            raise ValueError(f"op must be one of {list(OPS)}, got {self.op!r}")

    @classmethod
    def plain(cls, op: str, value: float, unit: str | None = None) -> Comparison:
        """A threshold stated in its canonical unit."""
        return cls(op, value, unit, value, unit)

    @classmethod
    def measured(
        cls, test: str, op: str, stated_value: float, stated_unit: str | None = None
    ) -> Comparison:
        """A threshold on measurement ``test`` stated in ``stated_unit`` (default: the
        canonical unit), converted (:class:`UnitError` for a unit the test does not accept)."""
        value, canonical = to_canonical(test, stated_value, stated_unit)
        return cls(op, value, canonical, stated_value, stated_unit or canonical)

    @property
    def finite(self) -> bool:
        return math.isfinite(self.value)

    def test(self, x: Any) -> Any:
        """``x op threshold`` (``x`` in the canonical unit)."""
        return compare(x, self.op, self.value)

    def describe(self) -> str:
        """E.g. ``>= 8 g/dL`` (as stated in the protocol)."""
        unit = f" {self.stated_unit}" if self.stated_unit else ""
        return f"{self.op} {self.stated_value:g}{unit}"


__all__ = ["OPS", "Comparison", "UnitError", "compare", "to_canonical"]
