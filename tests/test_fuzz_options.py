"""Odd options and event-mode misuse (issue 10 points 1 and 4): every one ends with exit 2,
exactly one line on stderr naming the option, and no output directory -- checked before
any data is read (the registry given does not even exist unless the case needs one)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest
from _registry_helpers import csv_table, write_registry

from feasibility.cli import main

FIXED = ["--index-date", "2024-06-30"]
EVENTS = ["--index-events", "therapies"]


def _run(argv: list[str], capsys) -> tuple[int, list[str]]:
    code = main(argv)
    err = capsys.readouterr().err
    return code, [line for line in err.splitlines() if line.strip()]


@pytest.mark.parametrize(
    ("command", "extra", "names"),
    [
        ("screen", ["--index-date", "0001-01-01"], "--index-date"),
        ("screen", ["--index-date", "9999-12-31"], "--index-date"),
        ("screen", ["--index-date", "2024-02-30"], "--index-date"),
        ("report", ["--index-date", "0001-01-01"], "--index-date"),
        ("validate", ["--index-date", "0001-01-01"], "--index-date"),
        ("screen", [*EVENTS, "--index-column", "nosuch"], "--index-column"),
        ("screen", [*EVENTS, "--index-column", "patient_id"], "--index-column"),
        ("screen", [*EVENTS, "--index-column", "line_number"], "--index-column"),
        (
            "screen",
            [*EVENTS, "--index-from", "2024-12-31", "--index-to", "2024-01-01"],
            "--index-from",
        ),
        (
            "report",
            [*EVENTS, "--index-from", "2024-12-31", "--index-to", "2024-01-01"],
            "--index-from",
        ),
        ("screen", [*EVENTS, "--index-where", "line_number => 2"], "--index-where"),
        ("screen", [*EVENTS, "--index-where", "line_number >= two"], "--index-where"),
        (
            "screen",
            [*EVENTS, "--index-where", "line_number >= 99999999999999999999"],
            "--index-where",
        ),
        ("screen", [*EVENTS, "--index-where", "nosuch == 1"], "--index-where"),
        ("screen", [*EVENTS, "--index-where", "   "], "--index-where"),
        ("screen", [*EVENTS, "--index-where", "start_date >= 2024-13-01"], "--index-where"),
        ("screen", ["--index-events", "nosuch"], "--index-events"),
        ("screen", ["--index-events", "patients"], "--index-events"),
        ("screen", [*FIXED, "--index-where", "line_number >= 2"], "--index-events"),
        ("screen", [*FIXED, "--order", "nosuch_step"], "--order"),
        ("report", [*FIXED, "--suppression-threshold", "-3"], "--suppression-threshold"),
        ("screen", [*FIXED, "--bogus"], "--bogus"),
        ("screen", [], "--index-date"),
    ],
)
def test_bad_options_stop_before_reading_data(tmp_path, capsys, command, extra, names):
    out = tmp_path / "out"
    argv = [command, "--data", str(tmp_path / "no-such-registry"), "--out", str(out), "--quiet"]
    code, lines = _run(argv + extra, capsys)
    assert code == 2
    assert len(lines) == 1, lines
    assert names in lines[0], lines
    assert "no-such-registry" not in lines[0], "options are checked before the data"
    assert not out.exists()


@pytest.mark.parametrize(
    ("extra", "names"),
    [
        (["--seed", "-5"], "--seed"),
        (["--seed", "x"], "--seed"),
        (["--seed", str(2**64)], "--seed"),
        (["--patients", "0"], "--patients"),
        (["--patients", "10000000000"], "--patients"),
    ],
)
def test_bad_synth_options(tmp_path, capsys, extra, names):
    argv = ["synth", "--out", str(tmp_path / "reg"), "--quiet"]
    base = {"--seed": "1", "--patients": "5"}
    for key in base:
        if key not in extra:
            argv += [key, base[key]]
    code, lines = _run(argv + extra, capsys)
    assert code == 2 and len(lines) == 1 and names in lines[0], lines
    assert not (tmp_path / "reg").exists()


def test_synth_out_naming_a_file(tmp_path, capsys):
    target = tmp_path / "file"
    target.write_text("x")
    code, lines = _run(
        ["synth", "--patients", "3", "--seed", "1", "--out", str(target), "--quiet"], capsys
    )
    assert code == 2 and len(lines) == 1 and "--out" in lines[0]


# ------------------------------------------------------------------ event mode, with data


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    therapies = csv_table(
        "patient_id,line_number,regimen,start_date,end_date,investigational",
        "P1,1,VRd,2022-01-01,2022-06-01,false",
        "P1,2,KRd,2023-03-01,,false",
    )
    return write_registry(tmp_path / "reg", {"therapies": therapies})


@pytest.mark.parametrize("command", ["screen", "report"])
@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--index-events", "lesions"], "no lesions table"),
        (
            [*EVENTS, "--index-where", "line_number >= 5"],
            "no row qualifies",
        ),
        (
            [*EVENTS, "--index-from", "2030-01-01", "--index-to", "2030-12-31"],
            "no row qualifies",
        ),
    ],
)
def test_event_mode_never_fails_everyone_silently(tmp_path, capsys, registry, command, extra, says):
    """Issue 10 point 4: an absent events table or a window no event falls into is an
    error naming the option, not a screen where everyone fails index_event."""
    out = tmp_path / "out"
    argv = [command, "--data", str(registry), "--out", str(out), "--quiet", "--no-validation"]
    if command == "screen":
        argv.remove("--no-validation")
    code, lines = _run(argv + extra, capsys)
    assert code == 2 and len(lines) == 1, lines
    assert says in lines[0] and "--index-events" in lines[0]
    assert not out.exists()


def test_event_mode_with_a_qualifying_event_runs(tmp_path, capsys, registry):
    out = tmp_path / "out"
    code, _ = _run(
        ["screen", "--data", str(registry), "--out", str(out), "--quiet", *EVENTS,
         "--index-where", "line_number >= 2", "--index-from", "2023-01-01",
         "--index-to", "2023-12-31"],
        capsys,
    )  # fmt: skip
    assert code == 0 and (out / "patient_status.csv").exists()


def test_subprocess_error_is_one_line_without_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "feasibility.cli", "screen", "--data", str(tmp_path),
         "--out", str(tmp_path / "o"), "--index-date", "0001-01-01"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "Traceback" not in proc.stderr


def test_validate_progress_lines_are_whole_and_in_order(tmp_path):
    """Issue 10: validate's progress lines never interleave -- every table is read before
    validation starts (no deferred table loading mid-way on another thread), and each
    line is one of the known kinds."""
    from feasibility.synth import generate_registry

    root = tmp_path / "reg"
    generate_registry(20, 4, root, format="parquet", defects="realistic")
    proc = subprocess.run(
        [sys.executable, "-m", "feasibility.cli", "validate", "--data", str(root),
         "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    start = lines.index("[validate] validating")
    loader = lines[:start]
    assert loader[0].startswith("loading registry") and loader[-1].startswith("registry loaded")
    assert not any(" rows from " in line for line in lines[start:]), "a table loaded mid-way"
    kinds = ("loading registry", "registry loaded", "  ", "[validate] ")
    assert all(line.startswith(kinds) for line in lines), lines


@pytest.mark.parametrize(
    "kwargs",
    [
        {"start": dt.date(2024, 2, 1), "end": dt.date(2024, 1, 1)},
        {"where": "line_number => 2"},
        {"date_column": "regimen"},
        {"table": "nosuch"},
    ],
)
def test_python_api_index_events_refused_at_construction(kwargs):
    """The Python API refuses the event settings the CLI refuses (issue 10 point 4)."""
    from feasibility.engine import IndexEvents
    from feasibility.errors import FeasibilityError

    with pytest.raises(FeasibilityError):
        IndexEvents(**{"table": "therapies", **kwargs})
