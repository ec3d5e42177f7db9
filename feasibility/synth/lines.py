"""The disease course: lines of therapy, responses, progressions, EMD/PCL and death.

Per patient a sequence of states: diagnosis (full disease burden), each line of therapy
(response after a few cycles to a depth that depends on the line, then progression),
the relapse that starts the next line, and death. Timing depends on the line, the era
(longer first-line control with anti-CD38 quadruplets), the regimen, high-risk
cytogenetics and extramedullary or leukaemic disease. Death comes from other causes
(``cohort.background_death``), from myeloma while on a line, after the last
progression when no further line is given, and after extramedullary or leukaemic
transformation, whose published survival is short. Regimens are chosen by line, US
approval date and refractoriness (``regimens.py``). Everything runs as a loop over
line numbers on arrays of patients, never over patients.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from feasibility.synth import regimens as rx
from feasibility.synth.cohort import SUBTYPE_EMP, SUBTYPE_PCL, SUBTYPE_SOLITARY, Cohort
from feasibility.synth.dates import CUTOFF, NO_DATE, YEAR, day
from feasibility.synth.settings import Setting

MAX_LINES = 9
# Compatibility names (the catalogue lives in regimens.py).
REGIMENS = rx.REGIMENS
REGIMEN_NAMES = rx.NAMES
INVESTIGATIONAL = rx.INVESTIGATIONAL
IMID = rx.IMID
ANTIVIRAL = rx.ANTIVIRAL
DEX = rx.DEX

#: Era of a line start for time on line: before 2015, 2015-2019, from 2020.
ERA_STARTS = (day("2015-01-01"), day("2020-01-01"))
#: Median time on line (days) for responders, by line 1, 2, 3, 4+ and era (team
#: estimate shaped on real-world time to next treatment; calibrated so overall survival
#: by diagnosis era lands on the published figures in targets.py).
LINE_MEDIAN_DAYS = ((1150, 1300, 1500), (540, 600, 680), (360, 400, 450), (240, 270, 300))
#: Share of lines with a response (partial or better) at line 1, 2, 3, 4+.
ORR = (0.90, 0.78, 0.68, 0.58)
#: Myeloma death hazard per year while on line 1, 2, 3, 4, 5+ (age 69, standard risk).
H_ON_LINE = (0.015, 0.03, 0.06, 0.12, 0.20)
#: Chance of no further line after progressing on line 1, 2, 3, 4, 5+ (x1.6 over 75).
P_NO_FURTHER_LINE = (0.04, 0.08, 0.15, 0.22, 0.30)
#: Median survival (days) after progression without further therapy.
NO_THERAPY_SURVIVAL_DAYS = 180
#: Share of patients never treated for myeloma within the registry window.
P_UNTREATED = 0.03
#: Extramedullary disease at diagnosis (besides C90.2 patients).
P_EMD_AT_DX = 0.015
#: Chance that a progression is an extramedullary (soft-tissue) relapse.
P_EMD_PER_RELAPSE = 0.018
#: Chance that a progression of C90.0 myeloma is a leukaemic transformation (secondary PCL).
P_SPCL_PER_RELAPSE = 0.003
#: Median survival (days) from extramedullary relapse / secondary PCL (Weibull shape 1.2).
EMD_RELAPSE_SURVIVAL_DAYS = 240
SPCL_SURVIVAL_DAYS = 210
#: Share of relapses that are clinical (symptomatic, full burden) rather than biochemical.
P_CLINICAL_RELAPSE = 0.35
#: Disease burden (0 none .. 1 diagnosis) at a biochemical / clinical relapse.
B_BIOCHEMICAL, B_CLINICAL = 0.6, 0.9


@dataclass
class Lines:
    """Therapy lines in long form plus per-patient course summaries (arrays over the chunk)."""

    p: np.ndarray  # int32 local patient index
    line: np.ndarray  # int16, 1-based
    start: np.ndarray  # int32 day
    end: np.ndarray  # int32 day or NO_DATE (ongoing)
    end_eff: np.ndarray  # int32 last day on the line (end, or end of follow-up)
    regimen: np.ndarray  # int16 index into REGIMENS
    resp: np.ndarray  # int32 day the response is reached, NO_DATE for non-responders
    depth: np.ndarray  # float burden while in response (lower = deeper)
    b_start: np.ndarray  # float burden at the line start
    b_end: np.ndarray  # float burden at its progression
    progressed: np.ndarray  # bool: the line ended by progression (not death/cutoff)
    n_lines: np.ndarray  # per patient
    line2_start: np.ndarray  # per patient, NO_DATE if no second line
    bortezomib_start: np.ndarray  # per patient: first bortezomib line start or NO_DATE
    emd_line: np.ndarray  # per patient: line at whose start EMD is present (1 = dx), 0 none
    pcl_line: np.ndarray  # per patient: line from which PCL is present (1 = primary), 0 none
    emd_day: np.ndarray  # per patient: day EMD appears, NO_DATE none
    pcl_day: np.ndarray  # per patient: day PCL appears, NO_DATE none
    obs_start: np.ndarray  # per patient: first day of records at this centre (referral)

    @property
    def investigational(self) -> np.ndarray:
        return INVESTIGATIONAL[self.regimen]


def _weibull_days(rng: np.random.Generator, median: float, n: int, shape: float = 1.2):
    scale = median / np.log(2.0) ** (1.0 / shape)
    return np.maximum(scale * rng.weibull(shape, n), 7).astype(np.int64)


def _line_median(k: int, start: np.ndarray) -> np.ndarray:
    era = np.searchsorted(np.asarray(ERA_STARTS), start, side="right")
    return np.asarray(LINE_MEDIAN_DAYS[min(k, 3)], dtype=float)[era]


def draw_lines(rng: np.random.Generator, c: Cohort, setting: Setting) -> Lines:
    """Simulate every patient's course; updates ``c.death`` and ``c.end_fu`` in place."""
    n = c.n
    shape = (n, MAX_LINES)
    starts = np.full(shape, NO_DATE, dtype=np.int32)
    ends = np.full(shape, NO_DATE, dtype=np.int32)
    ends_eff = np.full(shape, NO_DATE, dtype=np.int32)
    resp = np.full(shape, NO_DATE, dtype=np.int32)
    regs = np.zeros(shape, dtype=np.int16)
    depth = np.zeros(shape, dtype=np.float32)
    b_start = np.ones(shape, dtype=np.float32)
    b_end = np.ones(shape, dtype=np.float32)
    progressed = np.zeros(shape, dtype=bool)

    never = np.int64(1) << 40
    death = np.where(c.death == NO_DATE, never, c.death.astype(np.int64))
    age = c.age_dx
    old = age > 75
    treated = (c.subtype != SUBTYPE_SOLITARY) & (rng.random(n) >= P_UNTREATED)
    # Untreated myeloma (frail, declined): myeloma death hazard ~0.4/year.
    untreated_death = c.dx + (rng.exponential(1 / 0.4, n) * YEAR).astype(np.int64)
    mm = c.subtype != SUBTYPE_SOLITARY
    death = np.where(mm & ~treated, np.minimum(death, untreated_death), death)

    emd_day = np.full(n, NO_DATE, dtype=np.int64)
    pcl_day = np.full(n, NO_DATE, dtype=np.int64)
    at_dx = mm & ((c.subtype == SUBTYPE_EMP) | (rng.random(n) < P_EMD_AT_DX))
    emd_day[at_dx] = c.dx[at_dx]
    pcl_day[c.subtype == SUBTYPE_PCL] = c.dx[c.subtype == SUBTYPE_PCL]
    refractory = np.zeros(n, dtype=np.int64)
    b_now = np.ones(n, dtype=np.float32)

    cur = (c.dx + rng.integers(7, 46, n)).astype(np.int64)
    end_fu = np.minimum(death, CUTOFF)
    active = treated & (cur < end_fu)
    for k in range(MAX_LINES):
        aggressive = (emd_day <= cur) | (pcl_day <= cur)
        reg = rx.choose(rng, k + 1, cur, refractory, setting.p_trial[min(k, 1)])
        orr = np.where(rx.TCELL_REDIRECTING[reg], 0.8, ORR[min(k, 3)])
        responds = rng.random(n) < orr * np.where(aggressive, 0.75, 1.0)
        med = _line_median(k, cur) * rx.PFS_FACTOR[reg]
        med = med * np.where(c.high_risk, 0.6, 1.0) * np.where(aggressive, 0.35, 1.0)
        med = med * np.where(old, 0.85, 1.0)
        dur = np.where(responds, rng.lognormal(np.log(med), 0.7),
                       rng.lognormal(np.log(90.0), 0.5))  # fmt: skip
        dur = np.maximum(dur, 28).astype(np.int64)
        hazard = H_ON_LINE[min(k, 4)] * np.exp(0.04 * (age - 69.0))
        hazard = hazard * np.where(aggressive, 4.0, 1.0) * np.where(c.high_risk, 1.5, 1.0)
        t_die = (rng.exponential(1.0, n) / hazard * YEAR).astype(np.int64)
        dies_on = active & (t_die < dur)
        end = cur + np.minimum(dur, t_die)
        death = np.where(dies_on, np.minimum(death, end), death)
        end_fu = np.minimum(death, CUTOFF)
        reached = end >= end_fu
        line_end = np.where(reached, np.where(death <= CUTOFF, end_fu, NO_DATE), end)

        ttr = rng.integers(25, 91, n)
        a = active
        starts[a, k] = cur[a]
        ends[a, k] = line_end[a]
        ends_eff[a, k] = np.minimum(end, end_fu)[a]
        regs[a, k] = reg[a]
        resp[a, k] = np.where(responds & (ttr < dur), cur + ttr, NO_DATE)[a]
        depth[a, k] = np.where(responds, rng.uniform(0.05, 0.35, n), 0.85)[a]
        b_start[a, k] = b_now[a]
        prog = a & ~reached
        progressed[prog, k] = True
        clinical = rng.random(n) < P_CLINICAL_RELAPSE
        b_now = np.where(clinical, B_CLINICAL, B_BIOCHEMICAL).astype(np.float32)
        b_end[a, k] = b_now[a]
        refractory = np.where(prog, refractory | rx.CLASSES[reg], refractory)

        # Transformation at this progression: extramedullary relapse or secondary PCL.
        new_emd = prog & (emd_day == NO_DATE) & (rng.random(n) < P_EMD_PER_RELAPSE)
        new_pcl = (prog & (pcl_day == NO_DATE) & (c.subtype == 0)
                   & (rng.random(n) < P_SPCL_PER_RELAPSE))  # fmt: skip
        emd_day = np.where(new_emd, end, emd_day)
        pcl_day = np.where(new_pcl, end, pcl_day)
        after = np.minimum(
            np.where(new_emd, end + _weibull_days(rng, EMD_RELAPSE_SURVIVAL_DAYS, n), death),
            np.where(new_pcl, end + _weibull_days(rng, SPCL_SURVIVAL_DAYS, n), death),
        )
        death = np.minimum(death, after)
        b_now = np.where(new_emd | new_pcl, B_CLINICAL, b_now).astype(np.float32)

        # No further line (frailty, palliative care): death within months.
        p_stop = P_NO_FURTHER_LINE[min(k, 4)] * np.where(old, 1.6, 1.0)
        stop = prog & (rng.random(n) < p_stop)
        no_tx = end + _weibull_days(rng, NO_THERAPY_SURVIVAL_DAYS, n, shape=1.0)
        death = np.where(stop, np.minimum(death, no_tx), death)
        end_fu = np.minimum(death, CUTOFF)
        nxt = end + rng.integers(7, 46, n)
        active = prog & ~stop & (nxt < end_fu)
        cur = nxt

    died = death <= CUTOFF
    c.death = np.where(died, death, NO_DATE).astype(np.int32)
    c.end_fu = np.where(died, death, CUTOFF).astype(np.int32)

    has = starts != NO_DATE
    n_lines = has.sum(axis=1).astype(np.int16)
    bz = has & rx.BORTEZOMIB[regs]
    bortezomib_start = np.where(bz, starts, NO_DATE).min(axis=1).astype(np.int32)
    emd_line = _line_at(emd_day, starts, n_lines, c.dx)
    pcl_line = _line_at(pcl_day, starts, n_lines, c.dx)

    referred = (n_lines >= 2) & (rng.random(n) < setting.p_referred)
    obs_start = np.where(referred, starts[:, 1].astype(np.int64) - rng.integers(20, 60, n),
                         c.dx.astype(np.int64) - 30)  # fmt: skip

    pi, ki = np.nonzero(has)
    return Lines(
        p=pi.astype(np.int32),
        line=(ki + 1).astype(np.int16),
        start=starts[pi, ki],
        end=ends[pi, ki],
        end_eff=ends_eff[pi, ki],
        regimen=regs[pi, ki],
        resp=resp[pi, ki],
        depth=depth[pi, ki],
        b_start=b_start[pi, ki],
        b_end=b_end[pi, ki],
        progressed=progressed[pi, ki],
        n_lines=n_lines,
        line2_start=starts[:, 1].copy(),
        bortezomib_start=bortezomib_start,
        emd_line=emd_line,
        pcl_line=pcl_line,
        emd_day=np.minimum(emd_day, NO_DATE).astype(np.int32),
        pcl_day=np.minimum(pcl_day, NO_DATE).astype(np.int32),
        obs_start=obs_start.astype(np.int32),
    )


def _line_at(onset: np.ndarray, starts: np.ndarray, n_lines: np.ndarray, dx) -> np.ndarray:
    """Line at whose start the state is present (1 = at diagnosis), 0 if never.

    A state that appears at a progression belongs to the next line (n_lines + 1 when no
    further line followed).
    """
    has = onset != NO_DATE
    at_dx = has & (onset <= dx)
    later = (starts.astype(np.int64) < onset[:, None]) & (starts != NO_DATE)
    line = later.sum(axis=1) + 1
    return np.where(at_dx, 1, np.where(has, line, 0)).astype(np.int16)
