"""Physiologically plausible ranges, in canonical units, shared by the generator and validation.

The synthetic generator plants ``implausible_value`` defects strictly outside these
ranges and keeps every clean value inside them; the data-quality suites flag values
outside them. One dict, so both sides use the same numbers.

A value is plausible when ``low <= value <= high`` (both ends inclusive), after
conversion to the canonical unit of ``feasibility.schema.TESTS``. The bounds are
deliberately wide: they mark values that cannot belong to a living adult (entry
errors, wrong unit typed as the right one, a decimal slip), not abnormal results.
A severely ill myeloma patient can have a haemoglobin of 4 g/dL or a creatinine of
12 mg/dL; neither is flagged.

Sources for the bounds (reference intervals and reported extremes):

* creatinine 0.1-30 mg/dL: reference 0.6-1.3 mg/dL; anuric dialysis patients
  rarely exceed 20 mg/dL (Kratz A et al., "Laboratory reference values",
  N Engl J Med 2004;351:1548-63, and clinical experience with end-stage renal disease).
* hemoglobin 2-25 g/dL: the project brief's range; survivable extremes reported around
  2 g/dL (severe anaemia) and ~25 g/dL (polycythaemia).
* platelets 0-2,000,000 /mm3, anc 0-100,000 /mm3, wbc 0-500,000 /mm3: counts cannot be
  negative; extreme thrombocytosis and hyperleukocytosis (e.g. in plasma cell leukaemia)
  stay below these ceilings.
* plasma_cells_pct 0-100 %: a percentage.
* plasma_cells_abs 0-200 x10^9/L: above any reported circulating plasma cell count.
* plasma_cells_flow 0-150,000 per 150,000 events: cannot exceed the events counted.
* weight 25-300 kg: adult body weights outside this are data-entry errors in practice.
* qtc 250-700 ms: below 250 ms or above 700 ms is not a measurable corrected QT.
* age 18-110 years: an adult trial registry; the oldest verified ages are ~117-122,
  and registries treat ages over 110 as birth-date errors.
"""

from __future__ import annotations

#: test -> (low, high) in the canonical unit of ``schema.TESTS[test]``, both inclusive.
PLAUSIBLE_RANGES: dict[str, tuple[float, float]] = {
    "creatinine": (0.1, 30.0),  # mg/dL
    "hemoglobin": (2.0, 25.0),  # g/dL
    "platelets": (0.0, 2_000_000.0),  # /mm3
    "anc": (0.0, 100_000.0),  # /mm3
    "wbc": (0.0, 500_000.0),  # /mm3
    "plasma_cells_pct": (0.0, 100.0),  # %
    "plasma_cells_abs": (0.0, 200.0),  # 10^9/L
    "plasma_cells_flow": (0.0, 150_000.0),  # /150000 events
    "weight": (25.0, 300.0),  # kg
    "qtc": (250.0, 700.0),  # ms
}

#: Plausible age in whole years (at any event or index date), both inclusive.
AGE_RANGE: tuple[int, int] = (18, 110)
LESION_DIAMETER_RANGE: tuple[float, float] = (0.0, 50.0)


def is_plausible(test: str, canonical_value: float) -> bool:
    """True when ``canonical_value`` lies inside ``PLAUSIBLE_RANGES[test]`` (inclusive)."""
    low, high = PLAUSIBLE_RANGES[test]
    return low <= canonical_value <= high
