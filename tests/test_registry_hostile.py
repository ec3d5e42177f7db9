"""Dirty registries at the value level (issue 10 point 3; contract sections 5.1 and 5.2).

Each test plants one kind of damage and checks that it is set aside and counted, that
the screen then decides on what is left, and that nothing is silently lost.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from _registry_helpers import csv_table, write_registry

from feasibility.engine import screen
from feasibility.errors import RegistryError
from feasibility.plausibility import LESION_DIAMETER_RANGE, PLAUSIBLE_RANGES
from feasibility.registry import load_registry

INDEX = dt.date(2024, 6, 30)
PROTOCOL = "pomalidomide-ixazomib-dex"


def _set_aside(reg, table: str, problem: str, column: str | None = None) -> int:
    sa = reg.set_aside.filter((pl.col("table") == table) & (pl.col("problem") == problem))
    if column is not None:
        sa = sa.filter(pl.col("column") == column)
    return int(sa["rows"].sum())


def _status(result, criterion: str, pid: str = "P1") -> str:
    ps = result.patient_status
    return ps.filter(pl.col("patient_id") == pid)[criterion].item()


# --------------------------------------------------------------- 5.2 implausible values


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize("bad", ["1e19", "1e22", "1e308", "inf", "-inf", "nan", "26", "-1", "0"])
def test_implausible_measurement_is_set_aside_and_latest_plausible_decides(
    tmp_path: Path, fmt: str, bad: str
) -> None:
    """Contract 5.2: a value outside the plausible range of its test (hemoglobin > 25 g/dL,
    negative, infinite) is set aside, counted, and the most recent plausible value decides."""
    rows = pl.DataFrame(
        {
            "patient_id": ["P1", "P1"],
            "test": ["hemoglobin", "hemoglobin"],
            "value": [7.0, float(bad)],  # 7.0 fails >= 8.0; the later value must not decide
            "unit": ["g/dL", "g/dL"],
            "measured_on": [dt.date(2024, 6, 20), dt.date(2024, 6, 29)],
        }
    )
    reg = load_registry(write_registry(tmp_path / "r", {"measurements": rows}, fmt))
    assert _set_aside(reg, "measurements", "implausible_value", "value") == 1
    assert reg.rows_set_aside("measurements") == {"implausible_value (value)": 1}
    result = screen(reg, PROTOCOL, INDEX)
    assert _status(result, "hemoglobin") == "fail"
    decided = result.deciding_values("hemoglobin").filter(pl.col("patient_id") == "P1")
    assert decided["value"].item() == pytest.approx(7.0)


def test_plausible_bounds_are_inclusive_after_conversion(tmp_path: Path) -> None:
    """PLAUSIBLE_RANGES are inclusive and apply in the canonical unit (250 g/L = 25 g/dL)."""
    low, high = PLAUSIBLE_RANGES["hemoglobin"]
    assert high == 25.0
    csv = csv_table(
        "patient_id,test,value,unit,measured_on",
        "P1,hemoglobin,250,g/L,2024-06-01",  # 25 g/dL: on the bound, kept
        "P1,hemoglobin,251,g/L,2024-06-02",  # 25.1 g/dL: set aside
        f"P1,hemoglobin,{low},g/dL,2024-06-03",  # on the low bound, kept
    )
    reg = load_registry(write_registry(tmp_path / "r", {"measurements": csv}))
    kept = reg.tables["measurements"].collect()["_row"].to_list()
    assert kept == [1, 3]
    assert _set_aside(reg, "measurements", "implausible_value") == 1


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_lesion_above_50_cm_is_set_aside_and_undecided(tmp_path: Path, fmt: str) -> None:
    """Contract 5.2: a lesion diameter above 50 cm is set aside: the lesion stays, its size
    unknown, so extramedullary_disease is unknown rather than pass."""
    assert LESION_DIAMETER_RANGE == (0.0, 50.0)
    lesions = pl.DataFrame(
        {
            "patient_id": ["P1", "P2"],
            "imaged_on": [dt.date(2024, 6, 1)] * 2,
            "site": ["liver", "skin"],
            "longest_diameter_cm": [5000.0, 50.0],
            "bone_contiguous": [False, False],
        }
    )
    reg = load_registry(write_registry(tmp_path / "r", {"lesions": lesions}, fmt))
    assert _set_aside(reg, "lesions", "implausible_value", "longest_diameter_cm") == 1
    result = screen(reg, PROTOCOL, INDEX)
    assert _status(result, "extramedullary_disease", "P1") == "unknown"
    assert _status(result, "extramedullary_disease", "P2") == "pass"  # 50.0 is on the bound


# --------------------------------------------------------------- 5.1 ids and duplicates


def test_blank_patient_ids_are_never_a_patient(tmp_path: Path) -> None:
    """Contract 5.1: a blank patient_id is never a patient; such rows are set aside, counted,
    and two of them are not merged into one patient."""
    patients = csv_table(
        "patient_id,sex,birth_date,death_date",
        "P1,F,1960-01-01,",
        ",M,1950-01-01,",
        "  ,F,1951-01-01,",
    )
    measurements = csv_table(
        "patient_id,test,value,unit,measured_on", ",hemoglobin,9,g/dL,2024-06-01"
    )
    reg = load_registry(
        write_registry(tmp_path / "r", {"patients": patients, "measurements": measurements})
    )
    assert reg.tables["patients"].collect()["patient_id"].to_list() == ["P1"]
    assert _set_aside(reg, "patients", "blank_patient_id") == 2
    assert reg.rows_set_aside("measurements") == {"blank_patient_id (patient_id)": 1}
    result = screen(reg, PROTOCOL, INDEX)
    assert result.patient_status.height == 1


def test_conflicting_duplicate_patient_rows_make_the_field_missing(tmp_path: Path) -> None:
    """Contract 5.1: same patient_id, different values in a field: that field is missing
    for that patient (no row wins) and the conflict is counted as set aside."""
    patients = csv_table(
        "patient_id,sex,birth_date,death_date",
        "P1,F,1960-01-01,2020-01-01",
        "P1,f,1961-01-01,2020-01-01",  # sex agrees once normalised; birth_date conflicts
        "P2,M,1950-01-01,",
        "P2,M,1950-01-01,2023-01-01",  # death_date conflicts (a date against none)
    )
    reg = load_registry(write_registry(tmp_path / "r", {"patients": patients}))
    out = reg.tables["patients"].collect().sort("patient_id")
    assert out["patient_id"].to_list() == ["P1", "P2"]
    p1, p2 = out.to_dicts()
    assert p1["birth_date"] is None and p1["sex"] == "F"
    assert p1["death_date"] == dt.date(2020, 1, 1)
    assert p2["death_date"] is None and p2["birth_date"] == dt.date(1950, 1, 1)
    assert _set_aside(reg, "patients", "conflicting_duplicate", "birth_date") == 2
    assert _set_aside(reg, "patients", "conflicting_duplicate", "death_date") == 2
    accounting = reg.row_accounting().filter(pl.col("table") == "patients").row(0, named=True)
    assert (accounting["rows_read"], accounting["rows_used"]) == (4, 2)


# --------------------------------------------------------------- missing columns


def test_missing_death_date_column_is_unknown_for_everyone(tmp_path: Path) -> None:
    """Contract 1/5: a missing column of a present table makes its facts unknown for
    everyone -- never "alive" without a word."""
    patients = csv_table("patient_id,sex,birth_date", "P1,F,1960-01-01", "P2,M,1950-01-01")
    reg = load_registry(write_registry(tmp_path / "r", {"patients": patients}))
    assert reg.missing_columns == {
        "patients": frozenset({"death_date", "race", "ethnicity", "site"})
    }
    result = screen(reg, PROTOCOL, INDEX)
    assert set(result.patient_status["alive_at_index"]) == {"unknown"}
    # criteria not reading it are untouched (age/sex-only checks still decide)
    assert set(result.patient_status["myeloma_diagnosis"]) == {"unknown"}  # no diagnoses table


def test_missing_therapy_end_date_makes_ongoing_unknown(tmp_path: Path) -> None:
    therapies = csv_table(
        "patient_id,line_number,regimen,start_date,investigational", "P1,2,X,2024-01-01,true"
    )
    reg = load_registry(write_registry(tmp_path / "r", {"therapies": therapies}))
    result = screen(reg, PROTOCOL, INDEX)
    assert _status(result, "concurrent_therapy") == "unknown"  # ongoing needs end_date
    assert _status(result, "previously_treated") == "pass"  # start_date alone decides


def test_missing_column_fails_its_quality_checks(tmp_path: Path) -> None:
    from feasibility.quality.loader_rows import absent_column_rows

    patients = csv_table("patient_id,sex,birth_date", "P1,F,1960-01-01")
    reg = load_registry(write_registry(tmp_path / "r", {"patients": patients}))
    rows = [{"table": "patients", "column": "death_date", "status": "passed", "note": None}]
    extra = absent_column_rows(reg, rows)
    assert rows[0]["status"] == "failed"
    assert {r["check"] for r in extra} >= {"patients.death_date.present"}
    assert all(r["status"] == "failed" for r in extra)


# --------------------------------------------------------------- headers


@pytest.mark.parametrize(
    "header", ["patient_id,sex,sex,birth_date", "patient_id,sex,Sex ,birth_date"]
)
def test_duplicated_column_names_are_refused(tmp_path: Path, header: str) -> None:
    patients = csv_table(header, "P1,F,M,1960-01-01")
    with pytest.raises(RegistryError) as exc:
        load_registry(write_registry(tmp_path / "r", {"patients": patients}))
    assert exc.value.table == "patients" and exc.value.column == "sex"
    assert "twice" in str(exc.value)


def test_duplicated_parquet_column_is_refused(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = tmp_path / "r"
    write_registry(root, {})
    (root / "patients.csv").unlink()
    table = pa.table(
        [pa.array(["P1"]), pa.array(["F"]), pa.array(["M"]), pa.array(["1960-01-01"])],
        names=["patient_id", "sex", "sex", "birth_date"],
    )
    pq.write_table(table, root / "patients.parquet")
    with pytest.raises(RegistryError, match="sex"):
        load_registry(root)


@pytest.mark.parametrize(("delimiter", "word"), [(";", "semicolon"), ("\t", "tab"), ("|", "pipe")])
def test_wrong_delimiter_is_named(tmp_path: Path, delimiter: str, word: str) -> None:
    patients = delimiter.join(["patient_id", "sex", "birth_date"]) + "\nP1;F;1960-01-01\n"
    with pytest.raises(RegistryError) as exc:
        load_registry(write_registry(tmp_path / "r", {"patients": patients}))
    assert word in str(exc.value) and "comma" in str(exc.value)
    assert "\n" not in str(exc.value)


# --------------------------------------------------------------- nothing lost


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_every_row_read_is_used_or_set_aside_by_reason(tmp_path: Path, fmt: str) -> None:
    """Issue 10 point 5: per table, rows read = rows used + rows set aside (by reason)."""
    from feasibility.synth import generate_registry

    root = tmp_path / "reg"
    generate_registry(300, 11, root, format=fmt, defects="heavy")
    reg = load_registry(root)
    acc = reg.row_accounting()
    assert acc.height == 8
    for rec in acc.iter_rows(named=True):
        raw = reg.raw[rec["table"]].select(pl.len()).collect().item()
        used = reg.tables[rec["table"]].select(pl.len()).collect().item()
        assert rec["rows_read"] == raw and rec["rows_used"] == used, rec
        reasons = reg.rows_set_aside(rec["table"])
        assert "other" not in reasons, rec
        assert rec["rows_read"] == rec["rows_used"] + sum(reasons.values()), rec
        assert rec["rows_set_aside"] == sum(reasons.values())
    assert reg.rows_set_aside("measurements").get("implausible_value (value)", 0) > 0


# --------------------------------------------------------------- shown to the reader


def test_report_names_missing_columns_and_accounts_for_rows(tmp_path: Path) -> None:
    """Issue 10 points 3 and 5: the report's data section carries a banner for a missing
    column and the rows read / used / set aside per table."""
    from feasibility.cli import main

    patients = csv_table(
        "patient_id,sex,birth_date",
        *(f"P{i},{'FM'[i % 2]},19{40 + i}-01-01" for i in range(30)),
    )
    measurements = csv_table(
        "patient_id,test,value,unit,measured_on",
        *(f"P{i},hemoglobin,{9 + i % 3},g/dL,2024-06-01" for i in range(30)),
        *(f"P{i},hemoglobin,1e308,g/dL,2024-06-02" for i in range(12)),
    )
    root = write_registry(tmp_path / "r", {"patients": patients, "measurements": measurements})
    out = tmp_path / "out"
    code = main(
        ["report", "--data", str(root), "--out", str(out), "--index-date", "2024-06-30",
         "--quiet", "--no-validation"]
    )  # fmt: skip
    assert code == 0
    html = (out / "report.html").read_text(encoding="utf-8")
    assert 'id="missing-columns"' in html and "patients.death_date" in html
    assert "Rows read, used and set aside" in html
    # 12 > the threshold of 10: shown, rounded up to 15 by the default disclosure policy
    assert "implausible_value (value): 15" in html
