"""Lines of therapy: regimen choice by line and era, durations, relapse, EMD and PCL onset.

Regimen mixes follow the standard-of-care eras of the NCCN multiple myeloma guideline
(bortezomib/lenalidomide triplets first line, daratumumab quadruplets from ~2019,
anti-CD38/carfilzomib/pomalidomide combinations at relapse, CAR-T and bispecifics from
~2021). Weights are approximate; see ``sources.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from feasibility.synth.cohort import SUBTYPE_PCL, SUBTYPE_SOLITARY, Cohort
from feasibility.synth.dates import CUTOFF, NO_DATE, year_of

MAX_LINES = 9


@dataclass(frozen=True)
class Regimen:
    name: str
    bortezomib: bool = False
    imid: bool = False  # lenalidomide/pomalidomide/thalidomide: aspirin prophylaxis
    antiviral: bool = False  # proteasome inhibitor, anti-CD38 or T-cell therapy: acyclovir
    dex: bool = True
    investigational: bool = False


REGIMENS: tuple[Regimen, ...] = (
    Regimen("VRd", bortezomib=True, imid=True, antiviral=True),
    Regimen("KRd", imid=True, antiviral=True),
    Regimen("Dara-VRd", bortezomib=True, imid=True, antiviral=True),
    Regimen("Dara-Rd", imid=True, antiviral=True),
    Regimen("VCd", bortezomib=True, antiviral=True),
    Regimen("Rd", imid=True),
    Regimen("VMP", bortezomib=True, antiviral=True, dex=False),
    Regimen("VTd", bortezomib=True, imid=True, antiviral=True),
    Regimen("Isa-VRd", bortezomib=True, imid=True, antiviral=True),
    Regimen("DVd", bortezomib=True, antiviral=True),
    Regimen("Pd", imid=True),
    Regimen("KPd", imid=True, antiviral=True),
    Regimen("Kd", antiviral=True),
    Regimen("Dara-Kd", antiviral=True),
    Regimen("Isa-Pd", imid=True, antiviral=True),
    Regimen("Isa-Kd", antiviral=True),
    Regimen("Dara-Pd", imid=True, antiviral=True),
    Regimen("Elo-Pd", imid=True),
    Regimen("Elo-Rd", imid=True),
    Regimen("Ixa-Rd", imid=True, antiviral=True),
    Regimen("PVd", bortezomib=True, imid=True, antiviral=True),
    Regimen("Selinexor-Vd", bortezomib=True, antiviral=True),
    Regimen("Vd", bortezomib=True, antiviral=True),
    Regimen("Teclistamab", antiviral=True, dex=False),
    Regimen("Elranatamab", antiviral=True, dex=False),
    Regimen("Talquetamab", antiviral=True, dex=False),
    Regimen("Ide-cel", antiviral=True, dex=False),
    Regimen("Cilta-cel", antiviral=True, dex=False),
    Regimen("Belantamab mafodotin", dex=False),
    Regimen("Iberdomide-dex (trial)", imid=True, investigational=True),
    Regimen("Mezigdomide-Vd (trial)", bortezomib=True, antiviral=True, investigational=True),
    Regimen("Linvoseltamab (trial)", antiviral=True, dex=False, investigational=True),
    Regimen("Anito-cel (trial)", antiviral=True, dex=False, investigational=True),
    Regimen("Investigational agent", dex=False, investigational=True),
)
_INDEX = {r.name: i for i, r in enumerate(REGIMENS)}
_INVESTIGATIONAL = [i for i, r in enumerate(REGIMENS) if r.investigational]

#: Era boundaries (start year of a line) -> bucket 0..3.
ERA_YEARS = (2015, 2019, 2022)

#: Weights by (first line?, era bucket). Investigational lines are drawn separately.
_WEIGHTS: dict[tuple[bool, int], dict[str, float]] = {
    (True, 0): {"VRd": 40, "VCd": 20, "Rd": 14, "KRd": 8, "VMP": 8, "VTd": 6, "Vd": 4},
    (True, 1): {"VRd": 50, "VCd": 12, "Rd": 12, "KRd": 12, "VMP": 3, "VTd": 3, "Dara-Rd": 8},
    (True, 2): {"VRd": 40, "Dara-VRd": 15, "Dara-Rd": 20, "KRd": 10, "VCd": 8, "Rd": 7},
    (True, 3): {"VRd": 25, "Dara-VRd": 35, "Dara-Rd": 20, "KRd": 8, "Isa-VRd": 7, "VCd": 5},
    (False, 0): {"Pd": 20, "Kd": 15, "KRd": 15, "Rd": 15, "VCd": 10, "Vd": 10, "Elo-Rd": 5,
                 "PVd": 5, "Ixa-Rd": 5},
    (False, 1): {"Dara-Rd": 20, "DVd": 15, "Pd": 10, "KPd": 10, "Kd": 10, "Dara-Pd": 10,
                 "Ixa-Rd": 8, "Elo-Pd": 5, "KRd": 7, "PVd": 5},
    (False, 2): {"Dara-Pd": 15, "Isa-Pd": 12, "KPd": 12, "Dara-Kd": 12, "Kd": 8, "DVd": 8,
                 "Isa-Kd": 8, "Selinexor-Vd": 6, "Ide-cel": 5, "Belantamab mafodotin": 4,
                 "Pd": 5, "Elo-Pd": 5},
    (False, 3): {"Dara-Pd": 10, "Isa-Pd": 10, "KPd": 10, "Dara-Kd": 10, "Isa-Kd": 8,
                 "Teclistamab": 12, "Elranatamab": 8, "Talquetamab": 7, "Cilta-cel": 10,
                 "Ide-cel": 5, "Selinexor-Vd": 5, "PVd": 5},
}  # fmt: skip


def _cum_table() -> np.ndarray:
    """Cumulative regimen probabilities, row = first_line*4 + era."""
    table = np.zeros((8, len(REGIMENS)))
    for (first, era), weights in _WEIGHTS.items():
        row = (1 if first else 0) * 4 + era
        for name, w in weights.items():
            table[row, _INDEX[name]] = w
    table /= table.sum(axis=1, keepdims=True)
    return np.cumsum(table, axis=1)


_CUM = _cum_table()

#: Median line duration (days) by line number 1, 2, 3, 4+ (progression-free time on line).
LINE_MEDIAN_DAYS = (900, 480, 360, 300)
#: Chance that a line is an investigational (clinical-trial) therapy: first line / later.
P_INVESTIGATIONAL = (0.02, 0.06)
#: Share of relapsed patients whose disease becomes extramedullary at a relapse.
P_EMD_AT_RELAPSE = 0.065
#: Share of non-relapsed (and all) patients with extramedullary disease at diagnosis.
P_EMD_AT_DX = 0.015
#: Share of relapsed C90.0 patients who develop secondary plasma cell leukaemia.
P_SECONDARY_PCL = 0.008
#: Chance of no further line after progressing on line 1, 2, 3, 4, 5+.
P_NO_FURTHER_LINE = (0.08, 0.15, 0.20, 0.25, 0.30)
#: Share of patients never treated for myeloma within the registry window.
P_UNTREATED = 0.03

_BORTEZOMIB = np.array([r.bortezomib for r in REGIMENS])
INVESTIGATIONAL = np.array([r.investigational for r in REGIMENS])
IMID = np.array([r.imid for r in REGIMENS])
ANTIVIRAL = np.array([r.antiviral for r in REGIMENS])
DEX = np.array([r.dex for r in REGIMENS])
REGIMEN_NAMES = [r.name for r in REGIMENS]


@dataclass
class Lines:
    """Therapy lines in long form plus per-patient summaries (arrays over the chunk)."""

    p: np.ndarray  # int32 local patient index
    line: np.ndarray  # int16, 1-based
    start: np.ndarray  # int32 day
    end: np.ndarray  # int32 day or NO_DATE (ongoing)
    end_eff: np.ndarray  # int32 last day on the line (end, or end of follow-up)
    regimen: np.ndarray  # int16 index into REGIMENS
    n_lines: np.ndarray  # per patient
    line2_start: np.ndarray  # per patient, NO_DATE if no second line
    bortezomib_start: np.ndarray  # per patient: first bortezomib line start or NO_DATE
    emd_line: np.ndarray  # per patient: line at whose start EMD appears (1 = at dx), 0 none
    pcl_line: np.ndarray  # per patient: line from which PCL is present (1 = primary), 0 none

    @property
    def investigational(self) -> np.ndarray:
        return INVESTIGATIONAL[self.regimen]


def _regimens(rng: np.random.Generator, first_line: bool, start: np.ndarray) -> np.ndarray:
    era = np.searchsorted(np.asarray(ERA_YEARS), year_of(start), side="right")
    cum = _CUM[(1 if first_line else 0) * 4 + era]
    u = rng.random(len(start))[:, None]
    reg = (u > cum).sum(axis=1)
    reg = np.minimum(reg, len(REGIMENS) - 1)
    trial = rng.random(len(start)) < P_INVESTIGATIONAL[0 if first_line else 1]
    trial_reg = rng.choice(np.asarray(_INVESTIGATIONAL), size=len(start))
    return np.where(trial, trial_reg, reg).astype(np.int16)


def draw_lines(rng: np.random.Generator, c: Cohort) -> Lines:
    """Simulate successive lines for every patient (a loop over line numbers, not patients)."""
    n = c.n
    starts = np.full((n, MAX_LINES), NO_DATE, dtype=np.int32)
    ends = np.full((n, MAX_LINES), NO_DATE, dtype=np.int32)
    ends_eff = np.full((n, MAX_LINES), NO_DATE, dtype=np.int32)
    regs = np.zeros((n, MAX_LINES), dtype=np.int16)
    treated = (c.subtype != SUBTYPE_SOLITARY) & (rng.random(n) >= P_UNTREATED)
    cur = (c.dx + rng.integers(7, 46, n)).astype(np.int64)
    active = treated & (cur < c.end_fu)
    speed = np.where(c.subtype == SUBTYPE_PCL, 0.4, 1.0)
    for k in range(MAX_LINES):
        med = LINE_MEDIAN_DAYS[min(k, len(LINE_MEDIAN_DAYS) - 1)] * speed
        dur = np.maximum(42, rng.lognormal(np.log(med), 0.75, n)).astype(np.int64)
        end = cur + dur
        reached = end >= c.end_fu  # still on this line at death or cutoff
        line_end = np.where(reached, np.where(c.died, c.end_fu, NO_DATE), end)
        starts[active, k] = cur[active]
        ends[active, k] = line_end[active]
        ends_eff[active, k] = np.minimum(end, c.end_fu)[active]
        regs[active, k] = _regimens(rng, k == 0, cur.astype(np.int32))[active]
        nxt = end + rng.integers(0, 46, n)
        # After a progression some patients get no further line (frailty, palliative care)
        # and die within months: later lines are ever rarer, as in real-world cohorts.
        stop = active & ~reached & (rng.random(n) < P_NO_FURTHER_LINE[min(k, 4)])
        if stop.any():
            dies = (end + rng.integers(60, 541, n)).clip(max=c.death.astype(np.int64))
            c.death = np.where(stop & (dies <= CUTOFF), dies, c.death).astype(np.int32)
            c.end_fu = np.where(c.died, c.death, CUTOFF).astype(np.int32)
        active = active & ~reached & ~stop & (nxt < c.end_fu)
        cur = nxt

    has = starts != NO_DATE
    n_lines = has.sum(axis=1).astype(np.int16)
    line2_start = starts[:, 1].copy()
    bz = has & _BORTEZOMIB[regs]
    bortezomib_start = np.where(bz, starts, NO_DATE).min(axis=1).astype(np.int32)

    # Extramedullary disease: at diagnosis for a few, at a relapse line for some relapsed.
    emd_line = np.zeros(n, dtype=np.int16)
    relapsed = n_lines >= 2
    at_relapse = relapsed & (rng.random(n) < P_EMD_AT_RELAPSE)
    onset = 2 + (rng.random(n) * np.maximum(n_lines - 1, 1)).astype(np.int16)
    emd_line[at_relapse] = np.minimum(onset, n_lines)[at_relapse]
    at_dx = (rng.random(n) < P_EMD_AT_DX) | (c.subtype == 2)
    emd_line[at_dx & (emd_line == 0)] = 1

    pcl_line = np.zeros(n, dtype=np.int16)
    pcl_line[c.subtype == SUBTYPE_PCL] = 1
    secondary = relapsed & (c.subtype == 0) & (rng.random(n) < P_SECONDARY_PCL)
    pcl_line[secondary] = np.minimum(onset, n_lines)[secondary]

    p, k = np.nonzero(has)
    return Lines(
        p=p.astype(np.int32),
        line=(k + 1).astype(np.int16),
        start=starts[p, k],
        end=ends[p, k],
        end_eff=ends_eff[p, k],
        regimen=regs[p, k],
        n_lines=n_lines,
        line2_start=line2_start,
        bortezomib_start=bortezomib_start,
        emd_line=emd_line,
        pcl_line=pcl_line,
    )
