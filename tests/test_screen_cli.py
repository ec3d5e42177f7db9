"""End-to-end: `feasibility screen` as a subprocess on a registry written as CSV files."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from _screen_helpers import INDEX, eligible_patient_rows, merge, patient

from feasibility.protocol import PROTOCOL_DIR
from feasibility.schema import TABLES

STATUS_COLS = [
    "patient_id", "index_date", "alive_at_index", "myeloma_diagnosis", "previously_treated",
    "measurable_disease", "extramedullary_disease", "plasma_cell_leukemia", "creatinine_clearance",
    "neutrophils", "platelets", "hemoglobin", "ecog", "pregnancy_test", "other_malignancy", "nursing",
    "concurrent_therapy", "peripheral_neuropathy", "major_surgery", "cyp_interacting_drugs",
    "cardiovascular", "qtc", "hiv", "hepatitis", "gi_absorption", "diarrhea", "eligible",
]  # fmt: skip
FUNNEL_COLS = ["step", "criterion", "label", "remaining", "remaining_with_unknown", "excluded"]


def write_registry(path: Path, tables: dict[str, list[dict]]) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for name, rows in tables.items():
        schema = TABLES[name]
        pl.DataFrame({c: [r.get(c) for r in rows] for c in schema}, schema=schema).write_csv(
            path / f"{name}.csv"
        )
    return path


@pytest.fixture
def registry(tmp_path) -> Path:
    ok = eligible_patient_rows("ok")
    ok["measurements"][-2] |= {"value": 110.0, "unit": "g/L"}  # hemoglobin in g/L: 11 g/dL
    low = eligible_patient_rows("low")
    for m in low["measurements"]:
        if m["test"] == "anc":
            m.update(value=0.8, unit="10^9/L")
    drug = eligible_patient_rows("drug", sex="F")
    drug["assessments"].append(
        {
            "patient_id": "drug",
            "item": "childbearing_potential",
            "value": "No",
            "assessed_on": INDEX,
        }
    )
    drug["medications"] = [
        {
            "patient_id": "drug",
            "drug": "Rifampicin",
            "route": None,
            "start_date": INDEX,
            "end_date": None,
        }
    ]
    tables = merge(ok, low, drug, {"patients": [patient("nodata", "U", dt.date(1950, 5, 5))]})
    tables.pop("procedures", None)  # an absent table: its criterion is unknown for everyone
    return write_registry(tmp_path / "reg", tables)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "feasibility.cli", "screen", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_screen_cli_writes_contract_outputs(registry, tmp_path):
    out = tmp_path / "out"
    proc = run_cli(
        "--data",
        str(registry),
        "--protocol",
        "pomalidomide-ixazomib-dex",
        "--index-date",
        "2024-06-30",
        "--out",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""  # progress goes to stderr
    assert "[screen]" in proc.stderr
    ps = pl.read_csv(out / "patient_status.csv", infer_schema=False)
    assert ps.columns == STATUS_COLS
    assert ps.height == 4
    rows = {r["patient_id"]: r for r in ps.iter_rows(named=True)}
    assert rows["ok"]["index_date"] == "2024-06-30"
    assert rows["ok"]["major_surgery"] == "unknown"  # procedures table absent
    assert rows["ok"]["hemoglobin"] == "pass"
    assert rows["low"]["neutrophils"] == "fail"
    assert rows["drug"]["cyp_interacting_drugs"] == "fail"
    assert rows["drug"]["pregnancy_test"] == "pass"
    assert rows["nodata"]["creatinine_clearance"] == "unknown"
    for r in rows.values():
        assert set(r.values()) - {r["patient_id"], r["index_date"]} <= {"pass", "fail", "unknown"}
    f = pl.read_csv(out / "funnel.csv")
    assert f.columns == FUNNEL_COLS
    assert f["criterion"][0] == "registry" and f["remaining"][0] == 4
    assert f.height == 23
    assert f["remaining"][-1] == 0  # major_surgery unknown for everyone
    assert f["remaining_with_unknown"][-1] == 1
    assert (out / "impact.csv").exists() and (out / "evidence.parquet").exists()


def test_screen_cli_event_mode_order_and_protocol_path(registry, tmp_path):
    out = tmp_path / "ev"
    proc = run_cli(
        "--data", str(registry),
        "--protocol", str(PROTOCOL_DIR / "pomalidomide-ixazomib-dex.yaml"),
        "--index-events", "therapies", "--index-where", "line_number >= 1",
        "--index-from", "2022-01-01", "--index-to", "2024-12-31",
        "--order", "neutrophils,hemoglobin",
        "--out", str(out),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    ps = pl.read_csv(out / "patient_status.csv", infer_schema=False)
    assert ps.columns[: len(STATUS_COLS) - 1] == STATUS_COLS[:-1] and ps.columns[-1] == "eligible"
    assert "index_event" in ps.columns
    f = pl.read_csv(out / "funnel.csv")
    assert f["criterion"].to_list()[:4] == ["registry", "neutrophils", "hemoglobin", "index_event"]
    nodata = ps.filter(pl.col("patient_id") == "nodata").row(0, named=True)
    assert nodata["index_event"] == "fail" and nodata["index_date"] is None


def test_screen_cli_help_explains_event_mode():
    proc = run_cli("--help")
    assert proc.returncode == 0
    for word in ("--index-events", "--index-where", "first index", "--order"):
        assert word in proc.stdout


@pytest.mark.parametrize(
    "breakage",
    ["no_patients", "bad_date", "missing_column"],
)
def test_bad_registry_exits_nonzero_without_outputs(registry, tmp_path, breakage):
    if breakage == "no_patients":
        (registry / "patients.csv").unlink()
    elif breakage == "bad_date":
        text = (registry / "diagnoses.csv").read_text().splitlines()
        text[2] = text[2].rsplit(",", 1)[0] + ",2024-13-45"
        (registry / "diagnoses.csv").write_text("\n".join(text) + "\n")
    else:
        df = pl.read_csv(registry / "measurements.csv").drop("measured_on")
        df.write_csv(registry / "measurements.csv")
    out = tmp_path / "out"
    proc = run_cli("--data", str(registry), "--index-date", "2024-06-30", "--out", str(out))
    assert proc.returncode != 0
    assert "error" in proc.stderr.lower()
    assert "Traceback" not in proc.stderr
    table = {"no_patients": "patients", "bad_date": "diagnoses", "missing_column": "measurements"}[
        breakage
    ]
    assert table in proc.stderr
    assert not out.exists() or not any(out.iterdir())


def test_bad_protocol_and_bad_where_exit_nonzero(registry, tmp_path):
    proc = run_cli(
        "--data",
        str(registry),
        "--protocol",
        "nope",
        "--index-date",
        "2024-06-30",
        "--out",
        str(tmp_path / "o"),
    )
    assert proc.returncode == 2 and "nope" in proc.stderr
    proc = run_cli(
        "--data",
        str(registry),
        "--index-events",
        "therapies",
        "--index-where",
        "lines >> 2",
        "--out",
        str(tmp_path / "o"),
    )
    assert proc.returncode == 2 and "index-where" in proc.stderr
    proc = run_cli(
        "--data",
        str(registry),
        "--index-date",
        "2024-06-30",
        "--order",
        "karnofsky",
        "--out",
        str(tmp_path / "o"),
    )
    assert proc.returncode == 2 and "karnofsky" in proc.stderr
    assert not (tmp_path / "o").exists()
