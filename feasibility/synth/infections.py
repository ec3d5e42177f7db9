"""Infections as acute episodes: a diagnosis code and its anti-infective treatment.

Episodes arrive as a Poisson process whose rate follows the state: higher on therapy
(highest on T-cell redirecting therapy: bispecific antibodies, CAR-T), in the first
three months of first-line treatment, and lower off therapy. Each episode has a type
(pneumonia, urinary tract, upper respiratory, sepsis, herpes zoster, COVID-19 from 2020,
cellulitis, fungal), an ICD-10 code on its first day and, for half of them, again at a
follow-up encounter 1-3 weeks later, and a course of an anti-infective. Ciprofloxacin,
clarithromycin, voriconazole and posaconazole (listed CYP interactors) enter the
registry this way. Rates and sources: ``sources.md`` (Infections).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from feasibility.synth.cohort import Cohort
from feasibility.synth.dates import YEAR, day
from feasibility.synth.draw import between, pick, strings
from feasibility.synth.lines import Lines
from feasibility.synth.regimens import TCELL_REDIRECTING

#: Episodes per patient-year: on therapy, on T-cell redirecting therapy, off therapy,
#: and extra in the first 90 days of the first line.
RATE_ON, RATE_TCELL, RATE_OFF, RATE_EARLY = 0.45, 1.2, 0.15, 0.6

#: Episode types: (code, weight, anti-infectives, their weights, course days min/max).
TYPES: tuple[tuple[str, float, tuple[str, ...], tuple[float, ...], int, int], ...] = (
    ("J18.9", 30, ("levofloxacin", "amoxicillin-clavulanate", "clarithromycin", "ceftriaxone"),
     (4, 3, 2, 2), 5, 10),
    ("N39.0", 18, ("ciprofloxacin", "nitrofurantoin", "cephalexin"), (4, 3, 3), 3, 7),
    ("J06.9", 16, ("amoxicillin", "azithromycin"), (1, 1), 5, 7),
    ("A41.9", 8, ("piperacillin-tazobactam", "cefepime", "meropenem"), (3, 2, 1), 7, 14),
    ("B02.9", 4, ("valacyclovir",), (1,), 7, 7),
    ("U07.1", 10, ("nirmatrelvir-ritonavir", "remdesivir"), (3, 1), 5, 5),
    ("L03.90", 6, ("cephalexin", "clindamycin"), (2, 1), 7, 10),
    ("B44.9", 2, ("voriconazole", "posaconazole"), (3, 1), 42, 90),
)  # fmt: skip
COVID_FROM = day("2020-03-01")


def episodes(rng: np.random.Generator, c: Cohort, ln: Lines) -> tuple[np.ndarray, np.ndarray]:
    """(patient, day) of every infection episode of the chunk."""
    dur_years = (ln.end_eff.astype(np.int64) - ln.start) / YEAR
    rate = np.where(TCELL_REDIRECTING[ln.regimen], RATE_TCELL, RATE_ON)
    k_on = rng.poisson(rate * np.maximum(dur_years, 0))
    rows = np.repeat(np.arange(len(ln.p)), k_on)
    p_on = ln.p[rows]
    d_on = between(rng, ln.start[rows], ln.end_eff[rows])
    first = np.nonzero(ln.line == 1)[0]
    early = first[rng.random(len(first)) < RATE_EARLY * 90 / YEAR]
    p_early = ln.p[early]
    d_early = between(rng, ln.start[early], np.minimum(ln.start[early] + 90, ln.end_eff[early]))
    follow = np.maximum(c.end_fu.astype(np.int64) - c.dx, 0) / YEAR
    on = np.bincount(ln.p, weights=dur_years, minlength=c.n)
    k_off = rng.poisson(RATE_OFF * np.maximum(follow - on, 0))
    p_off = np.repeat(np.arange(c.n), k_off)
    d_off = between(rng, c.dx[p_off], c.end_fu[p_off])
    p = np.concatenate([p_on, p_early, p_off]).astype(np.int32)
    d = np.concatenate([d_on, d_early, d_off]).astype(np.int64)
    keep = (d <= c.end_fu[p]) & (d >= ln.obs_start[p])
    return p[keep], d[keep]


def infection_rows(rng: np.random.Generator, c: Cohort, ln: Lines) -> tuple[tuple, pl.DataFrame]:
    """Diagnosis rows as (p, code names, code index, day) and medication rows of all episodes.

    Only episodes inside follow-up are drawn, so diagnosis days never pass end of
    follow-up.
    """
    p, d = episodes(rng, c, ln)
    weights = np.array([t[1] for t in TYPES], dtype=float)
    kind = pick(rng, weights, len(p))
    covid = kind == [t[0] for t in TYPES].index("U07.1")
    # COVID-19 only from March 2020: earlier draws become pneumonia.
    kind = np.where(covid & (d < COVID_FROM), 0, kind)
    again = rng.random(len(p)) < 0.5
    d2 = d + rng.integers(7, 22, len(p))
    names = [t[0] for t in TYPES]
    diagnoses = (np.concatenate([p, p[again]]), names, np.concatenate([kind, kind[again]]),
                 np.concatenate([d, d2[again]]))  # fmt: skip

    drug_idx = np.zeros(len(p), dtype=np.int64)
    days = np.zeros(len(p), dtype=np.int64)
    names = []
    for j, (_code, _w, drugs, dw, lo, hi) in enumerate(TYPES):
        rows = np.nonzero(kind == j)[0]
        drug_idx[rows] = pick(rng, dw, len(rows)) + len(names)
        days[rows] = rng.integers(lo, hi + 1, len(rows))
        names.extend(drugs)
    treated = rng.random(len(p)) < 0.9
    start = d + rng.integers(0, 2, len(p))
    # Sepsis is treated intravenously; other courses are oral (route often not recorded).
    route = np.where(kind == 3, 2, pick(rng, (1, 2), len(p)))
    meds = pl.DataFrame(
        {
            "p": p[treated].astype(np.int32),
            "drug": strings(names, drug_idx[treated]),
            "route": strings((None, "oral", "intravenous"), route[treated]),
            "start_date": start[treated],
            "end_date": np.minimum(start + days, np.maximum(c.end_fu[p], start))[treated],
        }
    )
    return diagnoses, meds
