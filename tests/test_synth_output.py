"""Determinism, formats, the CLI, the committed sample, and loading through the registry loader."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from _synth_helpers import (
    defect_truth,
    read_defects,
    read_manifest,
    read_registry,
)

from feasibility.registry import load_registry
from feasibility.schema import TABLES
from feasibility.synth import generate_registry

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data_samples" / "registry"
SAMPLE_CSV = ROOT / "data_samples" / "registry_csv"


def _digests(directory: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.iterdir())
        if p.is_file()
    }


def test_same_seed_same_bytes_in_every_file(tmp_path):
    # Small chunks so several chunks (and the read-ahead thread) are exercised.
    a = generate_registry(1200, 3, tmp_path / "a", chunk_size=400)
    b = generate_registry(1200, 3, tmp_path / "b", chunk_size=400, workers=0)
    assert a == b
    da, db = _digests(tmp_path / "a"), _digests(tmp_path / "b")
    assert len(da) == len(TABLES) + 2
    assert da == db


def test_different_seed_differs(tmp_path):
    generate_registry(500, 3, tmp_path / "a")
    generate_registry(500, 4, tmp_path / "b")
    da, db = _digests(tmp_path / "a"), _digests(tmp_path / "b")
    for table in TABLES:
        assert da[f"{table}.parquet"] != db[f"{table}.parquet"], table


def test_csv_and_parquet_hold_the_same_registry(tmp_path):
    generate_registry(800, 21, tmp_path / "pq", format="parquet")
    generate_registry(800, 21, tmp_path / "csv", format="csv")
    pq, csv = read_registry(tmp_path / "pq"), read_registry(tmp_path / "csv")
    for table in TABLES:
        assert (tmp_path / "csv" / f"{table}.csv").exists()
        assert pq[table].equals(csv[table]), table
    assert read_defects(tmp_path / "pq").equals(read_defects(tmp_path / "csv"))
    header = (tmp_path / "csv" / "measurements.csv").read_text().splitlines()[0]
    assert header == "patient_id,test,value,unit,measured_on"
    # The record stays exact for CSV (row = 1-based data row, header excluded).
    rec = read_defects(tmp_path / "csv").select("table", "row", "defect")
    assert defect_truth(csv).equals(rec.sort(["table", "row", "defect"]))


def test_switching_format_leaves_one_registry(tmp_path):
    generate_registry(50, 1, tmp_path, format="csv")
    generate_registry(50, 1, tmp_path, format="parquet")
    assert not list(tmp_path.glob("*.csv"))[1:]  # only _defects.csv remains
    assert sorted(p.name for p in tmp_path.glob("*.csv")) == ["_defects.csv"]


def test_cli_help_and_run(tmp_path):
    help_ = subprocess.run([sys.executable, "-m", "feasibility.cli", "synth", "--help"],
                           capture_output=True, text=True, check=True)  # fmt: skip
    for option in ("--patients", "--seed", "--out", "--format", "--defects"):
        assert option in help_.stdout
    out = tmp_path / "cli"
    run = subprocess.run(
        [sys.executable, "-m", "feasibility.cli", "synth", "--patients", "200", "--seed", "8",
         "--out", str(out), "--format", "csv", "--defects", "heavy"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert run.stdout == ""  # progress goes to stderr
    assert "200 patients" in run.stderr
    manifest = read_manifest(out)
    assert (manifest["n_patients"], manifest["seed"], manifest["format"], manifest["defects"]) == (
        200, 8, "csv", "heavy")  # fmt: skip
    # Same as the Python API with the same arguments.
    generate_registry(200, 8, tmp_path / "api", format="csv", defects="heavy")
    assert _digests(out) == _digests(tmp_path / "api")


def test_output_path_that_is_a_file_is_a_clear_error(tmp_path):
    target = tmp_path / "afile"
    target.write_text("x")
    run = subprocess.run(
        [sys.executable, "-m", "feasibility.cli", "synth", "--patients", "5", "--seed", "1",
         "--out", str(target)], capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode == 2
    assert "not a directory" in run.stderr
    assert "Traceback" not in run.stderr


def test_cli_rejects_bad_arguments(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "feasibility.cli", "synth", "--patients", "0", "--seed", "1",
         "--out", str(tmp_path)], capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode == 2
    assert "--patients" in run.stderr


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_loader_reads_generated_registry(tmp_path, fmt):
    generate_registry(600, 13, tmp_path, format=fmt, defects="heavy")
    reg = load_registry(tmp_path)
    assert reg.present == frozenset(TABLES)
    assert reg.warnings == []
    n = reg.tables["patients"].select(pl.len()).collect().item()
    assert n == 600
    # The loader's own counts agree with the generator's record.
    manifest = read_manifest(tmp_path)
    aside = {(t, p): r for t, _c, p, r, *_ in reg.set_aside.iter_rows()}
    counts = manifest["defect_counts"]
    assert aside.get(("patients", "sex_outside_vocabulary"), 0) == counts["sex_outside_vocabulary"]
    assert aside.get(("measurements", "unit_outside_vocabulary"), 0) == counts[
        "unit_outside_vocabulary"]  # fmt: skip
    assert aside.get(("assessments", "unknown_item"), 0) == counts["unknown_assessment_item"]


@pytest.mark.parametrize("directory", [SAMPLE, SAMPLE_CSV], ids=["parquet", "csv"])
def test_committed_sample_loads_and_matches_its_command(tmp_path, directory):
    reg = load_registry(directory)
    assert reg.present == frozenset(TABLES)
    manifest = read_manifest(directory)
    assert manifest["defects"] == "realistic"
    # The committed files are exactly what the documented command produces today.
    generate_registry(manifest["n_patients"], manifest["seed"], tmp_path,
                      format=manifest["format"], defects=manifest["defects"],
                      setting=manifest["setting"])  # fmt: skip
    fresh, committed = read_registry(tmp_path), read_registry(directory)
    for table in TABLES:
        assert fresh[table].equals(committed[table]), f"{table}: regenerate data_samples"
    assert read_defects(tmp_path).equals(read_defects(directory))


def test_sample_sizes_and_readme():
    assert read_manifest(SAMPLE)["n_patients"] == 5000
    assert read_manifest(SAMPLE)["setting"] == "academic"
    assert 100 <= read_manifest(SAMPLE_CSV)["n_patients"] <= 1000
    total = sum(p.stat().st_size for p in (ROOT / "data_samples").rglob("*") if p.is_file())
    assert total < 20 * 2**20
    readme = (ROOT / "data_samples" / "README.md").read_text()
    for table, columns in TABLES.items():
        assert f"`{table}`" in readme, table
        for column in columns:
            assert f"`{column}`" in readme, (table, column)
    assert "feasibility synth --patients 5000 --seed 42" in readme


def test_sample_gives_a_screening_funnel_from_thousands_to_tens():
    """The committed sample is useful for screening: few but some eligible, some unknown."""
    import datetime as dt

    from feasibility.engine import IndexEvents, screen
    from feasibility.protocol import load_protocol

    reg = load_registry(SAMPLE)
    protocol = load_protocol("pomalidomide-ixazomib-dex")
    fixed = screen(reg, protocol, index_date=dt.date(2024, 6, 30)).funnel()
    events = screen(
        reg,
        protocol,
        index_date=IndexEvents(table="therapies", where="line_number >= 2",
                               start=dt.date(2022, 1, 1), end=dt.date(2024, 12, 31)),
    ).funnel()  # fmt: skip
    for funnel in (fixed, events):
        rows = dict(zip(funnel["criterion"], funnel["remaining"], strict=True))
        assert rows["registry"] == 5000
        assert rows["previously_treated"] > 1000
        # Tens of patients with measurable (extramedullary or leukaemic) disease.
        assert 10 <= rows["measurable_disease"] <= 200, funnel
        # Missing labs leave some patients unknown rather than failed.
        assert funnel["remaining_with_unknown"][-1] > funnel["remaining"][-1]
    # At relapse work-ups (event mode) the data is there: some patients are eligible.
    # At one fixed date few have every test (ECG, ECOG, weight) in its window, so the
    # fixed funnel may end at zero eligible with many unknown.
    assert 10 <= events["remaining"][-1] <= 100, events
    assert fixed["remaining"][-1] <= events["remaining"][-1]
