"""DQD-style OMOP conformance checks, counted independently with DuckDB on Synthea27Nj,
and the data-quality suites on the mapped tables naming their OMOP source."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import polars as pl
import pytest

from feasibility.omop.conformance import omop_conformance
from feasibility.omop.source import fetch_arrow
from feasibility.registry import load_registry

DATA = Path(__file__).parent / "data" / "omop_synthea27nj"


def _count(query: str) -> int:
    con = duckdb.connect()
    try:
        frame = pl.from_arrow(fetch_arrow(con, query.replace("{D}", str(DATA))))
    finally:
        con.close()
    return int(frame.item())


@pytest.fixture(scope="module")
def checks() -> pl.DataFrame:
    return omop_conformance(load_registry(DATA))


def _one(checks: pl.DataFrame, check: str, table: str, column: str) -> dict:
    rows = checks.filter(
        (pl.col("check") == check) & (pl.col("table") == table) & (pl.col("column") == column)
    )
    assert rows.height == 1, (check, table, column)
    return rows.row(0, named=True)


def test_unit_concept_present_for_measurements(checks) -> None:
    row = _one(checks, "measureUnitCompleteness", "measurement", "unit_concept_id")
    assert row["rows_checked"] == _count(
        "select count(*) from '{D}/measurement.parquet' where value_as_number is not null"
    )
    failed = _count(
        "select count(*) from '{D}/measurement.parquet' "
        "where value_as_number is not null and coalesce(unit_concept_id, 0) = 0"
    )
    assert row["rows_failed"] == failed > 0
    assert row["status"] == "fail"
    assert "Pain severity" in row["concepts"]  # names the OMOP concepts involved


def test_standard_concept_conformance(checks) -> None:
    # Synthea27Nj's vocabulary subset has no Gender concepts: 8507/8532 are not in it
    gender = _one(checks, "isStandardValidConcept", "person", "gender_concept_id")
    assert gender["rows_failed"] == 28 and gender["status"] == "fail"
    assert "8507" in gender["concepts"] and "8532" in gender["concepts"]
    cond = _one(checks, "isStandardValidConcept", "condition_occurrence", "condition_concept_id")
    assert cond["rows_failed"] == _count(
        "select count(*) from '{D}/condition_occurrence.parquet' o "
        "left join '{D}/concept.parquet' c on c.concept_id = o.condition_concept_id "
        "where o.condition_concept_id <> 0 and (c.standard_concept is distinct from 'S' "
        "or c.invalid_reason is not null)"
    )


@pytest.mark.parametrize(
    ("table", "column"),
    [("measurement", "measurement_date"), ("observation", "observation_date"),
     ("condition_occurrence", "condition_start_date"), ("procedure_occurrence", "procedure_date")],
)  # fmt: skip
def test_dates_within_observation_periods(checks, table: str, column: str) -> None:
    row = _one(checks, "withinObservationPeriod", table, column)
    expected = _count(
        f"select count(*) from '{{D}}/{table}.parquet' e where {column} is not null and not exists "
        f"(select 1 from '{{D}}/observation_period.parquet' p where p.person_id = e.person_id "
        f"and e.{column} between p.observation_period_start_date and p.observation_period_end_date)"
    )
    assert row["rows_failed"] == expected


def test_validate_names_the_omop_source(tmp_path: Path) -> None:
    out = tmp_path / "validation"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    run = subprocess.run(
        [sys.executable, "-m", "feasibility.cli", "validate", "--data", str(DATA),
         "--out", str(out), "--quiet"],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    conformance = pl.read_csv(out / "omop_conformance.csv")
    assert {"isStandardValidConcept", "measureUnitCompleteness", "withinObservationPeriod"} <= set(
        conformance["check"]
    )
    failing = pl.read_csv(out / "validation_failing_rows.csv", infer_schema_length=None)
    assert {"source_table", "concept_id"} <= set(failing.columns)
    dx = failing.filter(pl.col("table") == "diagnoses")
    assert dx.height > 0
    assert set(dx["source_table"]) == {"condition_occurrence"}
    assert dx["concept_id"].null_count() == 0
