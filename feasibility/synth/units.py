"""How each site reports: lab units, rounding, and ICD-10 code style.

Real networks differ: an SI-reporting affiliate sends creatinine in umol/L and
haemoglobin in g/L, a US community site sends weight in lb, counts arrive as /uL,
10^3/uL, 10^9/L or the ``10*9/L`` spelling of UCUM-less lab systems. Every unit here is
an accepted unit of ``schema.TESTS``; units outside that vocabulary are only planted
as defects (``defects.py``).
"""

from __future__ import annotations

import numpy as np

from feasibility.schema import TESTS

#: Unit per site (S01..S06; a patient without a site reports like S01), per test.
_COUNTS = ("10^3/uL", "10^9/L", "/uL", "10*9/L", "/mm3", "10*3/uL")
SITE_UNITS: dict[str, tuple[str, ...]] = {
    "creatinine": ("mg/dL", "umol/L", "mg/dL", "µmol/L", "mg/dL", "mg/dL"),
    "hemoglobin": ("g/dL", "g/L", "g/dL", "g/L", "g/dL", "g/dL"),
    "platelets": _COUNTS,
    "anc": _COUNTS,
    "wbc": _COUNTS,
    "plasma_cells_pct": ("%",) * 6,
    "plasma_cells_abs": ("10^3/uL", "10^9/L", "/uL", "10*9/L", "/mm3", "10*3/uL"),
    "plasma_cells_flow": ("/150000 events",) * 6,
    "weight": ("kg", "kg", "lb", "kg", "lb", "kg"),
    "qtc": ("ms",) * 6,
}

#: Share of a site's rows sent in another accepted unit (a lab system changed, an outside lab).
P_OTHER_ACCEPTED_UNIT = 0.03

#: Decimals kept per (test, unit); negative rounds to tens/hundreds/thousands.
_DECIMALS: dict[tuple[str, str], int] = {
    ("creatinine", "mg/dL"): 2,
    ("creatinine", "umol/L"): 0,
    ("creatinine", "µmol/L"): 0,
    ("hemoglobin", "g/dL"): 1,
    ("hemoglobin", "g/L"): 0,
    ("weight", "kg"): 1,
    ("weight", "lb"): 1,
    ("qtc", "ms"): 0,
    ("plasma_cells_pct", "%"): 1,
    ("plasma_cells_flow", "/150000 events"): 0,
}
_COUNT_DECIMALS = {"platelets": (-3, 0), "anc": (-1, 2), "wbc": (-2, 1), "plasma_cells_abs": (0, 2)}


def decimals(test: str, unit: str) -> int:
    """Rounding used for a value of ``test`` reported in ``unit``."""
    if (test, unit) in _DECIMALS:
        return _DECIMALS[(test, unit)]
    per_ul, per_litre = _COUNT_DECIMALS[test]
    return per_ul if unit in ("/uL", "/mm3") else per_litre


def units_for(test: str) -> list[str]:
    """Accepted units of ``test`` in a fixed order (site units first)."""
    seen: list[str] = []
    for u in list(SITE_UNITS[test]) + list(TESTS[test].factors):
        if u not in seen:
            seen.append(u)
    return seen


def report(
    rng: np.random.Generator, test: str, canonical: np.ndarray, site: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Convert canonical values to each row's site unit and round as that site would.

    Returns ``(values, unit_index)`` where ``unit_index`` indexes ``units_for(test)``.
    ``site`` is the patient's site index (6 = not recorded, reported like S01).
    """
    names = units_for(test)
    site_unit = np.array([names.index(u) for u in SITE_UNITS[test]] + [0], dtype=np.uint32)
    unit = site_unit[site]
    other = rng.random(len(unit)) < P_OTHER_ACCEPTED_UNIT
    unit = np.where(other, rng.integers(0, len(names), len(unit)), unit).astype(np.uint32)
    values = np.empty(len(canonical))
    for i, name in enumerate(names):
        rows = unit == i
        if rows.any():
            factor = TESTS[test].factors[name]
            values[rows] = np.round(canonical[rows] / factor, decimals(test, name))
    return values, unit


#: ICD-10 code style per site: (dotted?, share sent in lower case). None site like S01.
CODE_STYLE: tuple[tuple[bool, float], ...] = (
    (True, 0.01),
    (False, 0.01),
    (True, 0.01),
    (False, 0.02),
    (True, 0.25),
    (True, 0.01),
    (True, 0.01),
)
