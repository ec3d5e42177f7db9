"""Loading a registry directory: absent tables, CSV and Parquet alike, extra columns and
files, raw frames, fingerprint and progress (contract section 1, ARCHITECTURE "Registry loader")."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import polars as pl
import pytest
from _registry_helpers import (
    PATIENTS_CSV,
    csv_table,
    measurements_csv,
    patients_frame,
    write_registry,
)

from feasibility.registry import Registry, load_registry
from feasibility.schema import TABLES

ALL_TABLES = {
    "diagnoses": csv_table("patient_id,code,diagnosed_on", "P1,C90.0,2024-01-01"),
    "measurements": measurements_csv(
        ("hemoglobin", "95", "g/L", "2024-01-01"), ("anc", "1.2", "10^9/L", "2024-01-02")
    ),
    "assessments": csv_table("patient_id,item,value,assessed_on", "P1,ecog,1,2024-01-01"),
    "medications": csv_table(
        "patient_id,drug,route,start_date,end_date", "P1,Rifampicin,oral,2024-01-01,"
    ),
    "procedures": csv_table("patient_id,category,performed_on", "P1,radiotherapy,2024-01-01"),
    "lesions": csv_table(
        "patient_id,imaged_on,site,longest_diameter_cm,bone_contiguous",
        "P1,2024-01-01,liver,2.5,no",
    ),
    "therapies": csv_table(
        "patient_id,line_number,regimen,start_date,end_date,investigational",
        "P1,1,VRd,2023-01-01,,no",
    ),
}


def test_only_patients_all_other_tables_empty_and_typed(tmp_path: Path) -> None:
    reg = load_registry(write_registry(tmp_path / "r", {}))
    assert isinstance(reg, Registry)
    assert reg.present == frozenset({"patients"})
    assert set(reg.tables) == set(TABLES) and set(reg.raw) == set(TABLES)
    assert reg.has("patients") and not reg.has("measurements")
    full = load_registry(write_registry(tmp_path / "full", ALL_TABLES))
    for name in TABLES:
        assert name in full.present
        if name == "patients":
            continue
        empty = reg.tables[name].collect()
        assert empty.is_empty()
        # an absent table has exactly the schema a present one has
        assert empty.schema == full.tables[name].collect_schema(), name
        for column, dtype in TABLES[name].items():
            assert column in empty.columns
            if dtype in (pl.Date, pl.Float64, pl.Int64, pl.Boolean):
                assert empty.schema[column] == dtype
        raw = reg.raw[name].collect()
        assert raw.is_empty() and "_row" in raw.columns


def test_csv_and_parquet_load_the_same(tmp_path: Path) -> None:
    csv_root = write_registry(tmp_path / "csv", ALL_TABLES)
    pq_root = tmp_path / "pq"
    pq_root.mkdir()
    for file in csv_root.glob("*.csv"):
        pl.read_csv(file, infer_schema=False).write_parquet(pq_root / f"{file.stem}.parquet")
    a, b = load_registry(csv_root), load_registry(pq_root)
    for name in TABLES:
        left, right = a.tables[name].collect(), b.tables[name].collect()
        assert left.equals(right), name
        assert a.raw[name].collect().equals(b.raw[name].collect()), name


def test_parquet_with_native_types_and_datetimes(tmp_path: Path) -> None:
    patients = patients_frame(2).with_columns(
        pl.col("birth_date").cast(pl.Datetime("us")) + pl.duration(hours=13),
    )
    measurements = pl.DataFrame(
        {
            "patient_id": ["P1"],
            "test": ["qtc"],
            "value": pl.Series([450], dtype=pl.Int32),
            "unit": ["ms"],
            "measured_on": [dt.datetime(2024, 1, 1, 23, 59)],
        }
    )
    reg = load_registry(
        write_registry(
            tmp_path / "r", {"patients": patients, "measurements": measurements}, "parquet"
        )
    )
    pts = reg.tables["patients"].collect()
    assert pts["birth_date"].dtype == pl.Date
    assert pts["birth_date"].to_list() == [dt.date(1950, 1, 1), dt.date(1951, 1, 1)]
    m = reg.tables["measurements"].collect()
    assert m["measured_on"].to_list() == [dt.date(2024, 1, 1)]
    assert m["value"].to_list() == [450.0]


def test_extra_columns_are_kept_in_raw_and_ignored(tmp_path: Path) -> None:
    csv = csv_table("patient_id,code,diagnosed_on,source_system,note", "P1,C90.0,2024-01-01,emr,x")
    reg = load_registry(write_registry(tmp_path / "r", {"diagnoses": csv}))
    raw = reg.raw["diagnoses"].collect()
    assert raw["source_system"].to_list() == ["emr"] and raw["note"].to_list() == ["x"]
    assert reg.tables["diagnoses"].collect()["code"].to_list() == ["C900"]


def test_header_names_match_after_trim_and_case(tmp_path: Path) -> None:
    csv = csv_table("Patient_ID, Code ,DIAGNOSED_ON", "P1,C90.0,2024-01-01")
    reg = load_registry(write_registry(tmp_path / "r", {"diagnoses": csv}))
    assert reg.tables["diagnoses"].collect()["code"].to_list() == ["C900"]


def test_unknown_table_is_a_warning_and_metadata_is_ignored(tmp_path: Path) -> None:
    root = write_registry(
        tmp_path / "r", {"labs_extra": "a,b\n1,2\n", "_defects": "table,row\nx,1\n"}
    )
    (root / "_manifest.json").write_text("{}")
    (root / "notes.txt").write_text("hello")
    (root / ".DS_Store").write_bytes(b"\0")
    reg = load_registry(root)
    assert reg.present == frozenset({"patients"})
    assert len(reg.warnings) == 2
    assert any("labs_extra.csv" in w for w in reg.warnings)
    assert any("notes.txt" in w for w in reg.warnings)
    assert not any("_defects" in w or "_manifest" in w or "DS_Store" in w for w in reg.warnings)


def test_raw_is_typed_values_as_given_with_row_numbers(tmp_path: Path) -> None:
    rows = [
        ("Hemoglobin ", "95", "g/L", "2024-01-01"),
        ("hemoglobin", "95", "mmol/L", "2024-01-01"),
    ] * 2
    reg = load_registry(write_registry(tmp_path / "r", {"measurements": measurements_csv(*rows)}))
    raw = reg.raw["measurements"].collect()
    assert raw["_row"].to_list() == [1, 2, 3, 4]
    assert raw["test"].to_list() == ["Hemoglobin ", "hemoglobin"] * 2
    assert raw["unit"].to_list() == ["g/L", "mmol/L"] * 2
    assert raw["measured_on"].dtype == pl.Date and raw["value"].dtype == pl.Float64
    assert isinstance(reg.raw["measurements"], pl.LazyFrame)
    assert isinstance(reg.tables["measurements"], pl.LazyFrame)
    assert reg.tables["measurements"].collect()["_row"].to_list() == [1]


def test_patient_ids(tmp_path: Path) -> None:
    reg = load_registry(write_registry(tmp_path / "r", {}))
    assert reg.patient_ids.collect()["patient_id"].to_list() == ["P1", "P2"]


def test_patient_ids_with_outer_spaces_are_trimmed_in_every_table(tmp_path: Path) -> None:
    patients = csv_table("patient_id,sex,birth_date", '" P1 ",F,1960-01-01')
    diagnoses = csv_table("patient_id,code,diagnosed_on", '"P1 ",C90.0,2024-01-01')
    reg = load_registry(
        write_registry(tmp_path / "r", {"patients": patients, "diagnoses": diagnoses})
    )
    assert reg.patient_ids.collect()["patient_id"].to_list() == ["P1"]
    assert reg.tables["diagnoses"].collect()["patient_id"].to_list() == ["P1"]
    assert reg.raw["diagnoses"].collect()["patient_id"].to_list() == ["P1 "]


def test_fingerprint_stable_and_sensitive(tmp_path: Path) -> None:
    root = write_registry(tmp_path / "r", ALL_TABLES)
    first = load_registry(root).fingerprint
    assert len(first) == 64 and int(first, 16) >= 0
    assert load_registry(root).fingerprint == first
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    assert load_registry(copy).fingerprint == first, "the path is not part of the fingerprint"
    (copy / "_manifest.json").write_text("{}")
    (copy / "unknown.csv").write_text("a\n1\n")
    assert load_registry(copy).fingerprint == first, "only table files count"
    (copy / "diagnoses.csv").write_text(
        csv_table("patient_id,code,diagnosed_on", "P1,C90.1,2024-01-01")
    )
    assert load_registry(copy).fingerprint != first
    (copy / "diagnoses.csv").unlink()
    assert load_registry(copy).fingerprint != first


def test_progress_goes_to_stderr_and_default_is_quiet(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = write_registry(tmp_path / "r", {**ALL_TABLES, "extra": "a\n1\n"})
    load_registry(root)
    quiet = capsys.readouterr()
    assert quiet.out == "" and quiet.err == ""
    load_registry(root, progress=True)
    loud = capsys.readouterr()
    assert loud.out == ""
    lines = loud.err.strip().splitlines()
    assert any(line.strip().startswith("measurements: 2 rows") for line in lines)
    assert any("warning" in line and "extra.csv" in line for line in lines)
    assert len(lines) <= 12


def test_set_aside_schema_when_clean(tmp_path: Path) -> None:
    reg = load_registry(write_registry(tmp_path / "r", ALL_TABLES))
    assert reg.set_aside.is_empty()
    assert reg.set_aside.columns == [
        "table",
        "column",
        "problem",
        "rows",
        "example_rows",
        "example_values",
    ]
    assert reg.set_aside.schema["rows"] == pl.Int64


def test_set_aside_examples_are_capped(tmp_path: Path) -> None:
    rows = [("hemoglobin", "9", f"unit{i}", "2024-01-01") for i in range(12)]
    reg = load_registry(write_registry(tmp_path / "r", {"measurements": measurements_csv(*rows)}))
    record = reg.set_aside.row(0, named=True)
    assert record["rows"] == 12
    assert record["example_rows"] == "1, 2, 3, 4, 5"
    assert len(record["example_values"].split(", ")) == 5


def test_string_path_and_patients_only_csv(tmp_path: Path) -> None:
    root = tmp_path / "r"
    root.mkdir()
    (root / "patients.csv").write_text(PATIENTS_CSV)
    reg = load_registry(str(root))
    assert reg.path == root
    assert reg.tables["patients"].collect().height == 2


def test_csv_with_byte_order_mark_and_windows_line_endings(tmp_path: Path) -> None:
    root = write_registry(tmp_path / "r", {})
    (root / "diagnoses.csv").write_bytes(
        "\ufeffpatient_id,code,diagnosed_on\r\nP1,c90.0,2024-01-01\r\nP2,C90.1,2024-01-02\r\n".encode()
    )
    out = load_registry(root).tables["diagnoses"].collect()
    assert out["patient_id"].to_list() == ["P1", "P2"]
    assert out["code"].to_list() == ["C900", "C901"]
    assert out["diagnosed_on"].to_list() == [dt.date(2024, 1, 1), dt.date(2024, 1, 2)]


def test_header_only_csv_is_a_present_empty_table(tmp_path: Path) -> None:
    reg = load_registry(
        write_registry(
            tmp_path / "r",
            {"lesions": csv_table("patient_id,imaged_on,site,longest_diameter_cm,bone_contiguous")},
        )
    )
    assert reg.has("lesions")
    assert reg.tables["lesions"].collect().is_empty()
    assert reg.tables["lesions"].collect_schema()["bone_contiguous"] == pl.Boolean


def test_vocabulary_columns_filter_with_plain_strings(tmp_path: Path) -> None:
    """test/unit/item/value are Enums in memory; consumers still filter them with strings."""
    reg = load_registry(write_registry(tmp_path / "r", ALL_TABLES))
    m = reg.tables["measurements"]
    assert m.filter(pl.col("test") == "hemoglobin").collect()["value"].to_list() == [9.5]
    assert m.filter(pl.col("test").is_in(["anc", "ldh"])).collect()["value"].to_list() == [1200.0]
    assert m.filter(pl.col("unit") == "g/dL").collect().height == 1
    a = reg.tables["assessments"]
    assert a.filter((pl.col("item") == "ecog") & (pl.col("value") <= "2")).collect().height == 1
    assert m.collect()["test"].cast(pl.String).to_list() == ["hemoglobin", "anc"]


def test_mapping_through_distinct_values_when_the_process_has_many_categories(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fallback used when process-wide categories are too many gives the same tables."""
    from feasibility.registry import _normalise

    root = write_registry(tmp_path / "r", ALL_TABLES)
    expected = {name: lf.collect() for name, lf in load_registry(root).tables.items()}
    monkeypatch.setattr(_normalise, "_MAX_GLOBAL_CATEGORIES", 0)
    again = load_registry(root)
    for name, frame in expected.items():
        assert again.tables[name].collect().equals(frame), name


def test_parquet_integer_ids_and_categorical_text(tmp_path: Path) -> None:
    """Ids stored as integers become strings; categorical text columns read like strings."""
    patients = pl.DataFrame(
        {
            "patient_id": [1, 2],
            "sex": pl.Series(["F", "x"], dtype=pl.Categorical),
            "birth_date": [dt.date(1960, 1, 1), dt.date(1961, 1, 1)],
        }
    )
    measurements = pl.DataFrame(
        {
            "patient_id": [1],
            "test": pl.Series(["Hemoglobin"], dtype=pl.Categorical),
            "value": [120.0],
            "unit": pl.Series(["g/L"], dtype=pl.Categorical),
            "measured_on": [dt.date(2024, 1, 1)],
        }
    )
    reg = load_registry(
        write_registry(
            tmp_path / "r", {"patients": patients, "measurements": measurements}, "parquet"
        )
    )
    pts = reg.tables["patients"].collect()
    assert pts["patient_id"].to_list() == ["1", "2"]
    assert pts["sex"].to_list() == ["F", None]
    m = reg.tables["measurements"].collect()
    assert m["patient_id"].to_list() == ["1"] and m["value"].to_list() == pytest.approx([12.0])
    assert reg.set_aside["problem"].to_list() == ["sex_outside_vocabulary"]
