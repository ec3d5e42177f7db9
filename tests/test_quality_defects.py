"""Ground truth: every defect the generator plants is flagged by validation, row for row,
and the loader's set-aside values reach the summary."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from _quality_helpers import flagged_rows

from feasibility.quality import validate_registry
from feasibility.registry import load_registry
from feasibility.synth import generate_registry
from feasibility.synth.defects import DEFECT_CLASSES

INDEX = dt.date(2024, 6, 30)


@pytest.fixture(scope="module")
def heavy(tmp_path_factory):
    root = tmp_path_factory.mktemp("heavy")
    generate_registry(2000, 11, root, defects="heavy")
    registry = load_registry(root)
    manifest = pl.read_csv(root / "_defects.csv", schema_overrides={"column": pl.String})
    return registry, manifest, validate_registry(registry, index_date=INDEX)


def test_every_defect_class_is_planted(heavy):
    _, manifest, _ = heavy
    assert set(manifest.get_column("defect")) == set(DEFECT_CLASSES)


def test_every_planted_row_is_flagged_and_counts_match(heavy):
    _, manifest, result = heavy
    groups = manifest.with_columns(pl.col("column").fill_null("")).group_by(
        "defect", "table", "column", maintain_order=True
    )
    seen = set()
    for (defect, table, column), g in groups:
        want = set(g.get_column("row").to_list())
        got = flagged_rows(result.unexpected, defect, table, column)
        assert got == want, (defect, table, column, sorted(want - got)[:5], sorted(got - want)[:5])
        seen.add(defect)
    assert seen == set(DEFECT_CLASSES)


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
    assert set(extra) <= {
        "patients.race.not_null",
        "patients.ethnicity.not_null",
        "patients.site.not_null",
    }


def test_set_aside_values_reach_the_summary(heavy):
    registry, _, result = heavy
    assert registry.set_aside.height > 0
    loader = result.summary.filter(pl.col("source") == "loader")
    assert loader.height == registry.set_aside.height
    assert (
        loader.get_column("unexpected_count").sum() == registry.set_aside.get_column("rows").sum()
    )
    unit = loader.filter(pl.col("note") == "unit_outside_vocabulary").row(0, named=True)
    assert unit["criteria"]  # tied to the criteria reading measurements.unit
    assert unit["examples"].startswith("rows ")


def test_clean_registry_has_no_findings_above_info(tmp_path):
    generate_registry(300, 5, tmp_path, defects="none")
    result = validate_registry(load_registry(tmp_path), index_date=INDEX)
    findings = result.failing("warning")
    assert findings.height == 0, findings.select("check", "unexpected_count", "examples")
    assert result.summary.filter(pl.col("source") == "loader").height == 0
