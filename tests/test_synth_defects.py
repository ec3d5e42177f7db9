"""Planted defects: present at their documented rates, and the record is exact.

The ground truth is recomputed from the written files (``defect_truth``): every row
that shows a defect must be listed in ``_defects.csv`` with that class, and every
listed row must show it. Clean registries (``defects="none"``) show none at all.
"""

from __future__ import annotations

import math

import polars as pl
import pytest
from _synth_helpers import (
    defect_truth,
    large_draw,
    large_tables,
    read_defects,
    read_manifest,
    read_registry,
)

from feasibility.plausibility import AGE_RANGE, PLAUSIBLE_RANGES, is_plausible
from feasibility.schema import TESTS
from feasibility.synth import DEFECT_CLASSES, generate_registry, rates_for
from feasibility.synth.defects import BAD_UNITS, HEAVY_FACTOR


@pytest.fixture(scope="session")
def large_dir(tmp_path_factory):
    return large_draw(tmp_path_factory)


@pytest.fixture(scope="session")
def large_reg(tmp_path_factory):
    return large_tables(tmp_path_factory)


@pytest.fixture(scope="module")
def truth(large_reg):
    return defect_truth(large_reg)


@pytest.fixture(scope="module")
def recorded(large_dir):
    return read_defects(large_dir)


def test_manifest_counts_match_defects_file(large_dir, large_reg, recorded):
    manifest = read_manifest(large_dir)
    assert manifest["defects"] == "realistic"
    assert set(manifest["defect_counts"]) == set(DEFECT_CLASSES)
    counts = dict(recorded.group_by("defect").len().iter_rows())
    for cls in DEFECT_CLASSES:
        assert manifest["defect_counts"][cls] == counts.get(cls, 0), cls
        assert counts.get(cls, 0) > 0, f"{cls} not planted"
    for table, info in manifest["tables"].items():
        assert large_reg[table].height == info["rows"], table


def test_each_class_at_its_documented_rate(large_dir, recorded):
    manifest = read_manifest(large_dir)
    rows = {t: info["rows"] for t, info in manifest["tables"].items()}
    dups = dict(
        recorded.filter(pl.col("defect") == "duplicate_row").group_by("table").len().iter_rows()
    )
    got = dict(((d, t), k) for d, t, k in recorded.group_by("defect", "table").len().iter_rows())
    for cls, per_table in manifest["defect_rates"].items():
        for table, rate in per_table.items():
            clean_rows = rows[table] - dups.get(table, 0)
            expected = rate * clean_rows
            # Binomial draw: within 4 standard deviations (+2 for tiny counts).
            tol = 4 * math.sqrt(expected) + 2
            assert abs(got.get((cls, table), 0) - expected) <= tol, (cls, table, expected)


def test_record_is_exact(truth, recorded):
    rec = recorded.select("table", "row", "defect").sort(["table", "row", "defect"])
    unrecorded = truth.join(rec, on=["table", "row", "defect"], how="anti")
    phantom = rec.join(truth, on=["table", "row", "defect"], how="anti")
    assert unrecorded.height == 0, unrecorded.head(10)
    assert phantom.height == 0, phantom.head(10)


def test_one_class_per_row(recorded):
    assert recorded.select("table", "row").is_duplicated().sum() == 0


def test_records_name_the_patient_and_column_of_the_row(large_reg, recorded):
    for table, df in large_reg.items():
        rec = recorded.filter(pl.col("table") == table)
        if rec.height == 0:
            continue
        joined = rec.join(df.select("_row", "patient_id"), left_on="row", right_on="_row")
        assert joined.height == rec.height, table
        assert (joined["patient_id"] == joined["patient_id_right"]).all(), table
        cols = set(rec["column"].drop_nulls().unique().to_list())
        assert cols <= set(df.columns), table
    dup = recorded.filter(pl.col("defect") == "duplicate_row")
    assert dup["column"].null_count() == dup.height


def test_duplicate_copies_an_earlier_row_of_the_same_patient(large_reg, recorded):
    dup = recorded.filter(
        (pl.col("defect") == "duplicate_row") & (pl.col("table") == "measurements")
    )
    m = large_reg["measurements"]
    cols = [c for c in m.columns if c != "_row"]
    copies = m.join(dup.select(pl.col("row").alias("_row")), on="_row")
    first = (
        m.join(copies.select(cols), on=cols, how="inner", nulls_equal=True)
        .group_by(cols)
        .agg(pl.col("_row").min())
    )
    matched = copies.join(first, on=cols, how="left", suffix="_first", nulls_equal=True)
    assert matched.height == copies.height
    assert (matched["_row_first"] < matched["_row"]).all()


def test_implausible_values_are_outside_ranges_in_canonical_units(large_reg, recorded):
    rows = recorded.filter(pl.col("defect") == "implausible_value")["row"]
    m = large_reg["measurements"].filter(pl.col("_row").is_in(rows.implode()))
    assert m.height == rows.len()
    for test, value, unit in m.select("test", "value", "unit").iter_rows():
        factor = TESTS[test].factors[unit]  # the unit is an accepted one
        assert not is_plausible(test, value * factor), (test, value, unit)


def test_bad_units_are_outside_the_vocabulary_in_any_case():
    for test, units in BAD_UNITS.items():
        accepted = {u.lower() for u in TESTS[test].factors}
        for u in units:
            assert u.lower() not in accepted, (test, u)


def test_plausible_ranges_cover_every_test_and_boundaries_are_inclusive():
    assert set(PLAUSIBLE_RANGES) == set(TESTS)
    lo, hi = PLAUSIBLE_RANGES["hemoglobin"]
    assert (lo, hi) == (2.0, 25.0)
    assert is_plausible("hemoglobin", 2.0) and is_plausible("hemoglobin", 25.0)
    assert not is_plausible("hemoglobin", 1.99) and not is_plausible("hemoglobin", 25.01)
    # 250 g/L is 25 g/dL after conversion: plausible; 251 g/L is not.
    assert is_plausible("hemoglobin", 250 * TESTS["hemoglobin"].factors["g/L"])
    assert not is_plausible("hemoglobin", 251 * TESTS["hemoglobin"].factors["g/L"])
    assert AGE_RANGE == (18, 110)


def test_manifest_documents_ranges_and_rates(large_dir):
    manifest = read_manifest(large_dir)
    assert manifest["plausible_ranges"]["hemoglobin"] == {"low": 2.0, "high": 25.0, "unit": "g/dL"}
    assert manifest["age_range"] == [18, 110]
    assert manifest["defect_rates"] == rates_for("realistic")


def test_none_gives_a_clean_registry(tmp_path):
    out = tmp_path / "clean"
    manifest = generate_registry(3000, 5, out, defects="none")
    assert all(v == 0 for v in manifest["defect_counts"].values())
    assert read_defects(out).height == 0
    assert defect_truth(read_registry(out)).height == 0


def test_heavy_plants_about_five_times_more(tmp_path):
    real = generate_registry(2000, 9, tmp_path / "r", defects="realistic")
    heavy = generate_registry(2000, 9, tmp_path / "h", defects="heavy")
    assert rates_for("heavy")["missing_value"]["measurements"] == pytest.approx(
        HEAVY_FACTOR * rates_for("realistic")["missing_value"]["measurements"]
    )
    ratio = sum(heavy["defect_counts"].values()) / sum(real["defect_counts"].values())
    assert 4.0 < ratio < 6.0
    rec = (
        read_defects(tmp_path / "h")
        .select("table", "row", "defect")
        .sort(["table", "row", "defect"])
    )
    truth = defect_truth(read_registry(tmp_path / "h"))
    assert truth.equals(rec.select(truth.columns))


def test_defect_level_does_not_change_the_clean_draw(tmp_path):
    """Defects are planted on top of the same draw: clean rows are identical."""
    generate_registry(1500, 11, tmp_path / "n", defects="none")
    generate_registry(1500, 11, tmp_path / "r", defects="realistic")
    clean = read_registry(tmp_path / "n")["patients"].drop("_row")
    noisy = read_registry(tmp_path / "r")["patients"].drop("_row")
    bad = read_defects(tmp_path / "r").filter(pl.col("table") == "patients")["row"]
    keep = ~pl.Series(range(1, clean.height + 1)).is_in(bad.implode())
    assert clean.filter(keep).equals(noisy.filter(keep))


def test_unknown_level_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="defects must be one of"):
        generate_registry(10, 1, tmp_path, defects="some")
