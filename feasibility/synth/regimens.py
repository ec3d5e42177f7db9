"""Regimen catalogue: drug classes, US approval dates, line restrictions, and the choice.

A regimen can start at line ``k`` on day ``t`` only if one of its ``approvals`` allows it:
``(date, min_line)`` means "from ``date``, at line ``min_line`` or later" (the US label,
e.g. teclistamab after four prior lines = line 5+; cilta-cel from line 2 only after the
April 2024 label). Regimens that combine approved drugs off-label (VRd, VCd, KPd, PVd)
carry the date the last of their drugs was approved for myeloma and the line at which
the NCCN guideline lists them. ``withdrawn`` closes the window (belantamab mafodotin,
withdrawn from the US market in November 2022). Dates are in ``sources.md``.

The choice among allowed regimens weights a line-group / era preference (``WEIGHTS``) by
the patient's refractoriness: a class the disease progressed on is rarely reused
(``REFRACTORY_PENALTY``), so anti-CD38 reuse right after anti-CD38 is uncommon.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from feasibility.synth.dates import day

# Drug classes as bits.
BORT, CARF, IXA, LEN, POM, THAL, CD38, BCMA, GPRC5D, ELO, SELI, TCELL = (1 << i for i in range(12))


@dataclass(frozen=True)
class Regimen:
    """One regimen as written in ``therapies.regimen``."""

    name: str
    classes: int
    approvals: tuple[tuple[str, int], ...]
    withdrawn: str | None = None
    dex: bool = True
    investigational: bool = False
    pfs_factor: float = 1.0  # relative time on line against the line's median

    @property
    def bortezomib(self) -> bool:
        return bool(self.classes & BORT)

    @property
    def imid(self) -> bool:
        return bool(self.classes & (LEN | POM | THAL))

    @property
    def antiviral(self) -> bool:
        """Acyclovir prophylaxis: proteasome inhibitors, anti-CD38, T-cell therapies."""
        return bool(self.classes & (BORT | CARF | IXA | CD38 | TCELL | BCMA | GPRC5D))


_R = Regimen
REGIMENS: tuple[Regimen, ...] = (
    _R("VRd", BORT | LEN, (("2008-06-20", 1),)),
    _R("KRd", CARF | LEN, (("2015-07-24", 1),)),
    _R("Dara-VRd", CD38 | BORT | LEN, (("2024-07-30", 1),), pfs_factor=1.3),
    _R("Dara-Rd", CD38 | LEN, (("2016-11-21", 2), ("2019-06-27", 1)), pfs_factor=1.3),
    _R("VCd", BORT, (("2008-06-20", 1),), pfs_factor=0.8),
    _R("Rd", LEN, (("2006-06-29", 2), ("2015-02-17", 1))),
    _R("VMP", BORT, (("2008-06-20", 1),), dex=False, pfs_factor=0.8),
    _R("VTd", BORT | THAL, (("2008-06-20", 1),)),
    _R("Isa-VRd", CD38 | BORT | LEN, (("2024-09-20", 1),), pfs_factor=1.3),
    _R("DVd", CD38 | BORT, (("2016-11-21", 2),)),
    _R("Pd", POM, (("2013-02-08", 3),), pfs_factor=0.8),
    _R("KPd", CARF | POM, (("2013-02-08", 3), ("2018-01-01", 2))),
    _R("Kd", CARF, (("2016-01-21", 2),)),
    _R("Dara-Kd", CD38 | CARF, (("2020-08-20", 2),), pfs_factor=1.2),
    _R("Isa-Pd", CD38 | POM, (("2020-03-02", 3),)),
    _R("Isa-Kd", CD38 | CARF, (("2021-03-31", 2),), pfs_factor=1.2),
    _R("Dara-Pd", CD38 | POM, (("2017-06-16", 3),)),
    _R("Elo-Pd", ELO | POM, (("2018-11-06", 3),)),
    _R("Elo-Rd", ELO | LEN, (("2015-11-30", 2),)),
    _R("Ixa-Rd", IXA | LEN, (("2015-11-20", 2),)),
    _R("PVd", POM | BORT, (("2019-05-01", 2),)),
    _R("Selinexor-Vd", SELI | BORT, (("2020-12-18", 2),), pfs_factor=0.8),
    _R("Vd", BORT, (("2003-05-13", 1),), pfs_factor=0.7),
    _R("Teclistamab", BCMA | TCELL, (("2022-10-25", 5),), dex=False, pfs_factor=1.5),
    _R("Elranatamab", BCMA | TCELL, (("2023-08-14", 5),), dex=False, pfs_factor=1.5),
    _R("Talquetamab", GPRC5D | TCELL, (("2023-08-09", 5),), dex=False, pfs_factor=1.3),
    _R("Ide-cel", BCMA | TCELL, (("2021-03-26", 5), ("2024-04-04", 3)), dex=False,
       pfs_factor=1.6),
    _R("Cilta-cel", BCMA | TCELL, (("2022-02-28", 5), ("2024-04-05", 2)), dex=False,
       pfs_factor=2.2),
    _R("Belantamab mafodotin", BCMA, (("2020-08-05", 5),), withdrawn="2022-11-22", dex=False,
       pfs_factor=0.8),
    # Investigational: the date the agent's first myeloma trials opened (team estimate).
    _R("Iberdomide-dex (trial)", POM, (("2017-01-01", 2),), investigational=True),
    _R("Mezigdomide-Vd (trial)", POM | BORT, (("2019-06-01", 2),), investigational=True),
    _R("Linvoseltamab (trial)", BCMA | TCELL, (("2020-01-01", 3),), dex=False,
       investigational=True, pfs_factor=1.3),
    _R("Anito-cel (trial)", BCMA | TCELL, (("2021-06-01", 3),), dex=False,
       investigational=True, pfs_factor=1.8),
    _R("Investigational agent", 0, (("2000-01-01", 1),), dex=False, investigational=True),
)  # fmt: skip
NAMES = [r.name for r in REGIMENS]
INDEX = {r.name: i for i, r in enumerate(REGIMENS)}
N_REG = len(REGIMENS)
CLASSES = np.array([r.classes for r in REGIMENS], dtype=np.int64)
INVESTIGATIONAL = np.array([r.investigational for r in REGIMENS])
PFS_FACTOR = np.array([r.pfs_factor for r in REGIMENS])
BORTEZOMIB = np.array([r.bortezomib for r in REGIMENS])
IMID = np.array([r.imid for r in REGIMENS])
ANTIVIRAL = np.array([r.antiviral for r in REGIMENS])
DEX = np.array([r.dex for r in REGIMENS])
TCELL_REDIRECTING = (CLASSES & TCELL) != 0
ANTI_CD38 = (CLASSES & CD38) != 0

#: Line groups: line 1, 2, 3-4, 5+.
LINE_GROUPS = (1, 2, 3, 5)
#: Preference era boundary (line start): before / from this date.
ERA_SPLIT = day("2019-01-01")

#: Relative preference (before 2019, from 2019) per line group among allowed regimens.
#: Team estimate from NCCN preferred-regimen lists and US real-world treatment-pattern
#: reports; the approval mask decides what is possible, these only what is usual.
WEIGHTS: dict[int, dict[str, tuple[float, float]]] = {
    1: {"VRd": (45, 35), "VCd": (20, 6), "Rd": (12, 6), "VMP": (5, 1), "VTd": (4, 1),
        "Vd": (5, 1), "KRd": (6, 6), "Dara-Rd": (0, 24), "Dara-VRd": (0, 40),
        "Isa-VRd": (0, 10)},
    2: {"Rd": (14, 3), "Vd": (8, 1), "VCd": (8, 2), "VRd": (6, 2), "KRd": (14, 6),
        "Kd": (10, 7), "Elo-Rd": (5, 1), "Ixa-Rd": (8, 3), "Dara-Rd": (22, 16), "DVd": (16, 8),
        "Dara-Kd": (0, 16), "Isa-Kd": (0, 7), "Selinexor-Vd": (0, 3), "PVd": (4, 6),
        "KPd": (3, 6), "Cilta-cel": (0, 8)},
    3: {"Pd": (16, 4), "KPd": (8, 8), "Dara-Pd": (14, 14), "Isa-Pd": (0, 10), "Elo-Pd": (4, 4),
        "Kd": (10, 5), "Dara-Kd": (0, 10), "Isa-Kd": (0, 6), "DVd": (8, 4), "Dara-Rd": (8, 3),
        "KRd": (8, 3), "Selinexor-Vd": (0, 4), "PVd": (4, 4), "Ixa-Rd": (5, 2), "Vd": (4, 1),
        "VCd": (5, 2), "Ide-cel": (0, 8), "Cilta-cel": (0, 12)},
    5: {"Pd": (10, 3), "KPd": (8, 5), "Dara-Pd": (10, 5), "Isa-Pd": (0, 4), "Kd": (6, 3),
        "Selinexor-Vd": (0, 4), "Belantamab mafodotin": (0, 8), "Teclistamab": (0, 16),
        "Elranatamab": (0, 10), "Talquetamab": (0, 10), "Ide-cel": (0, 8), "Cilta-cel": (0, 12),
        "Dara-Kd": (0, 4), "Isa-Kd": (0, 3), "VCd": (8, 2), "Vd": (5, 1), "Elo-Pd": (4, 2),
        "KRd": (6, 2), "DVd": (6, 2)},
}  # fmt: skip

#: Weight multiplier for a regimen containing a class the disease is refractory to.
REFRACTORY_PENALTY: dict[int, float] = {
    CD38: 0.08, LEN: 0.15, POM: 0.08, BORT: 0.4, CARF: 0.15, IXA: 0.15, ELO: 0.1, BCMA: 0.4,
    GPRC5D: 0.1, SELI: 0.1, THAL: 0.3,
}  # fmt: skip


def _approval_table() -> tuple[np.ndarray, np.ndarray]:
    """(R x 2) first day allowed at lines (>= min_line) per approval; withdrawal day."""
    first = np.full((N_REG, 9), np.iinfo(np.int64).max, dtype=np.int64)  # by line 1..9
    for i, r in enumerate(REGIMENS):
        for iso, min_line in r.approvals:
            for line in range(min_line, 10):
                first[i, line - 1] = min(first[i, line - 1], day(iso))
    withdrawn = np.array(
        [day(r.withdrawn) if r.withdrawn else np.iinfo(np.int64).max for r in REGIMENS]
    )
    return first, withdrawn


_FIRST_ALLOWED, _WITHDRAWN = _approval_table()


def _weight_table() -> np.ndarray:
    """(line group index, era) -> weights over REGIMENS (standard of care only)."""
    table = np.zeros((len(LINE_GROUPS), 2, N_REG))
    for g, group in enumerate(LINE_GROUPS):
        for name, (early, late) in WEIGHTS[group].items():
            table[g, 0, INDEX[name]] = early
            table[g, 1, INDEX[name]] = late
    return table


_WEIGHTS = _weight_table()


def allowed(line: int, start: np.ndarray) -> np.ndarray:
    """(n x R) bool: regimen approved for this line on each start day and not withdrawn."""
    start = np.asarray(start, dtype=np.int64)[:, None]
    return (start >= _FIRST_ALLOWED[None, :, min(line, 9) - 1]) & (start < _WITHDRAWN[None, :])


def line_group(line: int) -> int:
    """Index into LINE_GROUPS of a 1-based line number."""
    return 0 if line == 1 else 1 if line == 2 else 2 if line <= 4 else 3


def choose(
    rng: np.random.Generator,
    line: int,
    start: np.ndarray,
    refractory: np.ndarray,
    p_trial: float,
) -> np.ndarray:
    """A regimen index per patient for line ``line`` starting on ``start`` (day numbers).

    ``refractory``: per patient bit set of classes the disease progressed on.
    ``p_trial``: chance the line is an investigational regimen (if one is open then).
    """
    n = len(start)
    ok = allowed(line, start)
    era = (np.asarray(start) >= ERA_SPLIT).astype(np.int64)
    w = _WEIGHTS[line_group(line)][era] * ok
    for cls, penalty in REFRACTORY_PENALTY.items():
        hit = (refractory & cls) != 0
        if hit.any():
            w[np.ix_(hit, (CLASSES & cls) != 0)] *= penalty
    cum = np.cumsum(w, axis=1)
    total = cum[:, -1]
    u = rng.random(n) * total
    reg = np.minimum((cum <= u[:, None]).sum(axis=1), N_REG - 1)
    reg = np.where(total > 0, reg, INDEX["Vd"])
    trial_w = (ok & INVESTIGATIONAL[None, :]).astype(float)
    tcum = np.cumsum(trial_w, axis=1)
    tu = rng.random(n) * tcum[:, -1]
    trial_reg = np.minimum((tcum <= tu[:, None]).sum(axis=1), N_REG - 1)
    trial = (rng.random(n) < p_trial) & (tcum[:, -1] > 0)
    return np.where(trial, trial_reg, reg).astype(np.int16)
