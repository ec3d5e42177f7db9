"""Planted data-quality defects: rows that load but are wrong, each one recorded.

Every defect class has a documented rate per table (a fraction of that table's clean
rows, drawn binomially per chunk) and every planted row is written to
``_defects.csv`` as ``table, row, patient_id, column, defect`` where ``row`` is the
1-based data row of the written file. The record is exact:

* a row carries at most one defect class; duplicate copies are made only of rows
  without another defect, so a copy is never also something else;
* a changed row never equals a clean row (every class moves a value outside what
  clean rows hold), and if two changed rows happen to coincide, one is put back;
* clean rows have no defect of any class (``tables.py``).

Class semantics (``column`` in the record):

=========================  =================================================================
unit_outside_vocabulary    measurements.unit replaced by a unit outside ``schema.TESTS``
implausible_value          measurements.value outside ``PLAUSIBLE_RANGES`` after conversion
                           to the canonical unit (unit stays an accepted one)
missing_value              a column that must not be null is null (``MISSING_COLUMNS``)
duplicate_row              an exact copy of an earlier row of the same table, appended after
                           the rows of its chunk of patients (the record points at the copy)
before_birth               the event date (``schema.EVENT_DATE``) falls before birth_date;
                           intervals move as a whole, so end_date stays >= start_date
after_death                the event date falls after death_date (patients who died)
end_before_start           end_date set before start_date (medications, therapies)
orphan_patient_id          patient_id replaced by an id absent from ``patients``
sex_outside_vocabulary     patients.sex not F/M/U even after trimming and upper-casing
unknown_assessment_item    assessments.item outside ``schema.ASSESSMENT_ITEMS``
=========================  =================================================================
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from feasibility.plausibility import PLAUSIBLE_RANGES
from feasibility.schema import EVENT_DATE, INTERVALS, TESTS
from feasibility.synth import defects_dq
from feasibility.synth.dates import NO_DATE
from feasibility.synth.dates import date_series as _date_series
from feasibility.synth.units import decimals

DEFECT_CLASSES: tuple[str, ...] = (
    "unit_outside_vocabulary",
    "implausible_value",
    "missing_value",
    "duplicate_row",
    "before_birth",
    "after_death",
    "end_before_start",
    "orphan_patient_id",
    "sex_outside_vocabulary",
    "unknown_assessment_item",
)
LEVELS: tuple[str, ...] = ("none", "realistic", "heavy")
EVENT_TABLES: tuple[str, ...] = (
    "diagnoses",
    "measurements",
    "assessments",
    "medications",
    "procedures",
    "lesions",
    "therapies",
)

#: Per class and table, the fraction of clean rows given that defect at level "realistic".
#: Magnitudes follow what multi-site EHR extracts show: a few per thousand rows with a
#: local unit or a missing value, fewer impossible dates, rare orphans.
REALISTIC_RATES: dict[str, dict[str, float]] = {
    "unit_outside_vocabulary": {"measurements": 0.003},
    "implausible_value": {"measurements": 0.002},
    "missing_value": {
        "measurements": 0.003,
        "assessments": 0.002,
        "diagnoses": 0.002,
        "medications": 0.002,
        "procedures": 0.002,
        "lesions": 0.005,
        "therapies": 0.003,
    },
    "duplicate_row": {t: 0.004 for t in EVENT_TABLES},
    "before_birth": {t: 0.0005 for t in EVENT_TABLES},
    "after_death": {t: 0.001 for t in EVENT_TABLES},
    "end_before_start": {"medications": 0.003, "therapies": 0.004},
    "orphan_patient_id": {t: 0.001 for t in EVENT_TABLES},
    "sex_outside_vocabulary": {"patients": 0.004},
    "unknown_assessment_item": {"assessments": 0.003},
}
#: "heavy" multiplies every realistic rate by this factor.
HEAVY_FACTOR = 5.0

#: Columns that the contract requires to be filled, where missing values are planted.
MISSING_COLUMNS: dict[str, tuple[str, ...]] = {
    "measurements": ("value", "measured_on"),
    "assessments": ("value", "assessed_on"),
    "diagnoses": ("code", "diagnosed_on"),
    "medications": ("drug", "start_date"),
    "procedures": ("performed_on",),
    "lesions": ("longest_diameter_cm", "imaged_on"),
    "therapies": ("start_date", "regimen"),
}

#: Local units that are not in the contract vocabulary (none equals an accepted unit in
#: any letter case).
BAD_UNITS: dict[str, tuple[str, ...]] = {
    "creatinine": ("mg/L", "mmol/L"),
    "hemoglobin": ("mmol/L", "g/100mL"),
    "platelets": ("K/uL", "x10E3/uL", "cells/uL"),
    "anc": ("K/uL", "x10E3/uL", "cells"),
    "wbc": ("K/uL", "x10E3/uL", "Gpt/L"),
    "plasma_cells_pct": ("ratio", "%WBC"),
    "plasma_cells_abs": ("cells/L", "K/mcL"),
    "plasma_cells_flow": ("events", "/100000 events"),
    "weight": ("g", "oz", "st"),
    "qtc": ("msec", "s"),
}
BAD_SEX: tuple[str, ...] = ("Male", "Female", "X", "1", "2", "O", "Unknown")
BAD_ITEMS: tuple[str, ...] = ("karnofsky", "ecog_ps", "performance_status", "pain_score")


def rates_for(level: str) -> dict[str, dict[str, float]]:
    """The rate table of a defect level ('none' gives all zeros)."""
    if level not in LEVELS:
        raise ValueError(f"defects must be one of {', '.join(LEVELS)}, not {level!r}")
    factor = {"none": 0.0, "realistic": 1.0, "heavy": HEAVY_FACTOR}[level]
    return {cls: {t: r * factor for t, r in per.items()} for cls, per in REALISTIC_RATES.items()}


@dataclass
class Planted:
    """A chunk table after planting, and its defect records (0-based rows in the frame)."""

    frame: pl.DataFrame
    rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    columns: list[str] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)


class _Planter:
    """Plants in-place defects into one table of one chunk, one class at a time."""

    def __init__(self, rng: np.random.Generator, df: pl.DataFrame, n_total: int) -> None:
        self.rng = rng
        self.clean = df
        self.cols = {c: df[c].clone() for c in df.columns}
        self.n = df.height
        self.taken = np.zeros(self.n, dtype=bool)
        self.n_total = n_total
        self.rec_rows: list[np.ndarray] = []
        self.rec_cols: list[np.ndarray] = []
        self.rec_cls: list[str] = []

    def choose(self, rate: float, eligible: np.ndarray | None = None) -> np.ndarray:
        """Pick ~rate * n untaken eligible rows (binomial count), mark them taken."""
        if rate <= 0 or self.n == 0:
            return np.zeros(0, dtype=np.int64)
        ok = ~self.taken if eligible is None else (~self.taken & eligible)
        pool = np.nonzero(ok)[0]
        k = min(int(self.rng.binomial(self.n, rate)), len(pool))
        rows = np.sort(self.rng.choice(pool, size=k, replace=False)) if k else pool[:0]
        self.taken[rows] = True
        return rows

    def record(self, rows: np.ndarray, cls: str, column: str | np.ndarray) -> None:
        self.rec_rows.append(rows)
        self.rec_cols.append(np.broadcast_to(np.asarray(column, dtype=object), rows.shape))
        self.rec_cls.extend([cls] * len(rows))

    def set(self, col: str, rows: np.ndarray, values) -> None:
        """Replace ``col[rows]`` by ``values`` (a numpy array or a polars series)."""
        if len(rows) == 0:
            return
        s = self.cols[col]
        new = values if isinstance(values, pl.Series) else pl.Series(values)
        self.cols[col] = s.scatter(rows, new.cast(s.dtype))

    def days(self, col: str) -> np.ndarray:
        """A date column as int64 days, NO_DATE for null."""
        return self.cols[col].cast(pl.Int32).fill_null(NO_DATE).to_numpy().astype(np.int64)


def _implausible(rng: np.random.Generator, test: np.ndarray, unit: np.ndarray) -> np.ndarray:
    """Values outside PLAUSIBLE_RANGES after conversion, expressed in each row's unit."""
    out = np.empty(len(test))
    high_side = rng.random(len(test)) < 0.6
    for name, (low, high) in PLAUSIBLE_RANGES.items():
        m = test == name
        if not m.any():
            continue
        k = int(m.sum())
        above = high * rng.uniform(1.5, 5.0, k)
        below = (
            low * rng.uniform(0.05, 0.6, k)
            if low > 0
            else -rng.uniform(1.0, 50.0, k) * max(high / 1000.0, 1.0)
        )
        canonical = np.where(high_side[m], above, below)
        units = unit[m]
        f = np.empty(k)
        value = np.empty(k)
        # Expressed in the row's unit, rounded as the site would report it (whole at most).
        for u, factor in TESTS[name].factors.items():
            rows = units == u
            f[rows] = factor
            value[rows] = np.round(canonical[rows] / factor, max(decimals(name, u), 0))
        conv = value * f
        inside = (conv >= low) & (conv <= high)
        value[inside] = (high * 10.0) / f[inside]
        out[m] = value
    return out


def plant_table(
    rng: np.random.Generator,
    table: str,
    df: pl.DataFrame,
    rates: dict[str, dict[str, float]],
    birth: np.ndarray,
    death: np.ndarray,
    first: int,
    n_total: int,
) -> Planted:
    """Plant every applicable defect class into a clean chunk table (``p`` = local patient).

    Returns the frame with a ``pid`` column (global patient number; orphans get numbers
    above ``n_total``) in place of ``p``, and the records with 0-based rows of that frame.
    """
    pl_ = _Planter(rng, df, n_total)
    rate = {cls: per.get(table, 0.0) for cls, per in rates.items()}
    p = df["p"].to_numpy()

    if table == "patients":
        rows = pl_.choose(rate["sex_outside_vocabulary"])
        pl_.set(
            "sex",
            rows,
            np.asarray(BAD_SEX, dtype=object)[rng.integers(0, len(BAD_SEX), len(rows))].tolist(),
        )
        pl_.record(rows, "sex_outside_vocabulary", "sex")

    if table == "measurements":
        rows = pl_.choose(rate["unit_outside_vocabulary"])
        test = df["test"].gather(rows).to_numpy()
        bad = np.empty(len(rows), dtype=object)
        for name, units in BAD_UNITS.items():
            m = test == name
            bad[m] = np.asarray(units, dtype=object)[rng.integers(0, len(units), int(m.sum()))]
        pl_.set("unit", rows, bad.tolist())
        pl_.record(rows, "unit_outside_vocabulary", "unit")

        rows = pl_.choose(rate["implausible_value"])
        test, unit = df["test"].gather(rows).to_numpy(), df["unit"].gather(rows).to_numpy()
        pl_.set("value", rows, _implausible(rng, test, unit))
        pl_.record(rows, "implausible_value", "value")

    if table == "assessments":
        rows = pl_.choose(rate["unknown_assessment_item"])
        pl_.set(
            "item",
            rows,
            np.asarray(BAD_ITEMS, dtype=object)[
                rng.integers(0, len(BAD_ITEMS), len(rows))
            ].tolist(),
        )
        pl_.record(rows, "unknown_assessment_item", "item")

    if table in EVENT_TABLES:
        ev = EVENT_DATE[table]
        start = pl_.days(ev)
        end_col = INTERVALS.get(table, (None, None))[1]
        end = pl_.days(end_col) if end_col else None

        if end_col is not None:  # an interval table
            rows = pl_.choose(rate["end_before_start"])
            pl_.set(end_col, rows, _date_series(start[rows] - rng.integers(1, 121, len(rows))))
            pl_.record(rows, "end_before_start", end_col)

        def move(rows: np.ndarray, new_start: np.ndarray) -> None:
            pl_.set(ev, rows, _date_series(new_start))
            if end is not None and end_col is not None:
                e = end[rows]
                moved = np.where(e == NO_DATE, NO_DATE, e + (new_start - start[rows]))
                pl_.set(end_col, rows, _date_series(moved))

        rows = pl_.choose(rate["before_birth"])
        move(rows, birth[p[rows]] - rng.integers(1, 3651, len(rows)))
        pl_.record(rows, "before_birth", ev)

        rows = pl_.choose(rate["after_death"], eligible=death[p] != NO_DATE)
        move(rows, death[p[rows]] + rng.integers(1, 731, len(rows)))
        pl_.record(rows, "after_death", ev)

        rows = pl_.choose(rate["missing_value"])
        options = MISSING_COLUMNS[table]
        which = rng.integers(0, len(options), len(rows))
        for i, col in enumerate(options):
            sub = rows[which == i]
            pl_.set(col, sub, pl.Series([None] * len(sub), dtype=pl_.cols[col].dtype))
            pl_.record(sub, "missing_value", col)

        rows = pl_.choose(rate["orphan_patient_id"])
        orphan_rows = rows
        pl_.record(rows, "orphan_patient_id", "patient_id")
    else:
        orphan_rows = np.zeros(0, dtype=np.int64)

    defects_dq.plant(pl_, rng, table, df, rate, first)  # issue 15 classes, when enabled
    return _finish(pl_, first, orphan_rows, rate.get("duplicate_row", 0.0))


def _finish(pl_: _Planter, first: int, orphan_rows: np.ndarray, dup_rate: float) -> Planted:
    """Give orphans unknown ids, undo coinciding changes, append duplicate copies."""
    rng = pl_.rng
    clean_pid = pl_.clean["p"].to_numpy().astype(np.int64) + first + 1
    pid = clean_pid.copy()
    pid[orphan_rows] = pl_.n_total + rng.integers(1, 10_000_000, len(orphan_rows))
    names = [c for c in pl_.clean.columns if c != "p"]
    frame = pl.DataFrame({"pid": pid, **{c: pl_.cols[c] for c in names}})
    if pl_.rec_rows:
        rows = np.concatenate(pl_.rec_rows).astype(np.int64)
        columns = np.concatenate(pl_.rec_cols)
    else:
        rows, columns = np.zeros(0, np.int64), np.zeros(0, dtype=object)
    classes = np.asarray(pl_.rec_cls, dtype=object)

    # A changed row never equals a clean one, but two changed rows may coincide: undo the later.
    if len(rows):
        order = np.argsort(rows, kind="stable")
        rows, columns, classes = rows[order], columns[order], classes[order]
        changed = frame[rows]
        again = ~changed.select(pl.struct(pl.all()).is_first_distinct()).to_series().to_numpy()
        if again.any():
            undo = rows[again]
            frame = frame.with_columns(
                pid=frame["pid"].scatter(undo, pl.Series(clean_pid[undo])),
                **{c: frame[c].scatter(undo, pl_.clean[c].gather(undo)) for c in names},
            )
            keep = ~again
            rows, columns, classes = rows[keep], columns[keep], classes[keep]

    # Exact copies of clean rows, appended after the chunk's rows (as a re-sent batch).
    src = pl_.choose(dup_rate)
    if len(src):
        frame = pl.concat([frame, frame[src]], rechunk=False)
    rows = np.concatenate([rows, pl_.n + np.arange(len(src))]).astype(np.int64)
    columns = np.concatenate([columns, np.full(len(src), None, dtype=object)])
    classes = np.concatenate([classes, np.full(len(src), "duplicate_row", dtype=object)])
    return Planted(frame=frame, rows=rows, columns=list(columns), classes=list(classes))


@contextlib.contextmanager
def enabled() -> Iterator[None]:
    """Plant the screening-specific classes of :mod:`defects_dq` too (at every level's
    factor) while the block runs: they join the defect classes, rates and manifest."""
    global DEFECT_CLASSES
    saved = (DEFECT_CLASSES, dict(REALISTIC_RATES))
    DEFECT_CLASSES = (*DEFECT_CLASSES, *defects_dq.CLASSES)
    REALISTIC_RATES.update(defects_dq.REALISTIC_RATES)
    try:
        yield
    finally:
        DEFECT_CLASSES, rates = saved
        REALISTIC_RATES.clear()
        REALISTIC_RATES.update(rates)
