"""Site units and rounding: every unit the generator writes is accepted, and converts back.

Boundary cases from the contract's conversion table (creatinine / 88.4, hemoglobin
g/L / 10, counts x 1000, plasma cells /uL / 1000, weight lb x 0.45359237).
"""

from __future__ import annotations

import numpy as np
import pytest

from feasibility.schema import TESTS
from feasibility.synth.units import SITE_UNITS, decimals, report, units_for

SITE = {"S01": 0, "S02": 1, "S03": 2, "S04": 3, "S05": 4, "S06": 5, None: 6}


def _one(test: str, canonical: float, site: str | None) -> tuple[float, str]:
    # P_OTHER_ACCEPTED_UNIT is 3%: draw many rows and keep the site's own unit.
    rng = np.random.default_rng(0)
    values, unit = report(rng, test, np.full(400, canonical), np.full(400, SITE[site]))
    names = units_for(test)
    own = names.index(SITE_UNITS[test][SITE[site] if site else 0])
    i = int(np.nonzero(unit == own)[0][0])
    return float(values[i]), names[own]


@pytest.mark.parametrize(
    ("test", "canonical", "site", "value", "unit"),
    [
        ("creatinine", 1.0, "S01", 1.0, "mg/dL"),
        ("creatinine", 1.0, "S02", 88.0, "umol/L"),  # 88.4 rounded to a whole umol/L
        ("creatinine", 2.5, "S04", 221.0, "µmol/L"),
        ("hemoglobin", 12.34, "S01", 12.3, "g/dL"),
        ("hemoglobin", 12.34, "S02", 123.0, "g/L"),
        ("hemoglobin", 8.0, "S04", 80.0, "g/L"),  # exactly the protocol threshold
        ("platelets", 50_000.0, "S02", 50.0, "10^9/L"),  # exactly the threshold
        ("platelets", 215_400.0, "S03", 215_000.0, "/uL"),
        ("anc", 1_000.0, "S04", 1.0, "10*9/L"),
        ("anc", 1_234.0, "S05", 1_230.0, "/mm3"),
        ("plasma_cells_abs", 0.6, "S03", 600.0, "/uL"),
        ("plasma_cells_abs", 0.6, "S01", 0.6, "10^3/uL"),
        ("weight", 80.0, "S03", 176.4, "lb"),
        ("weight", 80.0, None, 80.0, "kg"),  # no site: reported like S01
        ("qtc", 470.4, "S06", 470.0, "ms"),
    ],
)
def test_site_unit_and_rounding(test, canonical, site, value, unit):
    got_value, got_unit = _one(test, canonical, site)
    assert got_unit == unit
    assert got_value == pytest.approx(value)
    # Converting back with the contract factor lands within the rounding step.
    back = got_value * TESTS[test].factors[got_unit]
    step = 10.0 ** -decimals(test, got_unit) * TESTS[test].factors[got_unit]
    assert abs(back - canonical) <= step / 2 + 1e-9


def test_every_written_unit_is_accepted():
    for test, units in SITE_UNITS.items():
        for u in units_for(test):
            assert u in TESTS[test].factors, (test, u)
        assert len(units) == 6


def test_some_rows_use_another_accepted_unit():
    rng = np.random.default_rng(1)
    _, unit = report(rng, "hemoglobin", np.full(20_000, 11.0), np.zeros(20_000, dtype=int))
    other = (unit != 0).mean()
    assert 0.005 < other < 0.05
