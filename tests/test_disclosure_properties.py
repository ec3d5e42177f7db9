"""Disclosure control: no small count is shown, nor derivable by subtracting shown counts."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feasibility import disclosure
from feasibility.report import tables


def small(n: int | None, t: int) -> bool:
    return n is not None and 1 <= n <= t


@st.composite
def funnels(draw) -> tuple[pl.DataFrame, int]:
    """A monotone funnel: remaining <= remaining_with_unknown, both non-increasing."""
    t = draw(st.integers(0, 15))
    n_steps = draw(st.integers(1, 22))
    total = draw(st.integers(0, 400))
    rem, rwu = [total], [total]
    for _ in range(n_steps):
        # shrink the "possible" series by fails, then "remaining" by fails + new unknowns
        w = rwu[-1] - draw(
            st.integers(0, max(0, min(rwu[-1], draw(st.sampled_from([3, 12, 60, 400])))))
        )
        r_cap = min(rem[-1], w)
        r = r_cap - draw(
            st.integers(0, max(0, min(r_cap, draw(st.sampled_from([2, 11, 50, 400])))))
        )
        rwu.append(w)
        rem.append(r)
    df = pl.DataFrame(
        {
            "step": list(range(len(rem))),
            "criterion": ["registry"] + [f"c{i}" for i in range(1, len(rem))],
            "label": ["Registry"] + [f"Criterion {i}" for i in range(1, len(rem))],
            "remaining": rem,
            "remaining_with_unknown": rwu,
            "excluded": [0] + [rem[i - 1] - rem[i] for i in range(1, len(rem))],
        }
    )
    return df, t


@settings(max_examples=400, deadline=None)
@given(funnels())
def test_funnel_no_small_count_or_difference(case: tuple[pl.DataFrame, int]) -> None:
    raw, t = case
    out = disclosure.suppress_funnel(raw, t)
    assert out.columns[:6] == [
        "step",
        "criterion",
        "label",
        "remaining",
        "remaining_with_unknown",
        "excluded",
    ]
    # shown cells equal the raw value; hidden ones are null and flagged
    for col in disclosure.FUNNEL_COUNTS:
        for shown, orig, flag in zip(out[col], raw[col], out[f"{col}_suppressed"], strict=True):
            assert (shown is None) == flag
            if shown is not None:
                assert shown == orig
                assert not small(shown, t), (col, shown)
    # differences of shown counts: same series (adjacent or not) and across the two series
    shown_all = [
        v
        for col in ("remaining", "remaining_with_unknown")
        for v in out[col].to_list()
        if v is not None
    ]
    for a, b in combinations(shown_all, 2):
        assert not small(abs(a - b), t), (a, b)
    # excluded = difference of two remaining counts: shown only when both are
    rem = out["remaining"].to_list()
    for i, e in enumerate(out["excluded"].to_list()):
        if e is not None and i > 0:
            assert rem[i - 1] is not None and rem[i] is not None
            assert not small(e, t)
    # percentages hidden with their counts
    for col in ("remaining", "remaining_with_unknown"):
        for v, p in zip(out[col], out[f"{col}_pct"], strict=True):
            if v is None:
                assert p is None


def test_funnel_example_written_from_the_rule() -> None:
    raw = pl.DataFrame(
        {
            "step": [0, 1, 2, 3, 4],
            "criterion": ["registry", "a", "b", "c", "d"],
            "label": ["Registry", "A", "B", "C", "D"],
            "remaining": [1000, 995, 600, 590, 0],
            "remaining_with_unknown": [1000, 998, 900, 889, 5],
            "excluded": [0, 5, 395, 10, 590],
        }
    )
    out = disclosure.suppress_funnel(raw, 10)
    # 995 is 5 below the shown 1000; 590 is exactly 10 below 600; 5 is small
    assert out["remaining"].to_list() == [1000, None, 600, None, 0]
    # 998 is 2 below 1000 and 5 is small; 889 is 11 below 900 and far from the rest
    assert out["remaining_with_unknown"].to_list() == [1000, None, 900, 889, None]
    assert out["excluded"].to_list() == [0, None, None, None, None]
    assert out["remaining_pct"].to_list() == [100.0, None, 60.0, None, 0.0]


def test_threshold_boundary_and_zero() -> None:
    assert disclosure.suppress_values([0, 1, 10, 11], 10) == [0, None, None, 11]
    assert disclosure.suppress_values([0, 1, 10, 11], 10, enabled=False) == [0, 1, 10, 11]
    with pytest.raises(ValueError):
        disclosure.Policy(threshold=-1)


def test_no_suppression_shows_everything() -> None:
    raw = pl.DataFrame(
        {
            "step": [0, 1],
            "criterion": ["registry", "a"],
            "label": ["Registry", "A"],
            "remaining": [8, 3],
            "remaining_with_unknown": [8, 5],
            "excluded": [0, 5],
        }
    )
    out = disclosure.suppress_funnel(raw, 10, enabled=False)
    assert out["remaining"].to_list() == [8, 3]
    assert not any(out["remaining_suppressed"])


@st.composite
def impacts(draw) -> tuple[pl.DataFrame, int, int]:
    t = draw(st.integers(1, 12))
    n = draw(st.integers(0, 300))
    rows = []
    for i in range(draw(st.integers(1, 8))):
        f = draw(st.integers(0, n))
        k = draw(st.integers(0, n - f))
        u = draw(st.integers(0, f))
        rows.append(
            {
                "criterion": f"c{i}",
                "label": f"C{i}",
                "fail_standalone": f,
                "fail_unique": u,
                "unknown": k,
            }
        )
    return pl.DataFrame(rows), n, t


@settings(max_examples=400, deadline=None)
@given(impacts())
def test_impact_no_derivable_small_count(case: tuple[pl.DataFrame, int, int]) -> None:
    raw, n, t = case
    out = disclosure.suppress_impact(raw, n, t)
    for row in out.iter_rows(named=True):
        f, u, k = row["fail_standalone"], row["fail_unique"], row["unknown"]
        derived = [f, u, k]
        if f is not None:
            derived += [n - f]
            if k is not None:
                derived += [n - f - k]
            if u is not None:
                derived += [f - u]
        if k is not None:
            derived += [n - k]
        if u is not None:
            derived += [n - u]
            if k is not None:
                derived += [n - u - k]
        for v in derived:
            assert not small(v, t), (row, v)
        for c in disclosure.IMPACT_COUNTS:
            if row[c] is None:
                assert row[f"{c}_pct"] is None


@st.composite
def step_tables(draw) -> tuple[pl.DataFrame, int]:
    """Counts of levels at nested steps: each level's count never grows along the steps."""
    t = draw(st.integers(1, 12))
    n_levels = draw(st.integers(1, 5))
    n_steps = draw(st.integers(1, 6))
    current = [draw(st.integers(0, 120)) for _ in range(n_levels)]
    rows = []
    for s in range(n_steps):
        for lv, c in enumerate(current):
            rows.append({"variable": "sex", "level": f"L{lv}", "step": s, "count": c})
        current = [c - draw(st.integers(0, c)) if draw(st.booleans()) else c for c in current]
    return pl.DataFrame(rows), t


@settings(max_examples=300, deadline=None)
@given(step_tables(), st.booleans())
def test_partitions_and_chains(case: tuple[pl.DataFrame, int], ends_first: bool) -> None:
    raw, t = case
    totals = dict(raw.group_by("step").agg(pl.col("count").sum()).iter_rows())
    # as in the report: a step total is shown unless it is itself small
    total_shown = {("sex", s): not small(n, t) for s, n in totals.items()}
    out = disclosure.suppress_partitions(
        raw,
        count="count",
        partition_by=("variable", "step"),
        chain_by=("variable", "level"),
        chain_order="step",
        threshold=t,
        total_shown=total_shown,
        chain_ends_first=ends_first,
    )
    merged = raw.rename({"count": "raw"}).join(out, on=["variable", "level", "step"])
    for (step,), grp in merged.group_by("step"):
        hidden = grp.filter(pl.col("count_suppressed"))["raw"]
        if total_shown[("sex", step)]:
            # the hidden cells together must not be small (else total - shown gives them)
            assert not small(hidden.sum(), t)
        elif totals[step] > 0:
            # a hidden total cannot be re-added from the cells
            assert (hidden > 0).any()
        for v in grp["count"].drop_nulls():
            assert not small(v, t)
    for (_level,), grp in merged.sort("step").group_by("level"):
        shown = grp["count"].drop_nulls().to_list()
        for a, b in combinations(shown, 2):
            assert not small(abs(a - b), t)


def test_histogram_sides_and_suppression() -> None:
    # 30 values at 40 (pass), 3 at 20 (fail), and exactly-at-threshold values pass for >=
    vals = pl.DataFrame({"value": [40.0] * 30 + [20.0] * 3 + [30.0] * 12})
    hist = disclosure.Policy(method="suppress").histogram(tables.value_histogram(vals, 30.0, ">="))
    at = hist.filter((pl.col("bin_start") <= 30) & (pl.col("bin_end") > 30))
    assert at["side"].to_list() == ["pass"]
    fail = hist.filter(pl.col("side") == "fail")
    assert fail["count"].drop_nulls().sum() == 0  # the 3 failing values are hidden
    assert fail["count_suppressed"].any()
    # right-closed for <=: a value equal to the threshold is on the pass side
    hist2 = tables.value_histogram(
        pl.DataFrame({"value": [470.0] * 20 + [480.0] * 20}), 470.0, "<="
    )
    row = hist2.filter((pl.col("bin_start") < 470) & (pl.col("bin_end") >= 470))
    assert row["side"].to_list() == ["pass"] and row["count"].to_list() == [20]


@st.composite
def status_matrices(draw) -> tuple[np.ndarray, int]:
    """Random patient x criterion statuses: 0 pass, 1 fail, 2 unknown."""
    t = draw(st.integers(1, 12))
    n = draw(st.integers(0, 150))
    k = draw(st.integers(1, 5))
    p_fail = draw(st.sampled_from([0.0, 0.02, 0.1, 0.4]))
    p_unk = draw(st.sampled_from([0.0, 0.03, 0.2]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    m = rng.choice([0, 1, 2], size=(n, k), p=[1 - p_fail - p_unk, p_fail, p_unk])
    return m, t


def _funnel_and_impact(m: np.ndarray) -> tuple[pl.DataFrame, pl.DataFrame]:
    n, k = m.shape
    rem, rwu = [n], [n]
    for i in range(1, k + 1):
        rem.append(int((m[:, :i] == 0).all(axis=1).sum()))
        rwu.append(int((m[:, :i] != 1).all(axis=1).sum()))
    funnel = pl.DataFrame(
        {
            "step": list(range(k + 1)),
            "criterion": ["registry"] + [f"c{i}" for i in range(k)],
            "label": ["Registry"] + [f"C{i}" for i in range(k)],
            "remaining": rem,
            "remaining_with_unknown": rwu,
            "excluded": [0] + [rem[i - 1] - rem[i] for i in range(1, k + 1)],
        }
    )
    rows = []
    for c in range(k):
        fail = m[:, c] == 1
        others_pass = np.delete(m, c, axis=1) == 0
        rows.append(
            {
                "criterion": f"c{c}",
                "label": f"C{c}",
                "fail_standalone": int(fail.sum()),
                "fail_unique": int((fail & others_pass.all(axis=1)).sum()),
                "unknown": int((m[:, c] == 2).sum()),
                "pass": int((m[:, c] == 0).sum()),
            }
        )
    return funnel, pl.DataFrame(rows)


@settings(max_examples=300, deadline=None)
@given(status_matrices())
def test_impact_never_reveals_a_hidden_funnel_count(case: tuple[np.ndarray, int]) -> None:
    m, t = case
    n = m.shape[0]
    funnel, impact = _funnel_and_impact(m)
    f = disclosure.suppress_funnel(funnel, t)
    imp = disclosure.reconcile_impact(disclosure.suppress_impact(impact, n, t), f)
    first = imp.row(0, named=True)
    # step 1: remaining == pass, remaining_with_unknown == N - fail (exact identities)
    if f["remaining"][1] is None:
        assert first["pass"] is None
        assert first["fail_standalone"] is None or first["unknown"] is None
    if f["remaining_with_unknown"][1] is None:
        assert first["fail_standalone"] is None
        assert first["unknown"] is None or first["pass"] is None
    if f["excluded"][-1] is None:
        assert imp["fail_unique"][-1] is None
    # and the impact table still shows no small or small-derivable count
    for row in imp.iter_rows(named=True):
        for c in ("fail_standalone", "fail_unique", "unknown", "pass"):
            assert not small(row[c], t)
