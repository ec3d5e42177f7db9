"""``feasibility validate`` through a subprocess: outputs, readiness, --fail-on exit codes."""

from __future__ import annotations

import subprocess
import sys

import polars as pl
import pytest
from _quality_helpers import INDEX, PATIENTS, write_boundary_registry


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "feasibility.cli", "validate", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def boundary(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli_reg")
    write_boundary_registry(root, lesions=True)
    return root


def test_writes_summary_and_readiness(boundary, tmp_path):
    out = tmp_path / "out"
    proc = _run(
        "--data", str(boundary), "--out", str(out),
        "--protocol", "pomalidomide-ixazomib-dex", "--index-date", INDEX,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = pl.read_csv(out / "validation_summary.csv")
    for col in ("table", "column", "expectation", "category", "severity", "status",
                "unexpected_count", "unexpected_percent", "criteria"):  # fmt: skip
        assert col in summary.columns
    assert "measurements.value.plausible[hemoglobin]" in summary.get_column("check").to_list()
    readiness = pl.read_csv(out / "criterion_readiness.csv")
    assert {"criterion", "label", "data_available_pct", "n_findings_error", "n_findings_warning",
            "worst_status", "fields"} <= set(readiness.columns)  # fmt: skip
    assert "hemoglobin" in readiness.get_column("criterion").to_list()
    rows = pl.read_csv(out / "validation_failing_rows.csv")
    assert {"check", "table", "row", "patient_id"} <= set(rows.columns)
    assert "checks:" in proc.stderr  # progress on stderr, nothing on stdout
    assert proc.stdout == ""


def test_fail_on_warning_exits_1_fail_on_error_exits_0(boundary, tmp_path):
    assert (
        _run(
            "--data", str(boundary), "--out", str(tmp_path / "a"), "--quiet", "--fail-on", "warning"
        ).returncode
        == 1
    )
    assert (
        _run(
            "--data", str(boundary), "--out", str(tmp_path / "b"), "--quiet", "--fail-on", "error"
        ).returncode
        == 0
    )
    assert (tmp_path / "a" / "validation_summary.csv").exists()


def test_fail_on_error_exits_1_on_a_repeated_patient_id(tmp_path):
    reg = tmp_path / "reg"
    write_boundary_registry(reg, extra_patients=PATIENTS.splitlines()[1] + "\n")  # P1 twice
    proc = _run("--data", str(reg), "--out", str(tmp_path / "out"), "--fail-on", "error")
    assert proc.returncode == 1
    assert "patients.patient_id.unique" in proc.stderr


def test_bad_registry_exits_2_with_a_message(tmp_path):
    (tmp_path / "reg").mkdir()
    proc = _run("--data", str(tmp_path / "reg"), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert "patients" in proc.stderr
    assert not (tmp_path / "out" / "validation_summary.csv").exists()


def test_event_mode_writes_readiness_coverage_and_stamps(boundary, tmp_path):
    out = tmp_path / "events"
    proc = _run(
        "--data", str(boundary), "--out", str(out),
        "--protocol", "isatuximab-pomalidomide-dex",
        "--index-events", "therapies", "--index-where", "line_number >= 1",
        "--index-from", "2023-01-01", "--index-to", "2023-12-31", "--quiet",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = pl.read_csv(out / "validation_summary.csv", infer_schema_length=None)
    assert summary.columns[:3] == ["check", "run_date", "index_settings"]
    assert summary.get_column("index_settings").unique().to_list() == [
        "mode=event; events table=therapies; where=line_number >= 1; from=2023-01-01; to=2023-12-31"
    ]
    for col in ("patients_affected", "tolerance_pct", "title", "affects", "tolerance_source"):
        assert col in summary.columns, col
    assert "mostly" not in summary.columns  # one percentage scale: 0-100
    cov = pl.read_csv(out / "coverage_by_month.csv", infer_schema_length=None)
    assert cov.columns == ["table", "selector", "month", "rows", "patients"]
    readiness = pl.read_csv(out / "criterion_readiness.csv", infer_schema_length=None)
    assert readiness.get_column("criterion").to_list()[:2] == [
        "alive_at_index",
        "myeloma_diagnosis",
    ]
    # only P1 (lines 1 and 2 in 2023) has an index event; P2's line is numbered 0
    assert readiness.get_column("screened").unique().to_list() == [1]


def test_event_options_without_events_exit_2(boundary, tmp_path):
    proc = _run("--data", str(boundary), "--out", str(tmp_path / "x"), "--index-from", "2023-01-01")
    assert proc.returncode == 2 and "--index-events" in proc.stderr
