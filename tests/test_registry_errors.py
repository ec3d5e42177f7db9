"""Structural problems stop the load with a RegistryError naming table, column, row and value.

Written from contract section 1 and section 4 ("a structurally bad registry ... stops
with a message naming the table, column and row, and a non-zero exit").
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from _registry_helpers import PATIENTS_CSV, csv_table, measurements_csv, write_registry

from feasibility.errors import FeasibilityError, RegistryError
from feasibility.registry import load_registry


def _error(root: Path) -> RegistryError:
    with pytest.raises(RegistryError) as info:
        load_registry(root)
    message = str(info.value)
    assert "\n" not in message, "errors print on one line"
    return info.value


def test_directory_that_does_not_exist(tmp_path: Path) -> None:
    err = _error(tmp_path / "nowhere")
    assert "nowhere" in str(err) and "does not exist" in str(err)


def test_path_that_is_a_file(tmp_path: Path) -> None:
    file = tmp_path / "patients.csv"
    file.write_text(PATIENTS_CSV)
    assert "not a directory" in str(_error(file))


def test_patients_missing(tmp_path: Path) -> None:
    root = write_registry(
        tmp_path / "r",
        {"diagnoses": csv_table("patient_id,code,diagnosed_on", "P1,C90.0,2024-01-01")},
        patients=False,
    )
    err = _error(root)
    assert err.table == "patients"
    assert "'patients'" in str(err) and "missing" in str(err)


def test_empty_directory_reports_patients_missing(tmp_path: Path) -> None:
    (tmp_path / "r").mkdir()
    assert _error(tmp_path / "r").table == "patients"


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_missing_required_column(tmp_path: Path, fmt: str) -> None:
    frame = pl.DataFrame(
        {
            "patient_id": ["P1"],
            "test": ["anc"],
            "value": [1.0],
            "measured_on": [dt.date(2024, 1, 1)],
        }
    )
    err = _error(write_registry(tmp_path / "r", {"measurements": frame}, fmt))
    assert (err.table, err.column) == ("measurements", "unit")
    assert "'measurements'" in str(err) and "'unit'" in str(err)


def test_missing_required_column_of_patients(tmp_path: Path) -> None:
    root = write_registry(
        tmp_path / "r", {"patients": csv_table("patient_id,sex,race", "P1,F,white")}
    )
    err = _error(root)
    assert (err.table, err.column) == ("patients", "birth_date")


def test_nullable_columns_may_be_absent(tmp_path: Path) -> None:
    root = write_registry(
        tmp_path / "r",
        {
            "patients": csv_table("patient_id,sex,birth_date", "P1,F,1960-01-01"),
            "medications": csv_table("patient_id,drug,start_date", "P1,aspirin,2024-01-01"),
            "therapies": csv_table(
                "patient_id,line_number,regimen,start_date,investigational",
                "P1,1,VRd,2024-01-01,false",
            ),
        },
    )
    reg = load_registry(root)
    patients = reg.tables["patients"].collect()
    assert patients["death_date"].to_list() == [None]
    assert patients["death_date"].dtype == pl.Date
    meds = reg.tables["medications"].collect()
    assert meds["route"].to_list() == [None] and meds["end_date"].to_list() == [None]
    assert meds["systemic"].to_list() == [True]  # route null = systemic
    assert reg.tables["therapies"].collect()["end_date"].to_list() == [None]


@pytest.mark.parametrize(
    ("table", "csv", "column", "row", "value"),
    [
        (
            "diagnoses",
            csv_table(
                "patient_id,code,diagnosed_on",
                "P1,C90.0,2024-01-01",
                "P1,C90.0,2024-01-02",
                "P1,C90.0,2024-13-01",
                "P1,C90.0,yesterday",
            ),
            "diagnosed_on",
            3,
            "2024-13-01",
        ),
        (
            "diagnoses",
            csv_table("patient_id,code,diagnosed_on", "P1,C90.0,01/02/2024"),
            "diagnosed_on",
            1,
            "01/02/2024",
        ),
        (
            "patients",
            csv_table(
                "patient_id,sex,birth_date,death_date", "P1,F,1960-01-01,", "P2,M,1950-02-30,"
            ),
            "birth_date",
            2,
            "1950-02-30",
        ),
        (
            "measurements",
            measurements_csv(
                ("anc", "1500", "/uL", "2024-01-01"), ("anc", '"1,5"', "/uL", "2024-01-02")
            ),
            "value",
            2,
            "1,5",
        ),
        (
            "measurements",
            measurements_csv(("anc", "n/a", "/uL", "2024-01-01")),
            "value",
            1,
            "n/a",
        ),
        (
            "lesions",
            csv_table(
                "patient_id,imaged_on,site,longest_diameter_cm,bone_contiguous",
                "P1,2024-01-01,liver,2.5,false",
                "P1,2024-01-01,liver,2.5,maybe",
            ),
            "bone_contiguous",
            2,
            "maybe",
        ),
        (
            "lesions",
            csv_table(
                "patient_id,imaged_on,site,longest_diameter_cm,bone_contiguous",
                "P1,2024-01-01,liver,2 cm,false",
            ),
            "longest_diameter_cm",
            1,
            "2 cm",
        ),
        (
            "therapies",
            csv_table(
                "patient_id,line_number,regimen,start_date,end_date,investigational",
                "P1,1,VRd,2023-01-01,,false",
                "P1,2,KRd,2023-06-01,,false",
                "P1,2.5,KRd,2023-06-01,,false",
            ),
            "line_number",
            3,
            "2.5",
        ),
        (
            "therapies",
            csv_table(
                "patient_id,line_number,regimen,start_date,end_date,investigational",
                "P1,1,VRd,2023-01-01,,2",
            ),
            "investigational",
            1,
            "2",
        ),
        (
            "medications",
            csv_table(
                "patient_id,drug,route,start_date,end_date",
                "P1,aspirin,oral,2024-01-01,2024-02-01",
                "P1,aspirin,oral,2024-01-01,2024-02-31",
            ),
            "end_date",
            2,
            "2024-02-31",
        ),
    ],
)
def test_unparseable_value_names_table_column_row_value(
    tmp_path: Path, table: str, csv: str, column: str, row: int, value: str
) -> None:
    err = _error(write_registry(tmp_path / "r", {table: csv}))
    assert (err.table, err.column, err.row, err.value) == (table, column, row, value)
    message = str(err)
    for part in (repr(table), repr(column), f"row {row}", repr(value)):
        assert part in message


def test_row_numbers_count_data_rows_only_in_parquet_too(tmp_path: Path) -> None:
    frame = pl.DataFrame(
        {
            "patient_id": ["P1", "P1", "P1"],
            "code": ["C90.0"] * 3,
            "diagnosed_on": ["2024-01-01", "2024-01-02", "2024-1-32"],
        }
    )
    err = _error(write_registry(tmp_path / "r", {"diagnoses": frame}, "parquet"))
    assert (err.table, err.column, err.row, err.value) == (
        "diagnoses",
        "diagnosed_on",
        3,
        "2024-1-32",
    )


def test_parquet_string_numbers_are_parsed_like_csv(tmp_path: Path) -> None:
    good = pl.DataFrame(
        {
            "patient_id": ["P1", "P1"],
            "test": ["anc", "anc"],
            "value": [" 1500 ", "2e3"],
            "unit": ["/uL", "/uL"],
            "measured_on": ["2024-01-01", "2024-01-02"],
        }
    )
    reg = load_registry(write_registry(tmp_path / "ok", {"measurements": good}, "parquet"))
    assert reg.tables["measurements"].collect()["value"].to_list() == [1500.0, 2000.0]
    bad = good.with_columns(pl.Series("value", ["1500", "lots"]))
    err = _error(write_registry(tmp_path / "bad", {"measurements": bad}, "parquet"))
    assert (err.column, err.row, err.value) == ("value", 2, "lots")


def test_parquet_column_of_the_wrong_type_names_the_column(tmp_path: Path) -> None:
    frame = pl.DataFrame({"patient_id": ["P1"], "code": ["C90.0"], "diagnosed_on": [20240101]})
    err = _error(write_registry(tmp_path / "r", {"diagnoses": frame}, "parquet"))
    assert (err.table, err.column) == ("diagnoses", "diagnosed_on")
    assert "date" in str(err)


def test_first_bad_row_is_reported(tmp_path: Path) -> None:
    rows = [("anc", "1", "/uL", "2024-01-01")] * 5 + [("anc", "x", "/uL", "2024-01-01")] * 3
    err = _error(write_registry(tmp_path / "r", {"measurements": measurements_csv(*rows)}))
    assert err.row == 6


def test_corrupt_parquet_is_unreadable(tmp_path: Path) -> None:
    root = write_registry(tmp_path / "r", {})
    (root / "measurements.parquet").write_bytes(b"PAR1 this is not really parquet PAR1")
    err = _error(root)
    assert err.table == "measurements"
    assert "cannot read measurements.parquet" in str(err)


def test_truncated_parquet_is_unreadable(tmp_path: Path) -> None:
    root = tmp_path / "r"
    root.mkdir()
    frame = pl.DataFrame({"patient_id": ["P1"], "sex": ["F"], "birth_date": [dt.date(1960, 1, 1)]})
    frame.write_parquet(root / "patients.parquet")
    data = (root / "patients.parquet").read_bytes()
    (root / "patients.parquet").write_bytes(data[: len(data) // 2])
    err = _error(root)
    assert err.table == "patients" and "cannot read patients.parquet" in str(err)


def test_csv_row_with_too_many_fields_names_the_row(tmp_path: Path) -> None:
    csv = csv_table(
        "patient_id,code,diagnosed_on", "P1,C90.0,2024-01-01", "P1,C90.0,2024-01-01,extra"
    )
    err = _error(write_registry(tmp_path / "r", {"diagnoses": csv}))
    assert err.table == "diagnoses" and err.row == 2
    assert "row 2" in str(err) and "diagnoses.csv" in str(err)


def test_empty_csv_file_is_unreadable(tmp_path: Path) -> None:
    err = _error(write_registry(tmp_path / "r", {"diagnoses": ""}))
    assert err.table == "diagnoses" and "diagnoses.csv" in str(err)


def test_csv_that_is_not_utf8(tmp_path: Path) -> None:
    root = write_registry(tmp_path / "r", {})
    (root / "lesions.csv").write_bytes(
        b"patient_id,imaged_on,site,longest_diameter_cm,bone_contiguous\n"
        b"P1,2024-01-01,f\xe9mur,2.5,false\n"
    )
    err = _error(root)
    assert err.table == "lesions" and "UTF-8" in str(err)


def test_two_files_for_one_table(tmp_path: Path) -> None:
    root = write_registry(tmp_path / "r", {})
    pl.read_csv(root / "patients.csv").write_parquet(root / "patients.parquet")
    err = _error(root)
    assert err.table == "patients" and "two files" in str(err)


def test_registry_error_is_a_feasibility_error() -> None:
    assert issubclass(RegistryError, FeasibilityError)


def test_cli_prints_one_line_naming_the_place_and_exits_2(tmp_path: Path) -> None:
    """A registry-reading command stops with exit 2 and one readable line, no traceback."""
    root = write_registry(
        tmp_path / "r",
        {
            "measurements": measurements_csv(
                ("anc", "1500", "/uL", "2024-01-01"), ("anc", "x", "/uL", "2024-01-01")
            )
        },
    )
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "feasibility.cli",
            "screen",
            "--data",
            str(root),
            "--protocol",
            "pomalidomide-ixazomib-dex",
            "--index-date",
            "2024-06-01",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error" in line]
    assert len(errors) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for part in ("'measurements'", "'value'", "row 2", "'x'"):
        assert part in errors[0]
    assert not (out / "patient_status.csv").exists()
