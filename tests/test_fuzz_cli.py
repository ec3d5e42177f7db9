"""Fuzz the commands with damaged registries (issue 10 point 6).

Hypothesis draws a mix of damage (``tests/_fuzz_helpers.py``) onto a tiny clean synthetic
registry, writes it as CSV or Parquet and runs ``screen``, ``report`` and ``validate``
through ``feasibility.cli.main`` (a few runs go through a subprocess). Every run must
end in exit 0 with complete outputs, or exit 2 with exactly one line on stderr and no
output directory; never a traceback or the last-resort "unexpected" line. Value-level
damage alone must not stop anything (exit 0), each planted value must be counted as set
aside, and every patient is screened exactly once with statuses pass/fail/unknown only.
Registries are ~25 patients and the example counts small, so the file runs in about a
minute (validation, the slow part, gets the fewest examples).
"""

from __future__ import annotations

import random
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import polars as pl
import pytest
from _fuzz_helpers import DAMAGES, STRUCTURAL, Damaged, clean_is_plausible, load_frames
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from feasibility.cli import UNEXPECTED, main
from feasibility.registry import load_registry
from feasibility.synth import generate_registry

STATUSES = {"pass", "fail", "unknown"}
FIXED = ["--index-date", "2024-06-30"]
EVENTS = ["--index-events", "therapies", "--index-where", "line_number >= 2",
          "--index-from", "2000-01-01", "--index-to", "2030-12-31"]  # fmt: skip


def fuzz(examples: int) -> settings:
    """Few examples, no deadline, the same examples every run (CI stays predictable)."""
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: the plan is in the message
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> dict[str, pl.DataFrame]:
    root = tmp_path_factory.mktemp("clean")
    generate_registry(25, 20261202, root, format="parquet", defects="none")
    frames = load_frames(root)
    assert clean_is_plausible(frames), "the base registry must hold no implausible value"
    assert frames["therapies"].filter(pl.col("line_number") >= 2).height, "event mode needs one"
    return frames


damage_plan = st.fixed_dictionaries(
    {
        "fmt": st.sampled_from(["csv", "parquet"]),
        "value": st.lists(st.sampled_from(sorted(DAMAGES)), max_size=4),
        "structural": st.lists(st.sampled_from(sorted(STRUCTURAL)), max_size=1),
        "seed": st.integers(0, 2**31),
        "events": st.booleans(),
    }
)


def _build(clean: dict[str, pl.DataFrame], plan: dict) -> Damaged:
    damaged = Damaged(
        {t: df.clone() for t, df in clean.items()}, plan["fmt"], random.Random(plan["seed"])
    )
    for name in plan["value"]:
        DAMAGES[name](damaged)
    for name in plan["structural"]:
        STRUCTURAL[name](damaged)
    return damaged


def _expect_refusal(damaged: Damaged, plan: dict) -> bool | None:
    """True: must exit 2; False: must exit 0; None: either (corrupt bytes)."""
    if damaged.structural:
        return True
    if plan["events"] and "therapies" not in damaged.frames:
        return True  # event mode without its events table
    if damaged.maybe_structural:
        return None
    return False


def _run(argv: list[str], capsys) -> tuple[int, list[str]]:
    code = main(argv)
    err = capsys.readouterr().err
    return code, [line for line in err.splitlines() if line.strip()]


def _check_exit(code: int, lines: list[str], out: Path, expect: bool | None, label: str) -> None:
    assert code in (0, 2), (label, code, lines)
    assert not any(UNEXPECTED in line for line in lines), (label, lines)
    assert not any("Traceback" in line for line in lines), (label, lines)
    if expect is not None:
        assert (code == 2) == expect, (label, lines)
    if code == 2:
        assert len(lines) == 1, (label, lines)
        assert lines[0].startswith("feasibility "), lines
        assert not out.exists(), f"{label}: outputs left after exit 2"


def _check_status(path: Path, damaged: Damaged, events: bool) -> None:
    ps = pl.read_csv(path, infer_schema=False)
    ids = ps["patient_id"].to_list()
    assert len(ids) == len(set(ids)), "a patient screened twice"
    assert set(ids) == damaged.expected_patients(), "every patient screened once"
    criteria = [c for c in ps.columns if c not in ("patient_id", "index_date")]
    for column in criteria:
        values = set(ps[column].to_list())
        if column == "index_event":
            values = {"pass" if v in ("true", "pass") else "fail" for v in values}
        assert values <= STATUSES, (column, values)
    if ("patients", "death_date") in damaged.dropped_columns:
        assert set(ps["alive_at_index"]) == {"unknown"}, "missing death_date is never alive"


def _check_counts(root: Path, damaged: Damaged) -> None:
    reg = load_registry(root)
    sa = reg.set_aside
    got = {
        (r["table"], r["column"], r["problem"]): r["rows"]
        for r in sa.iter_rows(named=True)
        if r["problem"] in ("implausible_value", "blank_patient_id", "conflicting_duplicate")
    }
    assert got == dict(damaged.expected_set_aside()), (got, damaged.expected_set_aside())
    for rec in reg.row_accounting().iter_rows(named=True):
        reasons = reg.rows_set_aside(rec["table"])
        assert "other" not in reasons
        assert rec["rows_read"] == rec["rows_used"] + sum(reasons.values()), rec


@fuzz(40)
@given(plan=damage_plan)
def test_screen_on_damaged_registries(clean, capsys, plan):
    damaged = _build(clean, plan)
    with tempfile.TemporaryDirectory() as tmp:
        root = damaged.write(Path(tmp) / "reg")
        out = Path(tmp) / "out"
        index = EVENTS if plan["events"] else FIXED
        code, lines = _run(
            ["screen", "--data", str(root), "--out", str(out), "--quiet", *index], capsys
        )
        expect = _expect_refusal(damaged, plan)
        _check_exit(code, lines, out, expect, f"screen {plan}")
        if code == 0:
            _check_status(out / "patient_status.csv", damaged, plan["events"])
            _check_counts(root, damaged)


@fuzz(8)
@given(plan=damage_plan)
def test_report_on_damaged_registries(clean, capsys, plan):
    damaged = _build(clean, plan)
    with tempfile.TemporaryDirectory() as tmp:
        root = damaged.write(Path(tmp) / "reg")
        out = Path(tmp) / "out"
        index = EVENTS if plan["events"] else FIXED
        argv = ["report", "--data", str(root), "--out", str(out), "--quiet", "--no-validation",
                "--no-suppression", *index]  # fmt: skip
        code, lines = _run(argv, capsys)
        _check_exit(code, lines, out, _expect_refusal(damaged, plan), f"report {plan}")
        if code == 0:
            assert (out / "report.html").stat().st_size > 0
            funnel = pl.read_csv(out / "funnel.csv")
            assert funnel["remaining"][0] == len(damaged.expected_patients())


@fuzz(3)
@given(plan=damage_plan)
def test_validate_on_damaged_registries(clean, capsys, plan):
    damaged = _build(clean, plan)
    with tempfile.TemporaryDirectory() as tmp:
        root = damaged.write(Path(tmp) / "reg")
        out = Path(tmp) / "out"
        code, lines = _run(["validate", "--data", str(root), "--out", str(out), "--quiet"], capsys)
        expect = True if damaged.structural else (None if damaged.maybe_structural else False)
        _check_exit(code, lines, out, expect, f"validate {plan}")
        if code == 0:
            summary = pl.read_csv(out / "validation_summary.csv", infer_schema=False)
            loader = summary.filter(pl.col("source") == "loader")
            accounted = summary.filter(pl.col("expectation") == "row_accounting")
            for (table, column, problem), n in damaged.expected_set_aside().items():
                # counted in the table's row accounting, whether or not a check that already
                # flags those rows stands for it in the summary (issue 15's reconciliation)
                row = loader.filter(pl.col("check") == f"{table}.{column}.set_aside[{problem}]")
                note = accounted.filter(pl.col("table") == table)["note"].to_list()
                assert row["unexpected_count"].to_list() == [str(n)] or any(
                    re.search(rf"{re.escape(problem)} \({column}\) {n}(;|$)", x or "") for x in note
                ), (table, column, problem, n, note)
            assert set(accounted["table"]) == set(damaged.frames)
            for table, column in damaged.dropped_columns:
                row = summary.filter(pl.col("check") == f"{table}.{column}.present")
                assert row["status"].to_list() == ["failed"]


@pytest.mark.parametrize(
    ("plan", "expect_code"),
    [
        ({"fmt": "csv", "value": ["implausible_measurements", "blank_ids"], "structural": [],
          "seed": 1, "events": False}, 0),
        ({"fmt": "parquet", "value": [], "structural": ["duplicated_column"], "seed": 2,
          "events": False}, 2),
        ({"fmt": "csv", "value": ["conflicting_patients"], "structural": ["wrong_delimiter"],
          "seed": 3, "events": True}, 2),
    ],
)  # fmt: skip
def test_subprocess_runs_end_cleanly(clean, tmp_path, plan, expect_code):
    """The installed entry point (a real process) gives the same two endings."""
    root = _build(clean, plan).write(tmp_path / "reg")
    out = tmp_path / "out"
    index = EVENTS if plan["events"] else FIXED
    proc = subprocess.run(
        [sys.executable, "-m", "feasibility.cli", "screen", "--data", str(root), "--out",
         str(out), "--quiet", *index],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == expect_code, proc.stderr
    assert "Traceback" not in proc.stderr
    if expect_code == 2:
        assert len(proc.stderr.strip().splitlines()) == 1 and not out.exists()
    else:
        assert (out / "patient_status.csv").exists()
