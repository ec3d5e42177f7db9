"""The loader against the project's generator: what it sets aside and drops is exactly what
the generator planted (``_defects.csv`` rows use the same 1-based data rows as ``_row``)."""

from __future__ import annotations

import polars as pl
import pytest

from feasibility.registry import load_registry
from feasibility.synth import generate_registry

#: Defects that make a row unusable for the engine, per table: (column, defect class).
DROPPING = {
    "measurements": {
        ("unit", "unit_outside_vocabulary"),
        ("value", "missing_value"),
        ("unit", "missing_value"),
        ("test", "missing_value"),
        ("value", "implausible_value"),  # contract 5.2
    },
    "assessments": {
        ("item", "unknown_assessment_item"),
        ("value", "missing_value"),
        ("item", "missing_value"),
    },
}


@pytest.fixture(scope="module", params=["csv", "parquet"])
def generated(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp(f"synth-{request.param}")
    generate_registry(2000, seed=11, out_dir=root, format=request.param, defects="heavy")
    return root, load_registry(root), pl.read_csv(root / "_defects.csv")


def _duplicates(defects: pl.DataFrame, table: str) -> set[int]:
    """Rows the generator wrote as exact copies of an earlier row."""
    planted = defects.filter((pl.col("table") == table) & (pl.col("defect") == "duplicate_row"))
    return set(planted["row"].to_list())


def _rows(defects: pl.DataFrame, table: str, pairs: set[tuple[str, str]]) -> set[int]:
    mask = pl.lit(False)
    for column, defect in pairs:
        mask = mask | ((pl.col("column") == column) & (pl.col("defect") == defect))
    return set(defects.filter((pl.col("table") == table) & mask)["row"].to_list())


def test_metadata_files_are_not_tables(generated) -> None:
    root, reg, _ = generated
    assert (root / "_defects.csv").exists() and (root / "_manifest.json").exists()
    assert reg.warnings == []
    assert reg.present == frozenset(reg.tables)


@pytest.mark.parametrize(
    "table",
    [
        "patients",
        "diagnoses",
        "measurements",
        "assessments",
        "medications",
        "procedures",
        "lesions",
        "therapies",
    ],
)
def test_dropped_rows_are_exactly_duplicates_and_unusable_values(generated, table: str) -> None:
    _, reg, defects = generated
    raw_rows = set(reg.raw[table].select("_row").collect()["_row"].to_list())
    kept = set(reg.tables[table].select("_row").collect()["_row"].to_list())
    expected = _rows(defects, table, DROPPING.get(table, set())) | _duplicates(defects, table)
    assert raw_rows - kept == expected


@pytest.mark.parametrize(
    ("table", "column", "defect", "problem"),
    [
        ("patients", "sex", "sex_outside_vocabulary", "sex_outside_vocabulary"),
        ("measurements", "unit", "unit_outside_vocabulary", "unit_outside_vocabulary"),
        ("assessments", "item", "unknown_assessment_item", "unknown_item"),
    ],
)
def test_set_aside_counts_match_planted_defects(generated, table, column, defect, problem) -> None:
    _, reg, defects = generated
    planted = _rows(defects, table, {(column, defect)})
    record = reg.set_aside.filter(
        (pl.col("table") == table) & (pl.col("column") == column) & (pl.col("problem") == problem)
    )
    assert record["rows"].to_list() == [len(planted)]
    examples = {int(r) for r in record["example_rows"].item().split(", ")}
    assert examples <= planted


def test_bad_sex_codes_become_null_and_patients_stay(generated) -> None:
    _, reg, defects = generated
    planted = _rows(defects, "patients", {("sex", "sex_outside_vocabulary")})
    patients = reg.tables["patients"].collect()
    raw_height = reg.raw["patients"].collect().height
    assert patients.height == raw_height - len(_duplicates(defects, "patients"))
    bad = patients.filter(pl.col("_row").is_in(sorted(planted)))
    assert bad["sex"].null_count() == bad.height
    assert set(patients["sex"].drop_nulls().unique()) <= {"F", "M", "U"}
