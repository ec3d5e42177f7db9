"""validate_registry on a hand-built registry: every status, every boundary, the loader's
set-aside values, and failing rows named by row and patient."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from _quality_helpers import EXPECTED_ROWS, INDEX, TODAY, write_boundary_registry

from feasibility.quality import STATUSES, validate_registry
from feasibility.registry import load_registry

INDEX_DATE = dt.date.fromisoformat(INDEX)
TODAY_DATE = dt.date.fromisoformat(TODAY)


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    root = tmp_path_factory.mktemp("boundary")
    write_boundary_registry(root)
    return load_registry(root)


@pytest.fixture(scope="module")
def result(registry):
    return validate_registry(registry, index_date=INDEX_DATE, today=TODAY_DATE)


@pytest.fixture(scope="module")
def result_no_index(registry):
    return validate_registry(registry, today=TODAY_DATE)


def _row(result, check):
    rows = result.summary.filter(pl.col("check") == check)
    assert rows.height == 1, check
    return rows.row(0, named=True)


@pytest.mark.parametrize("check", sorted(EXPECTED_ROWS))
def test_exactly_the_planted_rows_are_flagged(result, check):
    assert set(result.rows(check).get_column("row").to_list()) == EXPECTED_ROWS[check]
    row = _row(result, check)
    assert row["unexpected_count"] == len(EXPECTED_ROWS[check])
    assert row["status"] in ("failed", "passed_with_failures")


def test_statuses_are_from_the_documented_set(result):
    assert set(result.summary.get_column("status").unique()) <= set(STATUSES)


def test_passed(result):
    row = _row(result, "measurements.patient_id.not_null")
    assert (row["status"], row["unexpected_count"], row["element_count"]) == ("passed", 0, 100)


def test_failed_without_tolerance(result):
    # plausibility has no 'mostly': one implausible value fails the check
    row = _row(result, "measurements.value.plausible[hemoglobin]")
    assert row["status"] == "failed"
    assert row["examples"] == "row 3 (P1); row 5 (P1)"


def test_mostly_boundary_exactly_one_percent_missing_is_tolerated(result):
    # 1 of 100 values missing: 1% tolerated (mostly 0.99) -> passed_with_failures
    row = _row(result, "measurements.value.not_null")
    assert (row["status"], row["unexpected_count"], row["tolerance_pct"]) == (
        "passed_with_failures",
        1,
        1.0,
    )
    assert row["unexpected_percent"] == pytest.approx(1.0)


def test_mostly_boundary_two_percent_missing_fails(result):
    row = _row(result, "measurements.measured_on.not_null")
    assert (row["status"], row["unexpected_count"]) == ("failed", 2)


def test_missing_table_is_not_applicable_and_reported(result):
    lesion_rows = result.summary.filter(
        (pl.col("table") == "lesions") & (pl.col("check") != "registry.lesions.present")
    )
    assert lesion_rows.height > 0
    assert set(lesion_rows.get_column("status")) == {"not_applicable"}
    assert set(lesion_rows.get_column("note")) == {"table absent"}
    present = _row(result, "registry.lesions.present")
    assert (present["status"], present["severity"], present["category"]) == (
        "failed",
        "warning",
        "completeness",
    )
    assert _row(result, "registry.patients.present")["status"] == "passed"


def test_condition_without_rows_is_not_applicable(result):
    row = _row(result, "measurements.value.plausible[qtc]")
    assert (row["status"], row["note"]) == ("not_applicable", "no rows")


def test_plausibility_bounds_are_inclusive_and_use_canonical_units(result):
    flagged = set(result.rows("measurements.value.plausible[hemoglobin]").get_column("row"))
    assert {1, 2, 4}.isdisjoint(flagged)  # 2.0 g/dL, 25 g/dL, 250 g/L (= 25 g/dL) pass
    assert {3, 5} <= flagged  # 1.99 g/dL and 251 g/L (= 25.1 g/dL) fail
    assert 6 not in flagged  # unit outside the vocabulary: not converted, not judged


def test_vocabularies_compare_as_the_loader_does(result):
    # ' g/dL ' is trimmed and accepted, 'G/DL' is not; 'Hemoglobin ' is a known test
    assert set(result.rows("measurements.unit.accepted[hemoglobin]").get_column("row")) == {6}
    assert set(result.rows("measurements.test.vocabulary").get_column("row")) == {9}
    # sex 'm' is accepted (upper-cased), 'Female' is not
    assert set(result.rows("patients.sex.vocabulary").get_column("row")) == {4}


def test_dates_on_birth_death_and_today_are_fine_one_day_beyond_is_not(result):
    assert 19 not in set(result.rows("measurements.measured_on.not_before_birth")["row"])
    assert 20 not in set(result.rows("measurements.measured_on.not_after_death")["row"])
    assert 23 not in set(result.rows("measurements.measured_on.not_in_future")["row"])


def test_age_at_index_18_and_110_pass_17_and_111_fail(result):
    flagged = set(result.rows("patients.birth_date.age_range").get_column("patient_id"))
    assert flagged == {"P3", "P5"}  # P3 is 17 (18 tomorrow), P5 is 111; P2 is 18, P4 is 110


def test_padded_patient_id_is_a_known_patient(result):
    assert set(result.rows("measurements.patient_id.in_patients")["patient_id"]) == {"P99"}


def test_window_coverage_counts_the_window_edges(result):
    # hemoglobin: P1 has a value exactly 30 days before index; P3's is the day after index
    row = _row(result, "measurements.value.in_window[hemoglobin]")
    missing = set(result.rows("measurements.value.in_window[hemoglobin]").get_column("patient_id"))
    assert missing == {"P2", "P3", "P4", "P5", "P6"}
    assert (row["status"], row["element_count"], row["severity"]) == (
        "passed_with_failures",
        6,
        "info",
    )
    # anc: P2's value is 31 days before index, outside the window
    assert "P2" in set(result.rows("measurements.value.in_window[anc]").get_column("patient_id"))


def test_window_coverage_needs_an_index_date(result_no_index):
    rows = result_no_index.summary.filter(pl.col("check").str.contains(r"\.in_window\["))
    assert rows.height > 0
    assert set(rows.get_column("status")) == {"not_applicable"}
    assert set(rows.get_column("note")) == {"needs an index date"}


def test_age_without_index_is_taken_at_death_or_today(result_no_index):
    # at 'today' 2025-01-01: P2 and P3 are 18, P4 (1914-06-01) 110, P5 (1913-06-01) 111;
    # P6 died at 70
    flagged = set(result_no_index.rows("patients.birth_date.age_range").get_column("patient_id"))
    assert flagged == {"P5"}


def test_loader_set_aside_values_are_reconciled_not_listed_twice(result, registry):
    s = result.summary
    loader = s.filter(pl.col("source") == "loader")
    records = {
        (r["table"], r["column"], r["problem"], r["rows"])
        for r in registry.set_aside.iter_rows(named=True)
    }
    assert ("measurements", "unit", "unit_outside_vocabulary", 1) in records
    own = {
        (r["table"], r["column"], r["note"], r["unexpected_count"])
        for r in loader.iter_rows(named=True)
    }
    # every record the checks already flag row by row marks those checks instead
    for table, _column, problem, n in records - own:
        marked = s.filter(
            pl.col("table") == table,
            pl.col("note").str.ends_with(problem),
            pl.col("source") == "gx",
        )
        assert marked.get_column("unexpected_count").sum() == n, (table, problem)
    unit = _row(result, "measurements.unit.accepted[hemoglobin]")
    assert unit["note"].startswith("the loader sets these rows aside")
    assert not own & {("measurements", "unit", "unit_outside_vocabulary", 1)}
    assert set(loader.get_column("status")) <= {"failed"}


def test_by_category_and_failing_filters(result):
    cats = result.by_category()
    assert set(cats.get_column("category")) == {"conformance", "completeness", "plausibility"}
    assert cats.get_column("checks").sum() == result.summary.height
    from feasibility.protocol import load_protocol

    assert result.summary.get_column("criteria").null_count() == result.summary.height
    linked = result.for_protocol(load_protocol("pomalidomide-ixazomib-dex"))
    hb = linked.failing(criterion="hemoglobin")
    assert "measurements.value.plausible[hemoglobin]" in set(hb.get_column("check"))
    assert "measurements.value.plausible[anc]" not in set(hb.get_column("check"))
    assert result.failing("error").height == 0
    assert not result.failed_at("error")
    assert result.failed_at("warning")


def test_summary_has_the_cli_columns(result):
    for col in (
        "table",
        "column",
        "expectation",
        "category",
        "severity",
        "status",
        "unexpected_count",
        "unexpected_percent",
        "criteria",
    ):
        assert col in result.summary.columns


def test_validation_is_quiet(registry, capfd):
    """No progress bars, log lines or warnings: notebooks stay clean."""
    validate_registry(registry, index_date=INDEX_DATE, today=TODAY_DATE)
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_chunked_validation_adds_up_to_the_same_result(registry, result):
    chunked = validate_registry(registry, index_date=INDEX_DATE, today=TODAY_DATE, chunk_rows=7)
    cols = ["check", "status", "element_count", "unexpected_count"]
    assert (
        chunked.summary.select(cols).sort("check").equals(result.summary.select(cols).sort("check"))
    )
    a = chunked.summary.select("check", "unexpected_percent").sort("check")
    b = result.summary.select("check", "unexpected_percent").sort("check")
    assert (
        a.join(b, on="check")
        .filter((pl.col("unexpected_percent") - pl.col("unexpected_percent_right")).abs() > 1e-9)
        .is_empty()
    )
    assert chunked.unexpected.sort("check", "row").equals(result.unexpected.sort("check", "row"))
