"""Measurements (labs, weight, QTc) and assessments (ECOG, neuropathy, ...) at visits.

Each test is recorded at a visit with a probability that depends on the visit kind
(on-therapy follow-up, relapse work-up, diagnosis, off therapy), so some screening
windows have no value and the criterion is ``unknown``, as in real data. Values follow
the disease state (``state.py``): a per-patient healthy value moved by the disease
burden (anaemia, thrombocytopenia, neutropenia and cast nephropathy are worst at
diagnosis and clinical relapse, recover on response), by myelosuppressive therapy and
by a marrow reserve that shrinks line by line. ECOG worsens with burden, late lines and
extramedullary/leukaemic disease; bortezomib neuropathy improves after the drug stops.
Targets: ``targets.py``.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from feasibility.synth.cohort import Cohort
from feasibility.synth.dates import NO_DATE, YEAR
from feasibility.synth.draw import between, pick, strings
from feasibility.synth.draw import repeat as _repeat
from feasibility.synth.lines import Lines
from feasibility.synth.regimens import BORTEZOMIB, CD38, CLASSES, LEN, POM, TCELL
from feasibility.synth.units import report, units_for
from feasibility.synth.visits import KIND_SCREENING, Visits

#: Probability a test is recorded at a (follow-up on therapy, relapse work-up, diagnosis,
#: follow-up with EMD/PCL, follow-up off therapy) visit. Counts and chemistry at nearly
#: every visit; weight at clinician visits; an ECG (QTc) at work-ups; circulating plasma
#: cells (manual differential, flow) at half of relapse work-ups and at diagnosis.
P_RECORDED: dict[str, tuple[float, ...]] = {
    "creatinine": (0.90, 0.96, 0.98, 0.95, 0.90),
    "hemoglobin": (0.96, 0.97, 0.99, 0.97, 0.94),
    "platelets": (0.96, 0.97, 0.99, 0.97, 0.94),
    "anc": (0.90, 0.95, 0.95, 0.93, 0.85),
    "wbc": (0.40, 0.95, 0.98, 0.95, 0.60),
    "weight": (0.25, 0.85, 0.90, 0.80, 0.50),
    "qtc": (0.01, 0.55, 0.50, 0.30, 0.02),
    "plasma_cells_pct": (0.01, 0.50, 0.60, 0.30, 0.02),
    "plasma_cells_abs": (0.005, 0.10, 0.15, 0.10, 0.01),
    "plasma_cells_flow": (0.005, 0.20, 0.30, 0.10, 0.01),
}
#: When plasma cell leukaemia is suspected (circulating plasma cells on the smear:
#: leukaemic disease present), plasma-cell measures are ordered at most visits.
P_RECORDED_PCL: dict[str, tuple[float, ...]] = {
    "plasma_cells_pct": (0.80, 0.90, 0.95, 0.90, 0.80),
    "plasma_cells_abs": (0.50, 0.60, 0.70, 0.60, 0.50),
    "plasma_cells_flow": (0.40, 0.60, 0.60, 0.50, 0.40),
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


#: Assessment recording by visit kind (as P_RECORDED). ECOG is charted at a minority of
#: routine visits and most work-ups (real-world records miss it often).
P_ECOG = (0.20, 0.50, 0.60, 0.40, 0.25)
P_NEUROPATHY = (0.30, 0.70, 0.60, 0.50, 0.25)
P_DIARRHEA = (0.15, 0.50, 0.40, 0.30, 0.10)
#: Worst grade 1-4 of bortezomib neuropathy (team estimate; ~10% grade >= 3).
NEUROPATHY_GRADE_P = (0.55, 0.35, 0.09, 0.01)

_MYELOSUPPRESSIVE = (CLASSES & (LEN | POM | CD38 | TCELL)) != 0


def _pcl_state(c: Cohort, ln: Lines, v: Visits) -> np.ndarray:
    return ln.pcl_day[v.p] <= v.date


def _values(
    rng: np.random.Generator,
    test: str,
    c: Cohort,
    p: np.ndarray,
    pcl: np.ndarray,
    b: np.ndarray,
    line: np.ndarray,
    tox: np.ndarray,
) -> np.ndarray:
    """Canonical values at burden ``b`` (0..1) on line ``line``; ``tox``: on myelosuppressive
    therapy (IMiD, anti-CD38 or T-cell redirecting)."""  # fmt: skip
    n = len(p)
    reserve = 1.0 + 0.15 * np.maximum(line - 1, 0)  # marrow reserve shrinks line by line
    if test == "hemoglobin":
        deficit = (c.hb_norm[p] - c.hb_dx[p]) * b * reserve
        x = c.hb_norm[p] - deficit - 0.3 * tox - 0.35 * np.minimum(line, 4) - 0.8 * pcl
        x = x + rng.normal(0.0, 0.6, n)
    elif test == "platelets":
        x = c.plt_norm[p] * np.exp(-c.k_plt[p] * b * reserve) * np.where(tox, 0.85, 1.0)
        x = x * rng.lognormal(0.0, 0.15, n) * np.where(pcl, 0.6, 1.0)
    elif test in ("anc", "wbc"):
        x = c.anc_norm[p] * np.exp(-c.k_anc[p] * b * reserve) * np.where(tox, 0.75, 1.0)
        x = x * rng.lognormal(0.0, 0.25, n)
        if test == "wbc":
            x = x / 0.6 * rng.lognormal(0.0, 0.1, n) * np.where(pcl, 3.0, 1.0)
    elif test == "creatinine":
        # Cast nephropathy follows the light-chain load: it needs a high burden to recur.
        x = c.creat_norm[p] * (1.0 + c.renal[p] * (0.15 + 0.85 * b**3)) * rng.lognormal(0.0, 0.1, n)
    elif test == "weight":
        x = c.weight[p] - 3.0 * b + rng.normal(0.0, 1.5, n)
    elif test == "qtc":
        x = c.qtc[p] + rng.normal(0.0, 12.0, n)
    elif test == "plasma_cells_pct":
        low = np.where(rng.random(n) < 0.7, 0.0, rng.uniform(0.1, 4.0, n) * b)
        high = np.clip(rng.lognormal(np.log(30.0), 0.5, n) * b, 0.5, 95.0)
        return np.where(pcl, high, low)
    elif test == "plasma_cells_abs":
        low = np.where(rng.random(n) < 0.6, 0.0, rng.uniform(0.01, 0.3, n) * b)
        return np.where(pcl, np.clip(rng.lognormal(np.log(3.0), 0.6, n) * b, 0.02, 150.0), low)
    elif test == "plasma_cells_flow":
        low = np.floor(rng.uniform(0, 151, n) * b)
        high = np.clip(np.floor(rng.lognormal(np.log(3000), 0.8, n) * b), 5, 140_000)
        return np.where(pcl, high, low)
    else:  # pragma: no cover - the test list is fixed
        raise KeyError(test)
    lo, hi = _CLIP[test]
    return np.clip(x, lo, hi)


def measurements(rng: np.random.Generator, c: Cohort, ln: Lines, v: Visits) -> pl.DataFrame:
    """One row per recorded test per visit, in the site's unit and rounding.

    Rows come out ordered by visit (patient, date) then test, so no sort is needed.
    """
    pcl = _pcl_state(c, ln, v)
    b = v.state.b
    reg = ln.regimen[v.state.regimen_row] if len(ln.p) else np.zeros(len(v), np.int16)
    tox = v.state.on_tx & _MYELOSUPPRESSIVE[reg]
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
        vr = visit[rows]
        canonical = _values(rng, test, c, p, pcl[vr], b[vr], v.state.line[vr], tox[vr])
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


def _neuropathy(rng: np.random.Generator, c: Cohort, ln: Lines):
    """Per patient: neuropathy onset day (NO_DATE if none), worst grade, bortezomib stop day.

    Bortezomib-induced neuropathy in ~38% of exposed patients (any grade, APEX ~37%),
    plus ~5% with a pre-existing (e.g. diabetic) grade-1 neuropathy from diagnosis.
    """
    n = c.n
    bz = ln.bortezomib_start != NO_DATE
    induced = bz & (rng.random(n) < 0.38)
    onset = np.full(n, NO_DATE, dtype=np.int64)
    onset[induced] = ln.bortezomib_start[induced] + rng.integers(30, 151, n)[induced]
    grade = np.where(induced, pick(rng, NEUROPATHY_GRADE_P, n) + 1, 0)
    # End of the first bortezomib line (the drug stops; ongoing lines never stop).
    first_bz = BORTEZOMIB[ln.regimen] & (ln.start == ln.bortezomib_start[ln.p])
    stop = np.full(n, NO_DATE, dtype=np.int64)
    stop[ln.p[first_bz]] = np.where(ln.end[first_bz] == NO_DATE, NO_DATE, ln.end_eff[first_bz])
    baseline = ~induced & (rng.random(n) < 0.05)
    onset[baseline] = c.dx[baseline] - 1
    grade[baseline] = 1
    stop[baseline] = NO_DATE
    return onset, grade, stop


def residual(grade: np.ndarray) -> np.ndarray:
    """Grade left once bortezomib neuropathy has improved: grade 1 after grade >= 2."""
    return np.where(grade >= 2, 1, 0)


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
    st = v.state
    # ECOG: recorded at a minority of routine visits, most work-ups (P_ECOG); the
    # controlled-disease baseline worsened by burden, late lines and EMD/PCL.
    rows = np.nonzero(rng.random(n_v) < np.asarray(P_ECOG)[kind])[0]
    b = st.b[rows]
    worse = (rng.random(len(rows)) < 0.45 * b).astype(np.int64)
    worse += rng.random(len(rows)) < 0.12 * b
    worse += (st.line[rows] >= 4) & (rng.random(len(rows)) < 0.45)
    worse += st.aggressive[rows] & (rng.random(len(rows)) < 0.6)
    ecog = np.clip(c.ecog[v.p[rows]] + worse - (rng.random(len(rows)) < 0.08), 0, 4)
    add(rows, "ecog", strings(grades, ecog))

    onset, grade, stop = _neuropathy(rng, c, ln)
    rows = np.nonzero(rng.random(n_v) < np.asarray(P_NEUROPATHY)[kind])[0]
    p = v.p[rows]
    # After bortezomib stops, neuropathy improves one grade every ~4 months (APEX:
    # most grade >= 2 events improved or resolved), down to a residual grade.
    since = np.maximum(v.date[rows].astype(np.int64) - stop[p], 0)
    healed = np.where(stop[p] != NO_DATE, since // 120, 0)
    g = np.where(v.date[rows] >= onset[p], np.maximum(grade[p] - healed, residual(grade[p])), 0)
    g = np.maximum(g - (rng.random(len(rows)) < 0.1), 0)
    add(rows, "neuropathy_grade", strings(grades, g))
    pain_patient = rng.random(c.n) < 0.4
    with_pain = rows[(g >= 2) & (rng.random(len(rows)) < 0.9)]
    add(with_pain, "neuropathy_pain", _yes_no(c, pain_patient[v.p[with_pain]], v.p[with_pain]))  # fmt: skip

    rows = np.nonzero(rng.random(n_v) < np.asarray(P_DIARRHEA)[kind])[0]
    add(rows, "diarrhea_grade", strings(grades, pick(rng, (0.86, 0.10, 0.03, 0.01), len(rows))))  # fmt: skip

    # Women: childbearing potential by age; breastfeeding and pregnancy tests if yes.
    age = (v.date - c.birth[v.p]) / YEAR
    woman = c.sex[v.p] == 0
    cbp_patient = rng.random(c.n) < np.where(c.age_dx < 45, 0.75, np.where(c.age_dx < 52, 0.3, 0.0))
    cbp = cbp_patient[v.p] & (age < 55)
    asked = woman & (rng.random(n_v) < np.where(kind == KIND_SCREENING, 0.9, 0.05))
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
