"""The polars engine reads only the rows a protocol needs (its scope) and keeps them for
relax and rescreen: a re-evaluation that needs more rows reads the table again, one that
does not reads nothing, and either way the answer equals a fresh screen's."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from polars.testing import assert_frame_equal

import feasibility as fz
from feasibility.engine import evaluate
from feasibility.engine.features import Scope

SAMPLE = Path(__file__).resolve().parents[1] / "data_samples" / "registry"
PROTOCOL = "pomalidomide-ixazomib-dex"
INDEX = "2024-06-30"


@pytest.fixture(scope="module")
def screened():
    return fz.screen(fz.load_registry(SAMPLE), PROTOCOL, INDEX)


def _same(result, protocol, index) -> None:
    fresh = fz.screen(fz.load_registry(SAMPLE), protocol, index)
    assert_frame_equal(result.patient_status, fresh.patient_status)
    assert_frame_equal(result.funnel(), fresh.funnel())
    assert_frame_equal(result.impact(), fresh.impact())


def test_the_cache_holds_only_the_protocols_rows(screened):
    scopes = screened._state.scopes
    measurements = scopes["measurements"]
    assert measurements.hi == dt.date(2024, 6, 30)
    assert measurements.lo == dt.date(2024, 6, 30) - dt.timedelta(days=90)  # widest window
    assert "hemoglobin" in measurements.keys and "wbc" not in measurements.keys
    assert scopes["diagnoses"].keys  # the code lists, not every code
    full = fz.load_registry(SAMPLE).scan("measurements").collect()
    assert screened._state.frames["measurements"].height < full.height / 4


def test_relax_threshold_reads_nothing_again(screened, monkeypatch):
    reads: list[str] = []
    collect = evaluate.TableCache._collect

    def counting(self, table, lf):
        reads.append(table)
        return collect(self, table, lf)

    monkeypatch.setattr(evaluate.TableCache, "_collect", counting)
    relaxed = screened.relax("hemoglobin", threshold=7.5)
    assert reads == []
    _same(relaxed, relaxed.protocol, INDEX)


@pytest.mark.parametrize(
    "change",
    [
        lambda r: (r.relax("hemoglobin", window=365), INDEX),
        lambda r: (r.relax("ecog", window=400), INDEX),
        lambda r: (r.rescreen(r.protocol, "2025-03-31"), "2025-03-31"),
        lambda r: (r.rescreen("isatuximab-pomalidomide-dex", "2023-01-31"), "2023-01-31"),
    ],
    ids=["wider-window", "wider-item-window", "later-index", "other-protocol"],
)
def test_wider_needs_read_again_and_agree_with_a_fresh_screen(change):
    result = fz.screen(fz.load_registry(SAMPLE), PROTOCOL, INDEX)
    changed, index = change(result)
    _same(changed, changed.protocol, index)


def test_event_mode_after_a_fixed_screen_agrees_with_a_fresh_screen(screened):
    events = fz.IndexEvents(
        table="therapies",
        where="line_number >= 2",
        start=dt.date(2020, 1, 1),
        end=dt.date(2024, 6, 30),
    )
    _same(screened.rescreen(screened.protocol, events), PROTOCOL, events)


def test_scope_cover_and_union():
    narrow = Scope(frozenset({"a"}), dt.date(2024, 1, 1), dt.date(2024, 6, 30))
    wide = Scope(frozenset({"a", "b"}), dt.date(2023, 1, 1), dt.date(2024, 12, 31))
    assert wide.covers(narrow) and not narrow.covers(wide)
    assert Scope().covers(wide) and not wide.covers(Scope())
    both = narrow.union(Scope(frozenset({"b"}), None, dt.date(2024, 1, 1)))
    assert both == Scope(frozenset({"a", "b"}), None, dt.date(2024, 6, 30))
    per_key = Scope(
        frozenset({"a", "b"}),
        dt.date(2024, 1, 1),
        dt.date(2024, 6, 30),
        frozenset({("a", dt.date(2024, 1, 1)), ("b", dt.date(2024, 6, 1))}),
    )
    later_b = Scope(frozenset({"b"}), dt.date(2024, 6, 15), dt.date(2024, 6, 30))
    earlier_b = Scope(frozenset({"b"}), dt.date(2024, 3, 1), dt.date(2024, 6, 30))
    assert per_key.covers(later_b) and not per_key.covers(earlier_b)
