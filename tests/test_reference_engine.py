"""The reference engine (plain Python, written from the contract) and the polars engine
agree on the committed sample: every (patient, index) pair and every criterion, and so
patient_status, for both myeloma protocols, at a fixed date and in event mode.

The reference engine is slow, so the comparison runs on a deterministic third of the
sample's patients (every third patient_id in registry order), with all their rows.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import feasibility
from feasibility.engine.index import IndexEvents
from feasibility.engine.reference import ReferenceEngine
from feasibility.engine.seam import EngineRun, get_engine
from feasibility.protocol import load_protocol

SAMPLE = Path(__file__).resolve().parents[1] / "data_samples" / "registry"
PROTOCOLS = ["pomalidomide-ixazomib-dex", "isatuximab-pomalidomide-dex"]
INDEXES = {
    "fixed": dt.date(2024, 6, 30),
    "event": IndexEvents(
        "therapies", "line_number >= 2", dt.date(2020, 1, 1), dt.date(2024, 6, 30)
    ),
}
EVERY = 3


class Subset:
    """The sample restricted to some patients (all their rows), with the registry
    interface the engines use (``tables``, ``has``, ``missing_columns``)."""

    def __init__(self, base: Any, ids: list[str]) -> None:
        keep = pl.Series(ids, dtype=pl.String).implode()
        self.base = base
        self.tables = {
            t: lf.filter(pl.col("patient_id").is_in(keep)) for t, lf in base.tables.items()
        }

    def has(self, table: str) -> bool:
        return self.base.has(table)

    @property
    def missing_columns(self) -> dict[str, frozenset[str]]:
        return self.base.missing_columns


class KeepState(ReferenceEngine):
    """The reference engine reading the registry once for all the runs of this module."""

    def __init__(self) -> None:
        self.state: Any = None
        self.last: EngineRun | None = None

    def run(self, registry, protocol, index, *, progress=False, state=None) -> EngineRun:
        out = super().run(registry, protocol, index, progress=progress, state=state or self.state)
        self.state, self.last = out.state, out
        return out


@pytest.fixture(scope="module")
def registry() -> Subset:
    reg = feasibility.load_registry(SAMPLE)
    ids = reg.tables["patients"].select("patient_id").collect().to_series().to_list()
    return Subset(reg, ids[::EVERY])


@pytest.fixture(scope="module")
def reference() -> KeepState:
    return KeepState()


def _pairs(run: EngineRun, criteria: list[str]) -> pl.DataFrame:
    return run.pairs.select("patient_id", "index_date", *criteria).sort("patient_id", "index_date")


@pytest.mark.parametrize("mode", list(INDEXES))
@pytest.mark.parametrize("protocol_id", PROTOCOLS)
def test_reference_engine_agrees_with_polars(registry, reference, protocol_id, mode):
    protocol = load_protocol(protocol_id)
    index = INDEXES[mode]
    criteria = protocol.criterion_ids
    polars_result = feasibility.screen(registry, protocol, index, engine="polars")
    reference_result = feasibility.screen(registry, protocol, index, engine=reference)
    assert reference.last is not None
    got = _pairs(reference.last, criteria)
    want = _pairs(get_engine("polars").run(registry, protocol, index), criteria)
    assert got.select("patient_id", "index_date").equals(want.select("patient_id", "index_date"))
    assert got.height > 1000  # the comparison covers many pairs
    differing = {
        c: want.filter(want[c].ne_missing(got[c])).get_column("patient_id").head(5).to_list()
        for c in criteria
        if want[c].ne_missing(got[c]).any()
    }
    assert differing == {}, f"engines disagree (criterion: first patients): {differing}"
    assert reference_result.patient_status.equals(polars_result.patient_status)


def test_relax_and_rescreen_agree(registry, reference):
    """Relax hands the engine its state back: the relaxed funnels agree too."""
    fixed = INDEXES["fixed"]
    results = {
        name: feasibility.screen(registry, PROTOCOLS[0], fixed, engine=engine)
        for name, engine in (("polars", "polars"), ("reference", reference))
    }
    for name, result in results.items():
        results[name] = result.relax("hemoglobin", threshold=7.0).relax(
            "creatinine_clearance", window=60
        )
    assert results["reference"].funnel().equals(results["polars"].funnel())
    assert results["reference"].patient_status.equals(results["polars"].patient_status)
