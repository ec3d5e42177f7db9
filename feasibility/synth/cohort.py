"""Patient-level draw: demographics, myeloma subtype, survival, site and lab baselines.

Everything is drawn for a whole chunk of patients at once with numpy; dates are true
(unshifted) day numbers, the per-patient shift is applied when tables are written.
Figures and their sources: ``sources.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from feasibility.synth.dates import (
    BIRTH_FIRST,
    CUTOFF,
    DX_FIRST,
    DX_LAST,
    NO_DATE,
    SHIFT_RANGE,
    YEAR,
)

#: Sex codes as drawn (index -> code). SEER: ~55% of new myeloma cases are men.
SEX = ("F", "M", "U")
SEX_P = (0.447, 0.55, 0.003)

#: US myeloma race mix (SEER; Black patients ~20% of cases). None = not recorded.
RACE = (
    "White",
    "Black or African American",
    "Asian",
    "American Indian or Alaska Native",
    "Native Hawaiian or Other Pacific Islander",
    "Other",
    None,
)
RACE_P = (0.66, 0.20, 0.04, 0.006, 0.003, 0.031, 0.06)
ETHNICITY = ("Not Hispanic or Latino", "Hispanic or Latino", None)
ETHNICITY_P = (0.85, 0.09, 0.06)

#: Sites and their share of patients; site None (not recorded) for ~1%.
SITES = ("S01", "S02", "S03", "S04", "S05", "S06", None)
SITES_P = (0.27, 0.20, 0.17, 0.15, 0.12, 0.08, 0.01)

#: Myeloma subtype at diagnosis: C90.0 myeloma, C90.1 primary plasma cell leukaemia,
#: C90.2 extramedullary plasmacytoma, C90.3 solitary plasmacytoma (not myeloma: screens out).
SUBTYPE_MM, SUBTYPE_PCL, SUBTYPE_EMP, SUBTYPE_SOLITARY = 0, 1, 2, 3
SUBTYPE_P = (0.967, 0.011, 0.012, 0.010)

#: Median overall survival (years) at age 69; hazard rises ~3%/year of age; PCL x0.3.
OS_MEDIAN_YEARS = 6.5
OS_WEIBULL_SHAPE = 1.3


@dataclass
class Cohort:
    """Arrays of one chunk of patients (index = local patient number)."""

    n: int
    pidx: np.ndarray  # int64, global patient number (patient_id = P + 8 digits)
    sex: np.ndarray  # int8 index into SEX
    birth: np.ndarray  # int32 day
    dx: np.ndarray  # int32 day of myeloma diagnosis
    death: np.ndarray  # int32 day or NO_DATE
    end_fu: np.ndarray  # int32 last day with data: min(death, cutoff)
    age_dx: np.ndarray  # float years
    subtype: np.ndarray  # int8
    site: np.ndarray  # int8 index into SITES
    race: np.ndarray  # int8 index into RACE
    ethnicity: np.ndarray  # int8 index into ETHNICITY
    shift: np.ndarray  # int32 days added to every date of the patient
    # Lab and status baselines (canonical units).
    hb: np.ndarray
    plt: np.ndarray
    anc: np.ndarray
    creat: np.ndarray
    weight: np.ndarray
    qtc: np.ndarray
    ecog: np.ndarray  # int8

    @property
    def died(self) -> np.ndarray:
        return self.death != NO_DATE


def _pick(rng: np.random.Generator, p: tuple[float, ...], n: int) -> np.ndarray:
    return rng.choice(len(p), size=n, p=np.asarray(p) / np.sum(p)).astype(np.int8)


def draw_cohort(rng: np.random.Generator, first: int, n: int) -> Cohort:
    """Draw ``n`` patients numbered ``first+1 .. first+n``."""
    sex = _pick(rng, SEX_P, n)
    # Diagnoses grow more frequent in later years (registry uptake): density ~ u**0.8.
    u = rng.random(n) ** 0.8
    dx = (DX_FIRST + u * (DX_LAST - DX_FIRST)).astype(np.int32)
    age_dx = np.clip(rng.normal(69.0, 10.0, n), 30.0, 95.0)
    birth = (dx - age_dx * YEAR).astype(np.int32)
    birth = np.maximum(birth, BIRTH_FIRST).astype(np.int32)
    age_dx = (dx - birth) / YEAR
    subtype = _pick(rng, SUBTYPE_P, n)

    # Weibull overall survival, scale set so the median is OS_MEDIAN_YEARS at age 69.
    median = OS_MEDIAN_YEARS * np.exp(-0.03 * (age_dx - 69.0))
    median = np.where(subtype == SUBTYPE_PCL, median * 0.3, median)
    median = np.where(subtype == SUBTYPE_SOLITARY, median * 3.0, median)
    scale = median / np.log(2.0) ** (1.0 / OS_WEIBULL_SHAPE)
    os_days = scale * rng.weibull(OS_WEIBULL_SHAPE, n) * YEAR
    death_day = dx + np.maximum(os_days, 20).astype(np.int64)
    died = death_day <= CUTOFF
    death = np.where(died, death_day, NO_DATE).astype(np.int32)
    end_fu = np.where(died, death, CUTOFF).astype(np.int32)

    male = sex == 1
    weight = np.where(male, rng.normal(85.0, 16.0, n), rng.normal(72.0, 16.0, n))
    # Renal impairment is common in myeloma: a minority has a high creatinine baseline.
    renal = rng.random(n) < 0.095
    creat = np.where(
        renal, rng.lognormal(np.log(2.4), 0.35, n), rng.lognormal(np.log(0.95), 0.28, n)
    )
    creat = np.where(male, creat, creat * 0.85)
    shift = rng.integers(SHIFT_RANGE[0], SHIFT_RANGE[1] + 1, n).astype(np.int32)
    return Cohort(
        n=n,
        pidx=np.arange(first + 1, first + n + 1, dtype=np.int64),
        sex=sex,
        birth=birth,
        dx=dx,
        death=death,
        end_fu=end_fu,
        age_dx=age_dx,
        subtype=subtype,
        site=_pick(rng, SITES_P, n),
        race=_pick(rng, RACE_P, n),
        ethnicity=_pick(rng, ETHNICITY_P, n),
        shift=shift,
        hb=rng.normal(11.1, 1.65, n),
        plt=rng.lognormal(np.log(205_000), 0.56, n),
        anc=rng.lognormal(np.log(3000), 0.4, n),
        creat=creat,
        weight=np.clip(weight, 40.0, 180.0),
        qtc=rng.normal(440.0, 17.0, n),
        ecog=_pick(rng, (0.30, 0.45, 0.17, 0.06, 0.02), n),
    )
