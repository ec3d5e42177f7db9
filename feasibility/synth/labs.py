"""Measurements (labs, weight, QTc) and assessments (ECOG, neuropathy, ...) at visits.

Each test is recorded at a visit with a probability that depends on the visit kind
(follow-up, screening before a line, diagnostic work-up), so some screening windows
have no value and the criterion is ``unknown``, as in real data. Values come from a
per-patient baseline plus visit noise, calibrated so that at the line-2 start about
5% of relapsed patients have hemoglobin < 8 g/dL, 5% platelets <= 75,000 /mm3 and
6% a Cockcroft-Gault clearance <= 30 mL/min (INSIGHT MM), and 5-12% a QTc > 470 ms.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from feasibility.synth.cohort import Cohort
from feasibility.synth.dates import NO_DATE, YEAR
from feasibility.synth.draw import between, pick, strings
from feasibility.synth.draw import repeat as _repeat
from feasibility.synth.lines import Lines
from feasibility.synth.units import report, units_for
from feasibility.synth.visits import KIND_SCREENING, Visits

#: Probability a test is recorded at a (follow-up, screening, diagnosis, intensive) visit.
P_RECORDED: dict[str, tuple[float, float, float, float]] = {
    "creatinine": (0.93, 0.96, 0.98, 0.95),
    "hemoglobin": (0.95, 0.97, 0.99, 0.97),
    "platelets": (0.95, 0.97, 0.99, 0.97),
    "anc": (0.85, 0.95, 0.95, 0.93),
    "wbc": (0.90, 0.95, 0.98, 0.95),
    "weight": (0.35, 0.85, 0.90, 0.80),
    "qtc": (0.03, 0.65, 0.50, 0.50),
    "plasma_cells_pct": (0.03, 0.15, 0.30, 0.30),
    "plasma_cells_abs": (0.01, 0.05, 0.10, 0.10),
    "plasma_cells_flow": (0.01, 0.08, 0.20, 0.10),
}
#: In plasma cell leukaemia, circulating plasma cells are followed at most visits.
P_RECORDED_PCL: dict[str, tuple[float, float, float, float]] = {
    "plasma_cells_pct": (0.70, 0.90, 0.95, 0.90),
    "plasma_cells_abs": (0.40, 0.60, 0.70, 0.60),
    "plasma_cells_flow": (0.30, 0.50, 0.60, 0.50),
}

#: Clean values stay inside these canonical bounds (well within PLAUSIBLE_RANGES).
_CLIP = {
    "creatinine": (0.3, 15.0),
    "hemoglobin": (4.5, 17.5),
    "platelets": (5_000.0, 900_000.0),
    "anc": (100.0, 30_000.0),
    "wbc": (300.0, 200_000.0),
    "weight": (38.0, 185.0),
    "qtc": (340.0, 600.0),
}


def _pcl_state(c: Cohort, ln: Lines, v: Visits) -> np.ndarray:
    onset = ln.pcl_line[v.p]
    return (onset > 0) & ((v.line >= onset) | (onset == 1))


def _values(rng: np.random.Generator, test: str, c: Cohort, p: np.ndarray, pcl: np.ndarray):
    n = len(p)
    if test == "hemoglobin":
        x = c.hb[p] + rng.normal(0.0, 0.9, n) - 0.8 * pcl
    elif test == "platelets":
        x = c.plt[p] * rng.lognormal(0.0, 0.25, n) * np.where(pcl, 0.6, 1.0)
    elif test == "anc":
        x = c.anc[p] * rng.lognormal(0.0, 0.3, n)
    elif test == "wbc":
        x = c.anc[p] / 0.6 * rng.lognormal(0.0, 0.25, n) * np.where(pcl, 3.0, 1.0)
    elif test == "creatinine":
        x = c.creat[p] * rng.lognormal(0.0, 0.12, n)
    elif test == "weight":
        x = c.weight[p] + rng.normal(0.0, 1.5, n)
    elif test == "qtc":
        x = c.qtc[p] + rng.normal(0.0, 12.0, n)
    elif test == "plasma_cells_pct":
        low = np.where(rng.random(n) < 0.7, 0.0, rng.uniform(0.1, 4.0, n))
        return np.where(pcl, np.clip(rng.lognormal(np.log(18.0), 0.6, n), 5.5, 95.0), low)
    elif test == "plasma_cells_abs":
        low = np.where(rng.random(n) < 0.6, 0.0, rng.uniform(0.01, 0.3, n))
        return np.where(pcl, np.clip(rng.lognormal(np.log(1.8), 0.7, n), 0.6, 150.0), low)
    elif test == "plasma_cells_flow":
        low = np.floor(rng.uniform(0, 151, n))
        return np.where(pcl, np.clip(rng.lognormal(np.log(1500), 0.8, n), 210, 140_000), low)
    else:  # pragma: no cover - the test list is fixed
        raise KeyError(test)
    lo, hi = _CLIP[test]
    return np.clip(x, lo, hi)


def measurements(rng: np.random.Generator, c: Cohort, ln: Lines, v: Visits) -> pl.DataFrame:
    """One row per recorded test per visit, in the site's unit and rounding.

    Rows come out ordered by visit (patient, date) then test, so no sort is needed.
    """
    pcl = _pcl_state(c, ln, v)
    tests = list(P_RECORDED)
    prob = np.empty((len(v), len(tests)), dtype=np.float32)
    for j, test in enumerate(tests):
        p_rec = np.asarray(P_RECORDED[test])[v.kind]
        if test in P_RECORDED_PCL:
            p_rec = np.where(pcl, np.asarray(P_RECORDED_PCL[test])[v.kind], p_rec)
        prob[:, j] = p_rec
    visit, which = np.nonzero(rng.random(prob.shape, dtype=np.float32) < prob)
    p_all = v.p[visit]
    values = np.empty(len(visit))
    unit = np.empty(len(visit), dtype=np.uint32)
    vocabulary: list[str] = []
    for j, test in enumerate(tests):
        rows = np.nonzero(which == j)[0]
        p = p_all[rows]
        canonical = _values(rng, test, c, p, pcl[visit[rows]])
        values[rows], local = report(rng, test, canonical, c.site[p])
        unit[rows] = local + len(vocabulary)
        vocabulary.extend(units_for(test))
    return pl.DataFrame(
        {
            "p": p_all,
            "test": strings(tests, which),
            "value": values,
            "unit": strings(vocabulary, unit),
            "measured_on": v.date[visit],
        }
    )


def _neuropathy(rng: np.random.Generator, c: Cohort, ln: Lines) -> tuple[np.ndarray, np.ndarray]:
    """Per patient: neuropathy onset day (NO_DATE if none) and its grade.

    Bortezomib-induced neuropathy in ~38% of exposed patients (any grade, APEX ~37%),
    plus ~5% with a pre-existing (e.g. diabetic) grade-1 neuropathy from diagnosis.
    """
    n = c.n
    bz = ln.bortezomib_start != NO_DATE
    induced = bz & (rng.random(n) < 0.38)
    onset = np.full(n, NO_DATE, dtype=np.int64)
    onset[induced] = ln.bortezomib_start[induced] + rng.integers(30, 151, n)[induced]
    grade = np.where(induced, pick(rng, (0.55, 0.33, 0.10, 0.02), n) + 1, 0)
    baseline = ~induced & (rng.random(n) < 0.05)
    onset[baseline] = c.dx[baseline] - 1
    grade[baseline] = 1
    return onset, grade


def assessments(rng: np.random.Generator, c: Cohort, ln: Lines, v: Visits) -> pl.DataFrame:
    """ECOG, neuropathy (grade, pain), diarrhoea, and for women childbearing items."""
    n_v = len(v)
    kind = v.kind
    frames: list[pl.DataFrame] = []

    def add(rows: np.ndarray, item: str, values: pl.Series) -> None:
        frames.append(
            pl.DataFrame(
                {
                    "p": v.p[rows],
                    "item": _repeat(item, len(rows)),
                    "value": values,
                    "assessed_on": v.date[rows],
                }
            )
        )

    grades = ("0", "1", "2", "3", "4", "5")
    # ECOG: the patient's baseline, +-1 at 10% of visits each.
    rows = np.nonzero(rng.random(n_v) < np.array([0.75, 0.92, 0.90, 0.92])[kind])[0]
    ecog = np.clip(c.ecog[v.p[rows]] + pick(rng, (0.1, 0.8, 0.1), len(rows)) - 1, 0, 4)
    add(rows, "ecog", strings(grades, ecog))

    onset, grade = _neuropathy(rng, c, ln)
    rows = np.nonzero(rng.random(n_v) < np.array([0.55, 0.85, 0.80, 0.85])[kind])[0]
    p = v.p[rows]
    g = np.where(v.date[rows] >= onset[p], grade[p], 0)
    g = np.maximum(g - (rng.random(len(rows)) < 0.15), 0)
    add(rows, "neuropathy_grade", strings(grades, g))
    pain_patient = rng.random(c.n) < 0.4
    with_pain = rows[(g >= 2) & (rng.random(len(rows)) < 0.9)]
    add(with_pain, "neuropathy_pain", _yes_no(c, pain_patient[v.p[with_pain]], v.p[with_pain]))  # fmt: skip

    rows = np.nonzero(rng.random(n_v) < np.array([0.35, 0.70, 0.60, 0.70])[kind])[0]
    add(rows, "diarrhea_grade", strings(grades, pick(rng, (0.86, 0.10, 0.03, 0.01), len(rows))))  # fmt: skip

    # Women: childbearing potential by age; breastfeeding and pregnancy tests if yes.
    age = (v.date - c.birth[v.p]) / YEAR
    woman = c.sex[v.p] == 0
    cbp_patient = rng.random(c.n) < np.where(c.age_dx < 45, 0.75, np.where(c.age_dx < 52, 0.3, 0.0))
    cbp = cbp_patient[v.p] & (age < 55)
    asked = woman & (rng.random(n_v) < np.where(kind == KIND_SCREENING, 0.9, 0.1))
    asked &= (age < 55) | (rng.random(n_v) < 0.3)
    rows = np.nonzero(asked)[0]
    add(rows, "childbearing_potential", _yes_no(c, cbp[rows], v.p[rows]))
    nursing_patient = rng.random(c.n) < 0.01
    rows = np.nonzero(woman & cbp & (kind == KIND_SCREENING) & (rng.random(n_v) < 0.8))[0]
    add(rows, "breastfeeding", _yes_no(c, nursing_patient[v.p[rows]], v.p[rows]))

    # Pregnancy test 0-6 days before each line start for women of childbearing potential.
    lp = ln.p
    tested = (
        (c.sex[lp] == 0)
        & cbp_patient[lp]
        & ((ln.start - c.birth[lp]) / YEAR < 55)
        & (rng.random(len(lp)) < 0.85)
    )
    idx = np.nonzero(tested)[0]
    dates = between(rng, ln.start[idx] - 6, ln.start[idx])
    result = np.where(rng.random(len(idx)) < 0.997, 0, 1)
    values = _capitalise_at_site(strings(("negative", "positive"), result), c.site[lp[idx]])
    frames.append(
        pl.DataFrame(
            {
                "p": lp[idx],
                "item": _repeat("pregnancy_test", len(idx)),
                "value": values,
                "assessed_on": dates.astype(np.int32),
            }
        )
    )
    return pl.concat(frames)


#: Site S03 sends categorical answers capitalised ("Yes", "Negative"): values are
#: case-insensitive by contract.
_CAPITALISING_SITE = 2


def _capitalise_at_site(values: pl.Series, site: np.ndarray) -> pl.Series:
    mask = pl.Series(site == _CAPITALISING_SITE)
    return pl.select(pl.when(mask).then(values.str.to_titlecase()).otherwise(values)).to_series()


def _yes_no(c: Cohort, yes: np.ndarray, p: np.ndarray) -> pl.Series:
    return _capitalise_at_site(strings(("no", "yes"), yes.astype(np.int32)), c.site[p])
