"""Round trip: ``feasibility synth --format omop`` screens exactly like the native registry.

A few thousand synthetic patients (realistic defects) are generated twice with the same
seed: natively, and through the CLI as an OMOP CDM database. Both myeloma protocols, at a
fixed index date and in event mode, must give the same patient_status (patients matched
through ``person.person_source_value``).
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from feasibility.engine import IndexEvents, screen
from feasibility.protocol import load_protocol
from feasibility.registry import load_registry
from feasibility.synth import generate_registry

N = 3000
SEED = 11
ROOT = Path(__file__).parent.parent
PROTOCOLS = ("pomalidomide-ixazomib-dex", "isatuximab-pomalidomide-dex")
INDEXES = {
    "fixed": dt.date(2024, 6, 30),
    "event": IndexEvents(
        "therapies", where="line_number >= 2", start=dt.date(2022, 1, 1), end=dt.date(2024, 12, 31)
    ),
}


@pytest.fixture(scope="module")
def registries(tmp_path_factory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("omop_roundtrip")
    native, omop = base / "native", base / "omop"
    generate_registry(N, SEED, native, format="parquet", defects="realistic")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [sys.executable, "-m", "feasibility.cli", "synth", "--patients", str(N), "--seed",
         str(SEED), "--out", str(omop), "--format", "omop", "--quiet"],
        capture_output=True, text=True, env=env, timeout=900,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    return native, omop


def _by_source_id(status: pl.DataFrame, omop: Path) -> pl.DataFrame:
    """patient_status of the OMOP screen with the registry's patient ids."""
    person = pl.read_parquet(omop / "person.parquet", columns=["person_id", "person_source_value"])
    ids = person.select(
        pl.col("person_id").cast(pl.String).alias("patient_id"), "person_source_value"
    )
    out = status.join(ids, on="patient_id", how="left")
    assert out["person_source_value"].null_count() == 0
    return out.drop("patient_id").rename({"person_source_value": "patient_id"})


def test_export_is_an_omop_database(registries) -> None:
    _native, omop = registries
    files = {p.name for p in omop.iterdir()}
    for table in ("person", "condition_occurrence", "measurement", "observation",
                  "drug_exposure", "procedure_occurrence", "episode", "death",
                  "observation_period", "concept", "concept_relationship", "concept_ancestor"):  # fmt: skip
        assert f"{table}.parquet" in files, table
    person = pl.read_parquet(omop / "person.parquet")
    assert person.height == N
    assert set(person["gender_concept_id"].unique()) <= {8507, 8532, 8551, 0}
    concept = pl.read_parquet(omop / "concept.parquet")
    used = pl.read_parquet(omop / "measurement.parquet")["measurement_concept_id"].unique()
    assert set(used) <= set(concept["concept_id"])  # every concept it uses has a row
    assert {"ICD10CM", "LOINC", "UCUM", "Gender"} <= set(concept["vocabulary_id"])


@pytest.mark.parametrize("protocol_id", PROTOCOLS)
@pytest.mark.parametrize("mode", sorted(INDEXES))
def test_patient_status_identical(registries, protocol_id: str, mode: str) -> None:
    native_dir, omop_dir = registries
    native, omop = load_registry(native_dir), load_registry(omop_dir)
    assert type(omop).__name__ == "OmopRegistry"
    protocol = load_protocol(protocol_id)
    a = screen(native, protocol, INDEXES[mode]).patient_status
    b = _by_source_id(screen(omop, protocol, INDEXES[mode]).patient_status, omop_dir)
    b = b.select(a.columns)
    assert a.height == N
    # the screen decides things both ways: not an all-unknown comparison
    statuses = set(a.select(pl.exclude("patient_id", "index_date")).unpivot()["value"].unique())
    assert {"pass", "fail", "unknown"} <= statuses
    assert a.sort("patient_id").equals(b.sort("patient_id"))


def test_duckdb_export_reads_back(registries, tmp_path: Path) -> None:
    """The same registry as one DuckDB file (optional extra `omop`)."""
    pytest.importorskip("duckdb")
    from feasibility.omop import write_omop

    native_dir, _omop = registries
    native = load_registry(native_dir)
    write_omop(native, tmp_path, format="duckdb")
    db = tmp_path / "cdm.duckdb"
    omop = load_registry(db)
    protocol = load_protocol(PROTOCOLS[0])
    a = screen(native, protocol, INDEXES["fixed"]).patient_status
    status = screen(omop, protocol, INDEXES["fixed"]).patient_status
    import duckdb

    from feasibility.omop.source import fetch_arrow

    con = duckdb.connect(str(db), read_only=True)
    try:
        person = pl.from_arrow(
            fetch_arrow(
                con, "select person_id::varchar as patient_id, person_source_value from person"
            )
        )
    finally:
        con.close()
    b = status.join(person, on="patient_id").drop("patient_id")
    b = b.rename({"person_source_value": "patient_id"}).select(a.columns)
    assert a.sort("patient_id").equals(b.sort("patient_id"))


def test_csv_export_reads_back(registries, tmp_path: Path) -> None:
    """The same registry as OMOP CSV tables (text dates and numbers typed by the reader)."""
    from feasibility.omop import write_omop

    native_dir, _omop = registries
    native = load_registry(native_dir)
    write_omop(native, tmp_path / "csv", format="csv")
    omop = load_registry(tmp_path / "csv")
    protocol = load_protocol(PROTOCOLS[1])
    a = screen(native, protocol, INDEXES["fixed"]).patient_status
    person = pl.read_csv(
        tmp_path / "csv" / "person.csv", columns=["person_id", "person_source_value"]
    )
    ids = person.select(
        pl.col("person_id").cast(pl.String).alias("patient_id"), "person_source_value"
    )
    b = screen(omop, protocol, INDEXES["fixed"]).patient_status.join(ids, on="patient_id")
    b = b.drop("patient_id").rename({"person_source_value": "patient_id"}).select(a.columns)
    assert a.sort("patient_id").equals(b.sort("patient_id"))
