"""Diagnoses (myeloma course and comorbidities), procedures and imaged lesions.

Comorbidity shares follow the published figures in ``sources.md``: prior other
malignancy ~7.5% and arrhythmia ~5% of relapsed patients (INSIGHT MM), HIV ~1%,
hepatitis B and C each ~1% (within 0.3-2.5% and 0.2-2.4%). Codes are written dotted
(``C90.00``) and are made undotted or lower case per site by ``tables.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from feasibility.synth.cohort import SUBTYPE_EMP, SUBTYPE_PCL, Cohort
from feasibility.synth.dates import NO_DATE, YEAR
from feasibility.synth.draw import between, pick, repeat, strings
from feasibility.synth.lines import Lines
from feasibility.synth.visits import periodic


@dataclass(frozen=True)
class Condition:
    """A diagnosis drawn independently per patient.

    ``when``: ``before_dx`` (history, up to 10 years before), ``after_dx`` (during
    follow-up) or ``any``. ``repeats``: up to this many further encounter records.
    ``sex``: restrict to F or M.
    """

    share: float
    codes: tuple[str, ...]
    weights: tuple[float, ...]
    when: str
    repeats: int = 0
    sex: str | None = None


CONDITIONS: tuple[Condition, ...] = (
    # Other malignancies (C00-C96 except C44/C90): prior and second primaries.
    Condition(0.048, ("C18.9", "C34.90", "C43.9", "C64.9", "C67.9", "C73", "C83.30", "C91.10",
                      "C20", "C25.9"), (3, 2, 3, 2, 2, 1, 1, 1, 1, 1), "before_dx", 1),
    Condition(0.018, ("C61",), (1,), "before_dx", 1, sex="M"),
    Condition(0.018, ("C50.911", "C54.1", "C56.9"), (6, 2, 1), "before_dx", 1, sex="F"),
    Condition(0.03, ("C92.00", "C93.10", "C43.9", "C34.90", "C18.9", "C61", "C50.911"),
              (2, 1, 2, 1, 1, 1, 1), "after_dx", 1),
    Condition(0.05, ("C44.91", "C44.31", "C44.41", "C44.519"), (3, 2, 1, 1), "any", 1),
    Condition(0.003, ("D05.11",), (1,), "before_dx", sex="F"),
    # Cardiac: arrhythmia (I47-I49), heart failure, ischaemia.
    Condition(0.033, ("I48.91", "I48.0", "I48.2", "I47.1", "I49.9"), (5, 2, 1, 1, 1), "before_dx", 2),
    Condition(0.035, ("I48.91", "I48.0", "I47.1", "I49.9"), (5, 2, 1, 1), "after_dx", 2),
    Condition(0.04, ("I50.9", "I50.22", "I50.32"), (3, 1, 1), "after_dx", 1),
    Condition(0.01, ("I21.4", "I21.09"), (2, 1), "any"),
    Condition(0.015, ("I20.9", "I20.8"), (3, 1), "any", 1),
    Condition(0.10, ("I25.10",), (1,), "any", 2),
    # Infections: HIV ~1%, hepatitis B ~1.2%, hepatitis C ~1.2%.
    Condition(0.004, ("B20",), (1,), "before_dx", 2),
    Condition(0.006, ("Z21",), (1,), "before_dx", 1),
    Condition(0.012, ("B18.1", "Z22.51", "B16.9", "B18.0"), (7, 3, 1, 1), "before_dx", 1),
    Condition(0.012, ("B18.2", "B17.10"), (5, 1), "before_dx", 1),
    # GI absorption and dysphagia.
    Condition(0.006, ("K90.0", "K90.9", "K91.2"), (3, 2, 1), "before_dx", 1),
    Condition(0.015, ("R13.10", "R13.12"), (2, 1), "after_dx"),
    # Common comorbidities that no criterion reads.
    Condition(0.45, ("I10",), (1,), "before_dx", 3),
    Condition(0.18, ("E11.9", "E11.65"), (3, 1), "before_dx", 2),
    Condition(0.35, ("E78.5",), (1,), "before_dx", 1),
    Condition(0.13, ("N18.30", "N18.4", "N18.5"), (6, 2, 1), "after_dx", 2),
    Condition(0.30, ("D63.0",), (1,), "after_dx", 2),
    Condition(0.10, ("M81.0",), (1,), "any"),
    Condition(0.12, ("F32.9", "F41.9"), (1, 1), "any"),
    Condition(0.15, ("J18.9", "J06.9"), (1, 1), "after_dx"),
)  # fmt: skip


def diagnoses(rng: np.random.Generator, c: Cohort, ln: Lines) -> pl.DataFrame:
    """Myeloma codes through the disease course plus the CONDITIONS, dotted upper case."""
    frames = []

    def add(p: np.ndarray, codes: pl.Series, dates: np.ndarray) -> None:
        frames.append(pl.DataFrame({"p": p.astype(np.int32), "code": codes,
                                    "diagnosed_on": dates.astype(np.int32)}))  # fmt: skip

    everyone = np.arange(c.n)
    at_dx = ("C90.00", "C90.10", "C90.20", "C90.30")
    add(everyone, strings(at_dx, c.subtype), c.dx)

    # Remission code after a first line that lasted long enough.
    first = ln.line == 1
    rem_date = ln.start + rng.integers(120, 366, len(ln.p))
    rem = first & (rem_date <= ln.end_eff) & (rng.random(len(ln.p)) < 0.6)
    sub = c.subtype[ln.p[rem]]
    add(ln.p[rem], strings(("C90.01", "C90.11", "C90.21", "C90.31"), sub), rem_date[rem])

    # Relapse code at each later line (C90.12 once the disease is leukaemic).
    later = ln.line >= 2
    pcl_now = (ln.pcl_line[ln.p] > 0) & (ln.line >= ln.pcl_line[ln.p])
    relapse = np.where(pcl_now, 1, np.where(c.subtype[ln.p] == SUBTYPE_EMP, 2, 0))
    add(ln.p[later], strings(("C90.02", "C90.12", "C90.22"), relapse[later]), ln.start[later])
    # Secondary plasma cell leukaemia: a C90.10 at its onset line.
    onset = later & (ln.line == ln.pcl_line[ln.p]) & (c.subtype[ln.p] != SUBTYPE_PCL)
    add(ln.p[onset], repeat("C90.10", int(onset.sum())), ln.start[onset] - 1)

    # Encounter repeats of the active myeloma code at some line starts.
    again = rng.random(len(ln.p)) < 0.5
    add(ln.p[again], strings(at_dx, c.subtype[ln.p[again]]), ln.start[again] + 1)

    adult = c.birth + int(18 * YEAR)
    for cond in CONDITIONS:
        chosen = rng.random(c.n) < cond.share
        if cond.sex is not None:
            chosen &= c.sex == ("F", "M", "U").index(cond.sex)
        p = np.nonzero(chosen)[0]
        if cond.when == "before_dx":
            a, b = c.dx[p] - 3650, c.dx[p] - 30
        elif cond.when == "after_dx":
            a, b = c.dx[p], c.end_fu[p]
        else:
            a, b = c.dx[p] - 3650, c.end_fu[p]
        d = between(rng, np.maximum(a, adult[p]), b)
        code = strings(cond.codes, pick(rng, cond.weights, len(p)))
        keep = (d <= c.end_fu[p]) & (d >= adult[p])
        add(p[keep], code.filter(pl.Series(keep)), d[keep])
        for _ in range(cond.repeats):
            d = d + rng.integers(30, 400, len(d))
            more = keep & (rng.random(len(d)) < 0.6) & (d <= c.end_fu[p])
            add(p[more], code.filter(pl.Series(more)), d[more])
            keep = more
    return pl.concat(frames)


def procedures(rng: np.random.Generator, c: Cohort, ln: Lines) -> pl.DataFrame:
    """Bone marrow biopsies, transplant-related and other procedures, radiotherapy, surgery."""
    frames = []

    def add(p: np.ndarray, category: str, dates: np.ndarray) -> None:
        frames.append(pl.DataFrame({"p": p.astype(np.int32), "category": repeat(category, len(p)),
                                    "performed_on": np.asarray(dates, dtype=np.int32)}))  # fmt: skip

    n = c.n
    everyone = np.arange(n)
    biopsy = rng.random(n) < 0.95
    add(everyone[biopsy], "bone_marrow_biopsy", (c.dx - rng.integers(0, 15, n))[biopsy])
    restage = (ln.line >= 2) & (rng.random(len(ln.p)) < 0.5)
    add(ln.p[restage], "bone_marrow_biopsy", (ln.start - rng.integers(0, 29, len(ln.p)))[restage])

    # Autologous transplant (with stem cell collection before it) in fit first-line patients.
    first = ln.line == 1
    asct_day = ln.start + rng.integers(120, 201, len(ln.p))
    asct = first & (c.age_dx[ln.p] < 72) & (rng.random(len(ln.p)) < 0.45) & (asct_day <= ln.end_eff)
    add(ln.p[asct], "other", asct_day[asct] - rng.integers(20, 45, int(asct.sum())))
    add(ln.p[asct], "other", asct_day[asct])
    misc = rng.random(n) < 0.10  # port placement, kyphoplasty
    add(everyone[misc], "other", between(rng, c.dx, c.end_fu)[misc])

    rt = rng.random(n) < 0.20
    add(everyone[rt], "radiotherapy", between(rng, c.dx, c.end_fu)[rt])
    emd_rt = (ln.line == ln.emd_line[ln.p]) & (rng.random(len(ln.p)) < 0.5)
    rt_day = ln.start + rng.integers(0, 31, len(ln.p))
    emd_rt &= rt_day <= c.end_fu[ln.p]
    add(ln.p[emd_rt], "radiotherapy", rt_day[emd_rt])

    surgery = rng.random(n) < 0.06
    add(everyone[surgery], "major_surgery", between(rng, c.dx - 730, c.end_fu)[surgery])
    pre_line = (ln.line >= 2) & (rng.random(len(ln.p)) < 0.02)
    add(ln.p[pre_line], "major_surgery", (ln.start - rng.integers(3, 21, len(ln.p)))[pre_line])
    return pl.concat(frames)


BONE_SITES = ("vertebra L2", "vertebra T11", "skull", "left femur", "right humerus", "pelvis",
              "rib", "sacrum")  # fmt: skip
PARASKELETAL_SITES = ("paravertebral T8", "rib 6 left", "sternum", "iliac wing", "skull vault",
                      "clavicle")  # fmt: skip
EMD_SITES = ("liver", "skin", "subcutaneous soft tissue", "lymph node", "pleura", "kidney",
             "central nervous system", "breast", "testis", "lung", "pancreas", "stomach")  # fmt: skip


def lesions(rng: np.random.Generator, c: Cohort, ln: Lines) -> pl.DataFrame:
    """Imaged lesions: lytic bone lesions, paraskeletal and extramedullary plasmacytomas.

    Extramedullary (bone_contiguous false) disease is imaged at its onset line and every
    ~90 days after, so a screen at any date during it sees a recent lesion.
    """
    frames = []

    def add(p, site: pl.Series, dates, size, contiguous: bool) -> None:
        frames.append(
            pl.DataFrame(
                {
                    "p": np.asarray(p, dtype=np.int32),
                    "imaged_on": np.asarray(dates, dtype=np.int32),
                    "site": site,
                    "longest_diameter_cm": np.round(np.clip(size, 0.3, 25.0), 1),
                    "bone_contiguous": np.full(len(p), contiguous),
                }
            )
        )

    n = c.n
    img_dx = c.dx - rng.integers(0, 15, n)
    # Lytic bone lesions at diagnosis: 1-3 per patient for ~40%.
    for k in range(3):
        has = rng.random(n) < (0.40, 0.25, 0.12)[k]
        p = np.nonzero(has)[0]
        add(p, strings(BONE_SITES, (pick(rng, [1] * 8, len(p)) + k) % 8), img_dx[p],
            rng.uniform(0.5, 3.0, len(p)), True)  # fmt: skip

    # Paraskeletal plasmacytoma (bone-contiguous) at diagnosis and restaging at later lines.
    para = rng.random(n) < 0.12
    para_site = pick(rng, [1] * len(PARASKELETAL_SITES), n)
    para_size = rng.lognormal(np.log(3.0), 0.4, n)
    p = np.nonzero(para)[0]
    add(p, strings(PARASKELETAL_SITES, para_site[p]), img_dx[p], para_size[p], True)
    rows = np.nonzero(para[ln.p] & (ln.line >= 2))[0]
    lp = ln.p[rows]
    add(lp, strings(PARASKELETAL_SITES, para_site[lp]), ln.start[rows] - rng.integers(0, 29, len(rows)),
        para_size[lp] * rng.lognormal(0, 0.2, len(rows)), True)  # fmt: skip

    # Extramedullary disease: onset at dx (emd_line 1) or at the start of line emd_line.
    emd = np.nonzero(ln.emd_line > 0)[0]
    onset = np.full(n, NO_DATE, dtype=np.int64)
    onset[emd] = c.dx[emd]
    rows = np.nonzero(ln.line == ln.emd_line[ln.p])[0]
    later = rows[ln.line[rows] >= 2]
    onset[ln.p[later]] = ln.start[later]
    first_img = onset[emd] - rng.integers(0, 29, len(emd))
    size = rng.lognormal(np.log(3.2), 0.55, n)
    sites = np.stack([pick(rng, [1] * len(EMD_SITES), n) for _ in range(2)], axis=1)
    two_sites = rng.random(n) < 0.3
    pp, _, dd = periodic(rng, emd.astype(np.int32), np.zeros(len(emd), np.int16),
                         first_img, c.end_fu[emd].astype(np.int64),
                         np.full(len(emd), 90, dtype=np.int64), cap=24)  # fmt: skip
    img_p = np.concatenate([emd, pp]).astype(np.int64)
    img_d = np.concatenate([first_img, dd]).astype(np.int64)
    keep = img_d <= c.end_fu[img_p]
    img_p, img_d = img_p[keep], img_d[keep]
    for k in range(2):
        sel = (k == 0) | two_sites[img_p]
        ip = img_p[sel]
        grow = rng.lognormal(0.0, 0.2, len(ip))
        add(ip, strings(EMD_SITES, sites[ip, k]), img_d[sel], size[ip] * grow * (1 - 0.3 * k),
            False)  # fmt: skip
    return pl.concat(frames)
