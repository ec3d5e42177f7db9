"""Ground truth: every defect the generator plants is flagged by validation, row for row,
and the loader's set-aside values reach the summary."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from _quality_helpers import NEW_CLASSES, SEQUENCE_CHECKS, check_for, flagged_rows

from feasibility.quality import validate_registry
from feasibility.registry import load_registry
from feasibility.synth import generate_registry
from feasibility.synth.defects import DEFECT_CLASSES, enabled
from feasibility.synth.defects_dq import CLASSES as DQ_CLASSES

INDEX = dt.date(2024, 6, 30)


@pytest.fixture(scope="module")
def heavy(tmp_path_factory):
    root = tmp_path_factory.mktemp("heavy")
    with enabled():  # the screening-specific classes too (synth/defects_dq.py)
        generate_registry(2000, 11, root, defects="heavy")
    registry = load_registry(root)
    manifest = pl.read_csv(root / "_defects.csv", schema_overrides={"column": pl.String})
    return registry, manifest, validate_registry(registry, index_date=INDEX)


def test_every_defect_class_is_planted(heavy):
    _, manifest, _ = heavy
    assert set(manifest.get_column("defect")) == set(DEFECT_CLASSES) | set(DQ_CLASSES)


def test_every_planted_row_is_flagged_and_counts_match(heavy):
    _, manifest, result = heavy
    groups = manifest.with_columns(pl.col("column").fill_null("")).group_by(
        "defect", "table", "column", maintain_order=True
    )
    seen = set()
    for (defect, table, column), g in groups:
        want = set(g.get_column("row").to_list())
        got = flagged_rows(result.unexpected, defect, table, column)
        seen.add(defect)
        if check_for(defect, table, column) in SEQUENCE_CHECKS:
            assert want <= got, (defect, sorted(want - got)[:5])  # others leave gaps too
            continue
        assert got == want, (defect, table, column, sorted(want - got)[:5], sorted(got - want)[:5])
        seen.add(defect)
    assert seen == set(DEFECT_CLASSES) | set(DQ_CLASSES)


def test_summary_counts_equal_manifest_counts(heavy):
    _, manifest, result = heavy
    s = result.summary
    per_test = manifest.filter(pl.col("defect") == "unit_outside_vocabulary").height
    units = s.filter(pl.col("check").str.starts_with("measurements.unit.accepted["))
    assert units.get_column("unexpected_count").fill_null(0).sum() == per_test
    sex = s.filter(pl.col("check") == "patients.sex.vocabulary").row(0, named=True)
    assert (
        sex["unexpected_count"]
        == manifest.filter(pl.col("defect") == "sex_outside_vocabulary").height
    )
    assert sex["status"] == "failed"


def test_no_row_outside_the_manifest_is_flagged_except_optional_null_rates(heavy):
    _, manifest, result = heavy
    planted = manifest.select("table", "row").unique()
    extra = (
        result.unexpected.filter(pl.col("row").is_not_null())
        .join(planted, on=["table", "row"], how="anti")
        .get_column("check")
        .unique()
        .to_list()
    )
    profiles = set(
        result.summary.filter(pl.col("severity") == "info").get_column("check").to_list()
    )
    assert set(extra) <= profiles | SEQUENCE_CHECKS, sorted(set(extra) - profiles)


def test_new_classes_are_each_flagged_by_their_own_check_only(heavy):
    _, manifest, result = heavy
    for defect, check in NEW_CLASSES.items():
        rows = manifest.filter(pl.col("defect") == defect).select("table", "row")
        assert rows.height > 0, defect
        flagged = result.unexpected.join(rows, on=["table", "row"], how="semi")
        profiles = result.summary.filter(pl.col("severity") == "info").get_column("check")
        others = set(flagged.get_column("check").to_list()) - {check} - set(profiles.to_list())
        assert not others, (defect, others)
        summary = result.summary.filter(pl.col("check") == check).row(0, named=True)
        assert summary["unexpected_count"] >= rows.height
        assert summary["patients_affected"] >= 1 and summary["status"] in (
            "failed",
            "passed_with_failures",
        )


def test_near_miss_examples_name_patients_and_rows(heavy):
    _, _, result = heavy
    row = result.summary.filter(pl.col("check") == "medications.drug.near_miss").row(0, named=True)
    assert row["status"] == "failed" and row["examples"].startswith("row ")
    assert "sourceValueCompleteness" in row["tolerance_source"]


def test_set_aside_values_are_reconciled_with_the_checks_not_listed_twice(heavy):
    registry, _, result = heavy
    assert registry.set_aside.height > 0
    s = result.summary
    loader = s.filter(pl.col("source") == "loader")
    marked = s.filter(pl.col("note").str.starts_with("the loader sets these rows aside"))
    assert marked.height > 0
    problems = set(registry.set_aside.get_column("problem").to_list())
    # a problem a check already flags row by row is not a loader row of its own
    for rec in registry.set_aside.iter_rows(named=True):
        own = loader.filter(
            pl.col("check") == f"{rec['table']}.{rec['column']}.set_aside[{rec['problem']}]"
        )
        covered = marked.filter(
            pl.col("note").str.ends_with(rec["problem"]), pl.col("table") == rec["table"]
        )
        assert (own.height == 1) != (covered.height > 0), rec
    units = s.filter(pl.col("check").str.starts_with("measurements.unit.accepted["))
    unit_rec = registry.set_aside.filter(pl.col("problem") == "unit_outside_vocabulary")
    assert "unit_outside_vocabulary" in problems
    assert units.get_column("unexpected_count").sum() == unit_rec.get_column("rows").sum()


def test_clean_registry_has_no_findings_above_info(tmp_path):
    generate_registry(300, 5, tmp_path, defects="none")
    result = validate_registry(load_registry(tmp_path), index_date=INDEX)
    # data over time (a tail before the cut-off) is a property of the data, not a defect
    findings = result.failing("warning").filter(pl.col("source") != "timeline")
    assert findings.height == 0, findings.select("check", "unexpected_count", "examples")
    assert result.summary.filter(pl.col("source") == "loader").height == 0


def test_the_new_classes_are_off_by_default_and_leave_the_draw_untouched(tmp_path):
    a = generate_registry(300, 4, tmp_path / "a", defects="realistic")
    assert not set(a["defect_counts"]) & set(DQ_CLASSES)
    with enabled():
        b = generate_registry(300, 4, tmp_path / "b", defects="realistic")
    assert set(b["defect_counts"]) >= set(DQ_CLASSES)
    from feasibility.synth import defects

    assert not set(DQ_CLASSES) & set(defects.DEFECT_CLASSES)  # restored after the block
    assert not set(DQ_CLASSES) & set(defects.REALISTIC_RATES)
