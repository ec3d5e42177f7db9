"""Patient-level draw: demographics, myeloma subtype, other-cause death, lab baselines.

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
from feasibility.synth.settings import Setting

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

#: Other-cause (background) mortality, Gompertz hazard exp(A + B * age) per year
#: (approximates US life tables: ~1.2%/year at 65, ~3%/year at 75, ~8%/year at 85).
GOMPERTZ_A, GOMPERTZ_B = -10.4, 0.092


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
    high_risk: np.ndarray  # bool, high-risk cytogenetics
    # Lab and status baselines (canonical units): the healthy value, and how far the
    # disease moves it at full burden (labs.py applies the disease state).
    hb_norm: np.ndarray
    hb_dx: np.ndarray  # hemoglobin at diagnosis (full burden)
    plt_norm: np.ndarray
    k_plt: np.ndarray  # platelets at burden b: plt_norm * exp(-k_plt * b)
    anc_norm: np.ndarray
    k_anc: np.ndarray
    creat_norm: np.ndarray
    renal: np.ndarray  # creatinine at burden b: creat_norm * (1 + renal * (0.15 + 0.85 b^3))
    weight: np.ndarray
    qtc: np.ndarray
    ecog: np.ndarray  # int8 performance status when the disease is controlled

    @property
    def died(self) -> np.ndarray:
        return self.death != NO_DATE


def _pick(rng: np.random.Generator, p: tuple[float, ...], n: int) -> np.ndarray:
    return rng.choice(len(p), size=n, p=np.asarray(p) / np.sum(p)).astype(np.int8)


def background_death(rng: np.random.Generator, dx: np.ndarray, age_dx: np.ndarray) -> np.ndarray:
    """Day of death from other causes (Gompertz by age), as int64 days (may be > CUTOFF)."""
    level = np.exp(GOMPERTZ_A + GOMPERTZ_B * age_dx)
    years = np.log1p(GOMPERTZ_B * rng.exponential(1.0, len(dx)) / level) / GOMPERTZ_B
    return dx.astype(np.int64) + np.maximum(years * YEAR, 30).astype(np.int64)


def draw_cohort(rng: np.random.Generator, first: int, n: int, setting: Setting) -> Cohort:
    """Draw ``n`` patients numbered ``first+1 .. first+n`` as seen in ``setting``.

    ``death`` holds other-cause death only; the disease course (``lines.py``) adds
    myeloma deaths.
    """
    sex = _pick(rng, SEX_P, n)
    # Diagnoses grow more frequent in later years (registry uptake): density ~ u**0.8.
    u = rng.random(n) ** 0.8
    dx = (DX_FIRST + u * (DX_LAST - DX_FIRST)).astype(np.int32)
    age_dx = np.clip(rng.normal(setting.age_mean, setting.age_sd, n), 30.0, 95.0)
    birth = (dx - age_dx * YEAR).astype(np.int32)
    birth = np.maximum(birth, BIRTH_FIRST).astype(np.int32)
    age_dx = (dx - birth) / YEAR
    subtype = _pick(rng, SUBTYPE_P, n)
    death_day = background_death(rng, dx, age_dx)
    died = death_day <= CUTOFF
    death = np.where(died, death_day, NO_DATE).astype(np.int32)
    end_fu = np.where(died, death, CUTOFF).astype(np.int32)

    male = sex == 1
    weight = np.where(male, rng.normal(85.0, 16.0, n), rng.normal(72.0, 16.0, n))
    # Cast nephropathy: a third of patients have a renal component that follows the
    # disease (creatinine >= 2 mg/dL in ~19% at diagnosis, Kyle 2003); 15% of it persists.
    renal = np.where(rng.random(n) < 0.36, rng.lognormal(np.log(1.25), 0.6, n),
                     rng.lognormal(np.log(0.08), 0.8, n))  # fmt: skip
    creat_norm = rng.lognormal(np.log(0.95), 0.18, n) * np.where(male, 1.0, 0.8)
    # Fitness: ECOG when the disease is controlled, worse with age.
    ecog = _pick(rng, (0.45, 0.40, 0.11, 0.035, 0.005), n) + (rng.random(n) < (age_dx - 60) / 60)
    shift = rng.integers(SHIFT_RANGE[0], SHIFT_RANGE[1] + 1, n).astype(np.int32)
    hb_norm = np.where(male, rng.normal(14.0, 1.0, n), rng.normal(13.0, 0.9, n))
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
        high_risk=rng.random(n) < setting.p_high_risk,
        hb_norm=hb_norm,
        # Hemoglobin at diagnosis: < 12 g/dL in ~73% (Kyle 2003).
        hb_dx=np.minimum(rng.normal(10.8, 2.1, n), hb_norm - 0.3),
        plt_norm=rng.lognormal(np.log(240_000), 0.25, n),
        k_plt=rng.lognormal(np.log(0.25), 1.0, n),
        anc_norm=rng.lognormal(np.log(3500), 0.33, n),
        k_anc=rng.lognormal(np.log(0.2), 0.6, n),
        creat_norm=creat_norm,
        renal=renal,
        weight=np.clip(weight, 40.0, 180.0),
        qtc=rng.normal(440.0, 17.0, n),
        ecog=np.minimum(ecog, 4).astype(np.int8),
    )
