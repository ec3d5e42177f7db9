"""Duplicate detection on big frames (the hash-and-sort path) agrees with an exact comparison."""

from __future__ import annotations

import numpy as np
import polars as pl

from feasibility.registry._dedup import _SMALL, first_occurrence


def test_big_frame_matches_exact_first_distinct() -> None:
    rng = np.random.default_rng(7)
    n = _SMALL + 50_000
    df = pl.DataFrame(
        {
            "patient_id": [f"P{i}" for i in rng.integers(0, 5_000, n)],
            "value": rng.integers(0, 50, n).astype(float),
            "day": rng.integers(0, 30, n),
            "flag": rng.random(n) < 0.5,
        }
    ).with_columns(
        # nulls take part in equality too
        pl.when(pl.int_range(pl.len()) % 97 == 0)
        .then(None)
        .otherwise(pl.col("value"))
        .alias("value")
    )
    columns = df.columns
    got = first_occurrence(df, columns)
    expected = df.select(pl.struct(columns).is_first_distinct()).to_series()
    assert got.len() == n
    assert (~expected).sum() > 1000, (
        "the frame must hold many duplicates for this test to mean much"
    )
    assert got.equals(expected, check_names=False)


def test_big_frame_without_duplicates_keeps_everything() -> None:
    n = _SMALL + 10
    df = pl.DataFrame(
        {"patient_id": [f"P{i}" for i in range(n)], "value": np.arange(n, dtype=float)}
    )
    assert first_occurrence(df, df.columns).all()


def test_first_copy_is_the_one_kept() -> None:
    n = _SMALL + 10
    ids = [f"P{i}" for i in range(n)]
    ids[n - 1] = ids[3]  # the last row repeats row 3
    df = pl.DataFrame({"patient_id": ids, "value": [1.0] * n})
    keep = first_occurrence(df, df.columns)
    assert keep.arg_true().len() == n - 1
    assert not keep[n - 1] and keep[3]
