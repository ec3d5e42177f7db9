"""Every unit conversion of the contract's measurement table, and units outside it.

The expected factors are typed in from contract section 1, not read from
feasibility.schema, so a wrong factor there fails here.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from _registry_helpers import measurements_csv, write_registry

from feasibility.plausibility import PLAUSIBLE_RANGES
from feasibility.registry import load_registry

COUNT_UNITS = [
    ("/mm3", 1.0),
    ("/uL", 1.0),
    ("10^9/L", 1000.0),
    ("10^3/uL", 1000.0),
    ("10*9/L", 1000.0),
    ("10*3/uL", 1000.0),
]

# (test, unit as written, factor to canonical, canonical unit) straight from the contract
CONVERSIONS = [
    ("creatinine", "mg/dL", 1.0, "mg/dL"),
    ("creatinine", "umol/L", 1 / 88.4, "mg/dL"),
    ("creatinine", "\u00b5mol/L", 1 / 88.4, "mg/dL"),  # micro sign
    ("hemoglobin", "g/dL", 1.0, "g/dL"),
    ("hemoglobin", "g/L", 0.1, "g/dL"),
    *[("platelets", u, f, "/mm3") for u, f in COUNT_UNITS],
    *[("anc", u, f, "/mm3") for u, f in COUNT_UNITS],
    *[("wbc", u, f, "/mm3") for u, f in COUNT_UNITS],
    ("plasma_cells_pct", "%", 1.0, "%"),
    ("plasma_cells_abs", "10^9/L", 1.0, "10^9/L"),
    ("plasma_cells_abs", "10^3/uL", 1.0, "10^9/L"),
    ("plasma_cells_abs", "10*9/L", 1.0, "10^9/L"),
    ("plasma_cells_abs", "10*3/uL", 1.0, "10^9/L"),
    ("plasma_cells_abs", "/uL", 0.001, "10^9/L"),
    ("plasma_cells_abs", "/mm3", 0.001, "10^9/L"),
    ("plasma_cells_flow", "/150000 events", 1.0, "/150000 events"),
    ("weight", "kg", 1.0, "kg"),
    ("weight", "lb", 0.45359237, "kg"),
    ("qtc", "ms", 1.0, "ms"),
]

OUTSIDE = [
    ("creatinine", "mmol/L"),
    ("creatinine", "mg/L"),
    ("creatinine", "g/L"),  # accepted for hemoglobin, not for creatinine
    ("creatinine", "\u03bcmol/L"),  # Greek mu, not the micro sign the contract lists
    ("hemoglobin", "mmol/L"),
    ("hemoglobin", "mg/dL"),
    ("platelets", "10^6/uL"),
    ("platelets", "%"),
    ("anc", "g/L"),
    ("wbc", "10^9"),
    ("plasma_cells_pct", "/uL"),
    ("plasma_cells_abs", "%"),
    ("plasma_cells_flow", "events"),
    ("weight", "g"),
    ("weight", "lbs"),
    ("qtc", "s"),
]


def _load(tmp_path: Path, rows: list[tuple[str, str, str, str]], fmt: str = "csv"):
    if fmt == "csv":
        table: pl.DataFrame | str = measurements_csv(*rows)
    else:
        table = pl.DataFrame(
            {
                "patient_id": ["P1"] * len(rows),
                "test": [r[0] for r in rows],
                "value": [float(r[1]) for r in rows],
                "unit": [r[2] for r in rows],
                "measured_on": [dt.date.fromisoformat(r[3]) for r in rows],
            }
        )
    return load_registry(write_registry(tmp_path / "r", {"measurements": table}, fmt))


def _plausible(test: str, factor: float) -> float:
    """An amount in the unit of ``factor`` whose canonical value is mid-range for ``test``."""
    low, high = PLAUSIBLE_RANGES[test]
    return round((low + high) / 2 / factor, 6)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_every_accepted_unit_converts_to_the_canonical_unit(tmp_path: Path, fmt: str) -> None:
    # a plausible amount of each test (contract 5.2 sets implausible ones aside)
    rows = [
        (test, repr(_plausible(test, factor)), unit, f"2024-01-{i % 28 + 1:02d}")
        for i, (test, unit, factor, _) in enumerate(CONVERSIONS)
    ]
    reg = _load(tmp_path, rows, fmt)
    out = reg.tables["measurements"].collect().sort("_row")
    assert out.height == len(CONVERSIONS)
    assert reg.set_aside.is_empty()
    for record, (test, unit, factor, canonical) in zip(
        out.iter_rows(named=True), CONVERSIONS, strict=True
    ):
        assert record["test"] == test
        assert record["unit"] == canonical, (test, unit)
        amount = _plausible(test, factor)
        assert record["value"] == pytest.approx(amount * factor, rel=1e-12), (test, unit)
        assert record["source_value"] == amount
        assert record["source_unit"] == unit


@pytest.mark.parametrize(("test", "unit", "factor", "canonical"), CONVERSIONS)
def test_each_conversion_alone(
    tmp_path: Path, test: str, unit: str, factor: float, canonical: str
) -> None:
    amount = _plausible(test, factor)
    reg = _load(tmp_path, [(test, repr(amount), unit, "2024-01-01")])
    record = reg.tables["measurements"].collect().row(0, named=True)
    assert record["value"] == pytest.approx(amount * factor, rel=1e-12)
    assert record["unit"] == canonical


def test_contract_examples_at_thresholds(tmp_path: Path) -> None:
    """Values that sit exactly on protocol thresholds in another unit land exactly on them."""
    rows = [
        ("creatinine", "88.4", "umol/L", "2024-01-01"),  # 1.0 mg/dL
        ("hemoglobin", "80", "g/L", "2024-01-01"),  # 8.0 g/dL
        ("platelets", "50", "10^9/L", "2024-01-01"),  # 50000 /mm3
        ("anc", "1.0", "10*3/uL", "2024-01-01"),  # 1000 /mm3
        ("plasma_cells_abs", "500", "/uL", "2024-01-01"),  # 0.5 10^9/L
        ("weight", "100", "lb", "2024-01-01"),  # 45.359237 kg
    ]
    values = _load(tmp_path, rows).tables["measurements"].collect().sort("_row")["value"].to_list()
    assert values == pytest.approx([1.0, 8.0, 50000.0, 1000.0, 0.5, 45.359237], rel=1e-12)


def test_unit_and_test_spelling_is_trimmed_and_test_case_folded(tmp_path: Path) -> None:
    reg = _load(
        tmp_path,
        [(" Hemoglobin ", "100", " g/L ", "2024-01-01"), ("ANC", "2", "10^9/L", "2024-01-01")],
    )
    out = reg.tables["measurements"].collect().sort("_row")
    assert out["test"].cast(pl.String).to_list() == ["hemoglobin", "anc"]
    assert out["value"].to_list() == pytest.approx([10.0, 2000.0])
    assert reg.set_aside.is_empty()


@pytest.mark.parametrize(("test", "unit"), OUTSIDE)
def test_unit_outside_vocabulary_is_set_aside_not_guessed(
    tmp_path: Path, test: str, unit: str
) -> None:
    reg = _load(
        tmp_path,
        [
            (test, "7", "mg/dL" if test != "creatinine" else "umol/L", "2024-01-01"),
            (test, "7", unit, "2024-01-02"),
        ],
    )
    out = reg.tables["measurements"].collect()
    # only the first row (a wrong unit for some tests) may survive; the second never does
    assert 2 not in out["_row"].to_list()
    problems = reg.set_aside.filter(pl.col("problem") == "unit_outside_vocabulary")
    assert problems.height == 1
    record = problems.row(0, named=True)
    assert record["table"] == "measurements" and record["column"] == "unit"
    assert "2" in record["example_rows"].split(", ")
    assert f"{test}: {unit}" in record["example_values"]
    # the raw table still has the row, unit as written
    raw = reg.raw["measurements"].filter(pl.col("_row") == 2).collect()
    assert raw["unit"].to_list() == [unit]


def test_unit_case_is_not_folded(tmp_path: Path) -> None:
    """'MG/DL' is not in the contract's list: unusable rather than guessed."""
    reg = _load(tmp_path, [("creatinine", "1.1", "MG/DL", "2024-01-01")])
    assert reg.tables["measurements"].collect().is_empty()
    assert reg.set_aside["problem"].to_list() == ["unit_outside_vocabulary"]


def test_unknown_test_and_missing_unit_and_value_are_counted(tmp_path: Path) -> None:
    rows = [
        ("ldh", "200", "U/L", "2024-01-01"),
        ("ldh", "210", "U/L", "2024-01-02"),
        ("hemoglobin", "11", "", "2024-01-01"),
        ("hemoglobin", "", "g/dL", "2024-01-01"),
        ("", "5", "g/dL", "2024-01-01"),
        ("hemoglobin", "11", "g/dL", "2024-01-01"),
    ]
    reg = _load(tmp_path, rows)
    assert reg.tables["measurements"].collect()["_row"].to_list() == [6]
    got = {(r["column"], r["problem"]): r for r in reg.set_aside.iter_rows(named=True)}
    assert got[("test", "unknown_test")]["rows"] == 2
    assert got[("test", "unknown_test")]["example_rows"] == "1, 2"
    assert got[("test", "unknown_test")]["example_values"] == "ldh"
    assert got[("unit", "missing_value")]["rows"] == 1
    assert got[("unit", "missing_value")]["example_rows"] == "3"
    assert got[("value", "missing_value")]["example_rows"] == "4"
    assert got[("test", "missing_value")]["example_rows"] == "5"
    assert all(r["table"] == "measurements" for r in got.values())


def test_nan_in_parquet_is_an_implausible_value(tmp_path: Path) -> None:
    """Contract 5.2 (amended from "missing"): NaN is a value no lab produces: set aside and
    counted as implausible."""
    frame = pl.DataFrame(
        {
            "patient_id": ["P1", "P1"],
            "test": ["anc", "anc"],
            "value": [float("nan"), 1500.0],
            "unit": ["/uL", "/uL"],
            "measured_on": [dt.date(2024, 1, 1), dt.date(2024, 1, 2)],
        }
    )
    reg = load_registry(write_registry(tmp_path / "r", {"measurements": frame}, "parquet"))
    assert reg.tables["measurements"].collect()["value"].to_list() == [1500.0]
    assert reg.set_aside.select("column", "problem").row(0) == ("value", "implausible_value")
