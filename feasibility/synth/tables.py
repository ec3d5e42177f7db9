"""Assemble the eight contract tables of one chunk of patients, clean and date-shifted.

Dates are drawn on the true calendar, then every date of a patient is moved by the
same per-patient offset (``dates.SHIFT_RANGE``), as de-identification does: intervals
between a patient's own dates are unchanged, calendar dates are not the real ones.
The clean tables have no defect of any class: every event lies between birth and
death (or the data cutoff), intervals end on or after their start, all contract
columns that must not be null are filled, and there are no exact duplicate rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from feasibility.schema import EVENT_DATE, TABLES
from feasibility.synth.clinical import diagnoses, lesions, procedures
from feasibility.synth.cohort import ETHNICITY, RACE, SEX, SITES, Cohort, draw_cohort
from feasibility.synth.dates import NO_DATE
from feasibility.synth.draw import strings
from feasibility.synth.infections import infection_rows
from feasibility.synth.labs import assessments, measurements
from feasibility.synth.lines import INVESTIGATIONAL, REGIMEN_NAMES, Lines, draw_lines
from feasibility.synth.meds import medications
from feasibility.synth.settings import Setting
from feasibility.synth.units import CODE_STYLE
from feasibility.synth.visits import draw_visits

#: Date columns per table (all shifted per patient).
DATE_COLUMNS: dict[str, tuple[str, ...]] = {
    "patients": ("birth_date", "death_date"),
    "diagnoses": ("diagnosed_on",),
    "measurements": ("measured_on",),
    "assessments": ("assessed_on",),
    "medications": ("start_date", "end_date"),
    "procedures": ("performed_on",),
    "lesions": ("imaged_on",),
    "therapies": ("start_date", "end_date"),
}


_UNIQUE_BY_CONSTRUCTION = frozenset({"patients", "measurements", "assessments", "diagnoses"})
#: Built in (patient, date) order already: patients by number, measurements visit by visit,
#: diagnoses by their packed (patient, day, code) key (codes.CodeRows).
_SORTED_BY_CONSTRUCTION = frozenset({"patients", "measurements", "diagnoses"})


@dataclass
class Chunk:
    """Clean tables of one chunk, plus what defect planting needs to know."""

    first: int  # global number of the chunk's first patient, minus one
    tables: dict[str, pl.DataFrame]  # contract columns + ``p`` (local patient index)
    birth: np.ndarray  # shifted birth day per local patient
    death: np.ndarray  # shifted death day or NO_DATE


def _patients(c: Cohort) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "p": np.arange(c.n, dtype=np.int32),
            "sex": strings(SEX, c.sex),
            "birth_date": c.birth.astype(np.int64),
            "race": strings(RACE, c.race),
            "ethnicity": strings(ETHNICITY, c.ethnicity),
            "site": strings(SITES, c.site),
            "death_date": c.death.astype(np.int64),
        }
    )


def _therapies(ln: Lines) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "p": ln.p,
            "line_number": ln.line.astype(np.int64),
            "regimen": strings(REGIMEN_NAMES, ln.regimen),
            "start_date": ln.start.astype(np.int64),
            "end_date": ln.end.astype(np.int64),
            "investigational": INVESTIGATIONAL[ln.regimen],
        }
    )


def _style_codes(rng: np.random.Generator, df: pl.DataFrame, site: np.ndarray) -> pl.DataFrame:
    """Undot codes at undotting sites and lower-case a share, as sites send them."""
    s = site[df["p"].to_numpy()]
    undotted = np.array([not dotted for dotted, _ in CODE_STYLE])[s]
    lower = rng.random(len(df)) < np.array([share for _, share in CODE_STYLE])[s]
    code = pl.col("code")
    code = (
        pl.when(pl.Series(undotted)).then(code.str.replace(".", "", literal=True)).otherwise(code)
    )
    code = pl.when(pl.Series(lower)).then(code.str.to_lowercase()).otherwise(code)
    return df.with_columns(code=code)


def _finalise(name: str, df: pl.DataFrame, c: Cohort) -> pl.DataFrame:
    """Keep events inside life, shift dates, order rows, drop exact duplicates."""
    p = df["p"].to_numpy()
    cols = {}
    if name != "patients":
        event = df[EVENT_DATE[name]].to_numpy()
        inside = (event >= c.birth[p]) & (event <= c.end_fu[p])
        if not inside.all():
            df = df.filter(pl.Series(inside))
            p = p[inside]
    shift = c.shift[p].astype(np.int64)
    for col in DATE_COLUMNS[name]:
        raw = df[col].to_numpy().astype(np.int64)
        missing = raw == NO_DATE
        days = pl.Series(col, (raw + shift).astype(np.int32))
        if missing.any():
            days = days.set(pl.Series(missing), None)
        cols[col] = days.cast(pl.Date)
    df = df.with_columns(**cols)
    if name not in _SORTED_BY_CONSTRUCTION:
        df = df.sort(["p", EVENT_DATE[name]], maintain_order=True)
    df = df.select(["p", *list(TABLES[name])[1:]])
    # Measurements and assessments are unique by construction (one test or item per visit
    # date); the other tables can repeat an event and are de-duplicated here.
    return df if name in _UNIQUE_BY_CONSTRUCTION else df.unique(maintain_order=True)


def build_chunk(rng: np.random.Generator, first: int, n: int, setting: Setting) -> Chunk:
    """Draw ``n`` patients (numbered after ``first``) and all their clean tables."""
    c = draw_cohort(rng, first, n, setting)
    ln = draw_lines(rng, c, setting)
    v = draw_visits(rng, c, ln)
    inf_dx, inf_meds = infection_rows(rng, c, ln)
    raw = {
        "patients": _patients(c),
        "diagnoses": _style_codes(rng, diagnoses(rng, c, ln, v, [inf_dx]), c.site),
        "measurements": measurements(rng, c, ln, v),
        "assessments": assessments(rng, c, ln, v),
        "medications": pl.concat([medications(rng, c, ln), inf_meds], how="vertical_relaxed"),
        "procedures": procedures(rng, c, ln),
        "lesions": lesions(rng, c, ln),
        "therapies": _therapies(ln),
    }
    tables = {name: _finalise(name, df, c) for name, df in raw.items()}
    birth = (c.birth + c.shift).astype(np.int64)
    death = np.where(c.death == NO_DATE, NO_DATE, c.death.astype(np.int64) + c.shift)
    return Chunk(first=first, tables=tables, birth=birth, death=death)
