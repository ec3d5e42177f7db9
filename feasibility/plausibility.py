"""Physiologically plausible ranges, in canonical units, from reviewed data files.

The measurement tests' ranges (with their sources) are part of each test's entry in
``feasibility/vocab/lab_tests.yaml`` (:mod:`feasibility.vocab`); the other numeric fields
a criterion reads (age, lesion diameter, therapy line number) are in
``feasibility/codelists/plausible_ranges.yaml``. Both are reviewed data, like the code
lists. The registry loader's set-aside (contract 5.2), the screening engine (a value
outside never decides a criterion), the data-quality suites (``expectations/_build.py``)
and the synthetic generator's ``implausible_value`` defects all read the names below, so
they cannot drift.

A value is plausible when ``low <= value <= high`` (both ends inclusive), after conversion
to the canonical unit of ``feasibility.schema.TESTS``; NaN and infinities never are.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import yaml

from feasibility.vocab import LAB_TESTS

#: The reviewed table of the non-measurement fields (numbers, units, sources).
RANGES_FILE = Path(__file__).parent / "codelists" / "plausible_ranges.yaml"


def _load() -> dict[str, dict[str, dict[str, Any]]]:
    data = yaml.safe_load(RANGES_FILE.read_text(encoding="utf-8")) or {}
    if "measurements" in data:
        raise ValueError(
            f"{RANGES_FILE.name}: measurements: the tests' ranges belong in vocab/lab_tests.yaml"
        )
    for table, fields in data.items():
        for name, spec in fields.items():
            low, high = spec.get("low"), spec.get("high")
            if not (isinstance(low, int | float) and isinstance(high, int | float) and low <= high):
                raise ValueError(f"{RANGES_FILE.name}: {table}.{name} needs numbers low <= high")
            if not spec.get("source"):
                raise ValueError(f"{RANGES_FILE.name}: {table}.{name} has no source")
    return data


_DATA = _load()

#: (table, field) -> (low, high, unit, source): every reviewed range, measurements first.
FIELD_RANGES: dict[tuple[str, str], tuple[float, float, str, str]] = {
    ("measurements", name): (t.low, t.high, t.canonical_unit, t.range_source)
    for name, t in LAB_TESTS.items()
} | {
    (table, name): (float(s["low"]), float(s["high"]), str(s.get("unit", "")), str(s["source"]))
    for table, fields in _DATA.items()
    for name, s in fields.items()
}

#: test -> (low, high) in the canonical unit of ``schema.TESTS[test]``, both inclusive.
PLAUSIBLE_RANGES: dict[str, tuple[float, float]] = {
    name: (t.low, t.high) for name, t in LAB_TESTS.items()
}

#: Plausible age in whole years (at any event or index date), both inclusive.
AGE_RANGE: tuple[int, int] = (
    int(_DATA["patients"]["age"]["low"]),
    int(_DATA["patients"]["age"]["high"]),
)

#: Plausible lesions.longest_diameter_cm (contract 5.2: above 50 cm is set aside).
LESION_DIAMETER_RANGE: tuple[float, float] = (
    float(_DATA["lesions"]["longest_diameter_cm"]["low"]),
    float(_DATA["lesions"]["longest_diameter_cm"]["high"]),
)


def is_plausible(test: str, canonical_value: float) -> bool:
    """True when ``canonical_value`` lies inside ``PLAUSIBLE_RANGES[test]`` (inclusive);
    NaN and infinities are never plausible."""
    if canonical_value is None or not math.isfinite(canonical_value):
        return False
    low, high = PLAUSIBLE_RANGES[test]
    return low <= canonical_value <= high
