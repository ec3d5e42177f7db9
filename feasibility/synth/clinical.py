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

from feasibility.synth.codes import CodeRows
from feasibility.synth.cohort import SUBTYPE_EMP, SUBTYPE_PCL, Cohort
from feasibility.synth.dates import NO_DATE, YEAR
from feasibility.synth.draw import between, pick, repeat, strings
from feasibility.synth.lines import Lines
from feasibility.synth.state import state_at
from feasibility.synth.visits import Visits, periodic


@dataclass(frozen=True)
class Condition:
    """A diagnosis drawn independently per patient.

    ``when``: onset ``before_dx`` (history, up to 10 years before), ``after_dx`` (during
    follow-up) or ``any``. ``course``: ``chronic`` (coded at most later encounters),
    ``active`` (coded at encounters for ``active_days``, then as its history code
    ``HISTORY`` - a cancer under treatment, then in remission), or ``acute`` (the onset
    record and up to ``repeats`` follow-up records). ``sex``: restrict to F or M.
    """

    share: float
    codes: tuple[str, ...]
    weights: tuple[float, ...]
    when: str
    course: str = "chronic"
    repeats: int = 0
    active_days: int = 365
    sex: str | None = None
    coded: float = 0.7  # chance it is coded at a later clinician encounter


CONDITIONS: tuple[Condition, ...] = (
    # Other malignancies (C00-C96 except C44/C90): prior and second primaries, coded while
    # under treatment (a year), then as personal history (Z85, not a C code).
    Condition(0.048, ("C18.9", "C34.90", "C43.9", "C64.9", "C67.9", "C73", "C83.30", "C91.10",
                      "C20", "C25.9"), (3, 2, 3, 2, 2, 1, 1, 1, 1, 1), "before_dx", "active"),
    Condition(0.018, ("C61",), (1,), "before_dx", "active", sex="M"),
    Condition(0.018, ("C50.911", "C54.1", "C56.9"), (6, 2, 1), "before_dx", "active", sex="F"),
    Condition(0.03, ("C92.00", "C93.10", "C43.9", "C34.90", "C18.9", "C61", "C50.911"),
              (2, 1, 2, 1, 1, 1, 1), "after_dx", "active"),
    Condition(0.05, ("C44.91", "C44.31", "C44.41", "C44.519"), (3, 2, 1, 1), "any", "acute", 1),
    Condition(0.003, ("D05.11",), (1,), "before_dx", "acute", sex="F"),
    # Cardiac: arrhythmia (I47-I49), heart failure, ischaemia.
    Condition(0.033, ("I48.91", "I48.0", "I48.2", "I47.1", "I49.9"), (5, 2, 1, 1, 1), "before_dx"),
    Condition(0.035, ("I48.91", "I48.0", "I47.1", "I49.9"), (5, 2, 1, 1), "after_dx"),
    Condition(0.04, ("I50.9", "I50.22", "I50.32"), (3, 1, 1), "after_dx"),
    Condition(0.01, ("I21.4", "I21.09"), (2, 1), "any", "active", active_days=28),
    Condition(0.015, ("I20.9", "I20.8"), (3, 1), "any", "acute", 1),
    Condition(0.10, ("I25.10",), (1,), "any"),
    # Chronic viral infections: HIV ~1%, hepatitis B ~1.2%, hepatitis C ~1.2%.
    Condition(0.004, ("B20",), (1,), "before_dx"),
    Condition(0.006, ("Z21",), (1,), "before_dx"),
    Condition(0.012, ("B18.1", "Z22.51", "B16.9", "B18.0"), (7, 3, 1, 1), "before_dx"),
    Condition(0.012, ("B18.2", "B17.10"), (5, 1), "before_dx"),
    # GI absorption and dysphagia.
    Condition(0.006, ("K90.0", "K90.9", "K91.2"), (3, 2, 1), "before_dx"),
    Condition(0.015, ("R13.10", "R13.12"), (2, 1), "after_dx", "acute"),
    # Common comorbidities that no criterion reads (coded at about half the encounters).
    Condition(0.45, ("I10",), (1,), "before_dx", coded=0.5),
    Condition(0.18, ("E11.9", "E11.65"), (3, 1), "before_dx", coded=0.5),
    Condition(0.35, ("E78.5",), (1,), "before_dx", coded=0.5),
    Condition(0.13, ("N18.30", "N18.4", "N18.5"), (6, 2, 1), "after_dx", coded=0.5),
    Condition(0.10, ("M81.0",), (1,), "any", coded=0.5),
    Condition(0.12, ("F32.9", "F41.9"), (1, 1), "any", coded=0.5),
)  # fmt: skip

#: Personal-history code of each cancer code once it is no longer under treatment.
HISTORY: dict[str, str] = {
    "C18.9": "Z85.038", "C34.90": "Z85.118", "C43.9": "Z85.820", "C64.9": "Z85.528",
    "C67.9": "Z85.51", "C73": "Z85.850", "C83.30": "Z85.72", "C91.10": "Z85.6", "C20": "Z85.048",
    "C25.9": "Z85.07", "C61": "Z85.46", "C50.911": "Z85.3", "C54.1": "Z85.42", "C56.9": "Z85.43",
    "C92.00": "Z85.6", "C93.10": "Z85.6", "I21.4": "I25.2", "I21.09": "I25.2",
}  # fmt: skip
#: Chance the myeloma code (by state) is coded at a clinician encounter.
P_MYELOMA_CODED = 0.5


class Encounters:
    """Clinician encounters of a chunk, keyed for range look-ups (built once)."""

    def __init__(self, v: Visits) -> None:
        idx = np.nonzero(v.encounter)[0]
        self.date = v.date[idx].astype(np.int64)
        self.key = (v.p[idx].astype(np.int64) << 32) + self.date

    def coded(
        self, rng: np.random.Generator, p: np.ndarray, a: np.ndarray, b: np.ndarray, share: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """For each (patient, from, to) occurrence, the encounters inside it where it is coded.

        Returns (occurrence index, encounter date) of the coded records.
        """
        p64 = np.asarray(p, dtype=np.int64) << 32
        lo = np.searchsorted(self.key, p64 + np.asarray(a, dtype=np.int64), side="left")
        hi = np.searchsorted(self.key, p64 + np.asarray(b, dtype=np.int64), side="right")
        count = np.maximum(hi - lo, 0)
        occ = np.repeat(np.arange(len(p)), count)
        start = np.repeat(lo - (np.cumsum(count) - count), count)
        keep = rng.random(len(occ)) < share
        pos = np.arange(len(occ))[keep] + start[keep]
        return occ[keep], self.date[pos]


def diagnoses(rng: np.random.Generator, c: Cohort, ln: Lines, v: Visits, extra=()) -> pl.DataFrame:
    """Myeloma codes through the disease course plus the CONDITIONS, dotted upper case.

    ``extra``: further (p, names, idx, dates) rows (infection episodes). Rows come out
    unique and sorted by patient and date (``codes.CodeRows``).
    """
    rows = CodeRows()
    add = rows.add
    encounters = Encounters(v)

    everyone = np.arange(c.n)
    at_dx = ("C90.00", "C90.10", "C90.20", "C90.30")
    add(everyone, at_dx, c.subtype, c.dx)

    # Remission code once the first line has reached its response.
    first = (ln.line == 1) & (ln.resp != NO_DATE)
    rem_date = ln.resp.astype(np.int64) + rng.integers(30, 120, len(ln.p))
    rem = first & (rem_date <= ln.end_eff) & (rng.random(len(ln.p)) < 0.6)
    sub = c.subtype[ln.p[rem]]
    add(ln.p[rem], ("C90.01", "C90.11", "C90.21", "C90.31"), sub, rem_date[rem])

    # Relapse code at each later line (C90.12 once the disease is leukaemic).
    later = ln.line >= 2
    pcl_now = ln.pcl_day[ln.p] <= ln.start
    relapse = np.where(pcl_now, 1, np.where(c.subtype[ln.p] == SUBTYPE_EMP, 2, 0))
    add(ln.p[later], ("C90.02", "C90.12", "C90.22"), relapse[later], ln.start[later])
    # Secondary plasma cell leukaemia: a C90.10 at its onset.
    spcl = (ln.pcl_day != NO_DATE) & (c.subtype != SUBTYPE_PCL)
    sp = np.nonzero(spcl & (ln.pcl_day <= c.end_fu))[0]
    add(sp, ("C90.10",), np.zeros(len(sp), np.int64), ln.pcl_day[sp].astype(np.int64))

    # The myeloma code by state at clinician encounters: active, in remission, relapsed.
    enc = np.nonzero(v.encounter & (rng.random(len(v)) < P_MYELOMA_CODED))[0]
    st_b, st_line = v.state.b[enc], v.state.line[enc]
    ep = v.p[enc]
    leukaemic = ln.pcl_day[ep] <= v.date[enc]
    digit = np.where(leukaemic, 1, c.subtype[ep])
    status = np.where(st_b <= 0.4, 1, np.where(st_line >= 2, 2, 0))
    status = np.where(digit == 3, np.minimum(status, 1), status)
    names = [f"C90.{x}{y}" for x in range(4) for y in range(3)]
    add(ep, names, digit * 3 + status, v.date[enc])

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
        which = pick(rng, cond.weights, len(p))
        keep = (d <= c.end_fu[p]) & (d >= adult[p])
        p, d, which = p[keep], d[keep], which[keep]
        add(p, cond.codes, which, d)
        if cond.course == "acute":
            for _ in range(cond.repeats):
                d = d + rng.integers(30, 400, len(d))
                more = (rng.random(len(d)) < 0.6) & (d <= c.end_fu[p])
                p, d, which = p[more], d[more], which[more]
                add(p, cond.codes, which, d)
            continue
        until = c.end_fu[p] if cond.course == "chronic" else d + cond.active_days
        occ, dates = encounters.coded(rng, p, d + 1, until, cond.coded)
        add(p[occ], cond.codes, which[occ], dates)
        if cond.course == "active":
            hist = [HISTORY.get(x, "Z85.9") for x in cond.codes]
            occ, dates = encounters.coded(rng, p, d + cond.active_days + 1, c.end_fu[p],
                                          cond.coded)  # fmt: skip
            add(p[occ], hist, which[occ], dates)

    # Anaemia of the disease while burden is high.
    anaemic = np.nonzero(v.encounter & (v.state.b >= 0.6) & (rng.random(len(v)) < 0.3))[0]
    add(v.p[anaemic], ("D63.0",), np.zeros(len(anaemic), np.int64), v.date[anaemic])
    for part in extra:
        add(*part)
    return rows.frame()


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
#: Extramedullary sites and their weights for women / men (team estimate shaped on the
#: site frequencies reported by Bhutani 2020 and Weinstock 2015: soft tissue, skin, lymph
#: nodes, liver and pleura most often; breast almost only in women, testis only in men).
EMD_SITES = ("subcutaneous soft tissue", "skin", "lymph node", "liver", "pleura", "kidney",
             "central nervous system", "lung", "stomach", "pancreas", "breast", "testis")  # fmt: skip
EMD_SITE_WEIGHTS = {
    "F": (24, 12, 14, 12, 10, 5, 4, 5, 5, 3, 4, 0),
    "M": (24, 12, 14, 12, 10, 5, 4, 5, 5, 3, 0.2, 2),
}
#: Days between imaging studies while extramedullary disease is followed.
EMD_IMAGING_DAYS = 90
#: Share of relapse work-ups with cross-sectional imaging (suspected EMD, bone pain).
P_RELAPSE_IMAGING = 0.3
#: Lesions below this size (cm) are not reported (regressed on response).
VISIBLE_CM = 0.8


def _emd_sites(rng: np.random.Generator, c: Cohort) -> np.ndarray:
    """(n x 2) site indices per patient, by sex (U draws like F)."""
    out = np.empty((c.n, 2), dtype=np.int32)
    male = c.sex == 1
    for sex, mask in (("M", male), ("F", ~male)):
        k = int(mask.sum())
        out[mask] = np.stack([pick(rng, EMD_SITE_WEIGHTS[sex], k) for _ in range(2)], axis=1)
    return out


def lesions(rng: np.random.Generator, c: Cohort, ln: Lines) -> pl.DataFrame:
    """Imaged lesions: lytic bone lesions, paraskeletal and extramedullary plasmacytomas.

    Extramedullary (bone_contiguous false) disease is imaged at its onset and every ~90
    days while it is followed; its size follows the disease burden, so it shrinks on
    response (and is not reported once below 0.8 cm) and grows at progression.
    Relapse work-ups image 30% of patients, showing their bone disease.
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
    # Lytic bone lesions at diagnosis: 1-3 per patient for ~40%, seen again at relapse
    # imaging.
    bone_site = np.stack([pick(rng, [1] * 8, n) for _ in range(3)], axis=1)
    n_bone = (rng.random(n) < 0.40).astype(np.int64) + (rng.random(n) < 0.25) + (
        rng.random(n) < 0.12)  # fmt: skip
    relapse = np.nonzero((ln.line >= 2) & (rng.random(len(ln.p)) < P_RELAPSE_IMAGING))[0]
    for k in range(3):
        p = np.nonzero(n_bone > k)[0]
        add(p, strings(BONE_SITES, (bone_site[p, k] + k) % 8), img_dx[p],
            rng.uniform(0.5, 3.0, len(p)), True)  # fmt: skip
        rp = ln.p[relapse]
        sel = n_bone[rp] > k
        add(rp[sel], strings(BONE_SITES, (bone_site[rp[sel], k] + k) % 8),
            (ln.start[relapse] - rng.integers(0, 29, len(relapse)))[sel],
            rng.uniform(0.5, 3.5, int(sel.sum())), True)  # fmt: skip

    # Paraskeletal plasmacytoma (bone-contiguous) at diagnosis and at relapse imaging.
    para = rng.random(n) < 0.12
    para_site = pick(rng, [1] * len(PARASKELETAL_SITES), n)
    para_size = rng.lognormal(np.log(3.0), 0.4, n)
    p = np.nonzero(para)[0]
    add(p, strings(PARASKELETAL_SITES, para_site[p]), img_dx[p], para_size[p], True)
    rows = relapse[para[ln.p[relapse]]]
    lp = ln.p[rows]
    add(lp, strings(PARASKELETAL_SITES, para_site[lp]), ln.start[rows] - rng.integers(0, 29, len(rows)),
        para_size[lp] * rng.lognormal(0, 0.2, len(rows)), True)  # fmt: skip

    # Extramedullary disease: imaged at onset (clinically suspected: a mass), then every
    # ~90 days while alive; size follows the burden.
    emd = np.nonzero((ln.emd_day != NO_DATE) & (ln.emd_day <= c.end_fu))[0]
    first_img = ln.emd_day[emd].astype(np.int64) - rng.integers(0, 15, len(emd))
    first_img = np.maximum(first_img, ln.obs_start[emd])
    pp, _, dd = periodic(rng, emd.astype(np.int32), np.zeros(len(emd), np.int16), first_img,
                         c.end_fu[emd].astype(np.int64),
                         np.full(len(emd), EMD_IMAGING_DAYS, dtype=np.int64), cap=24)  # fmt: skip
    img_p = np.concatenate([emd, pp]).astype(np.int64)
    img_d = np.concatenate([first_img, dd]).astype(np.int64)
    keep = (img_d <= c.end_fu[img_p]) & (img_d >= ln.obs_start[img_p])
    img_p, img_d = img_p[keep], img_d[keep]
    b = state_at(c, ln, img_p, np.maximum(img_d, ln.emd_day[img_p])).b
    size = rng.lognormal(np.log(4.0), 0.5, n)
    sites = _emd_sites(rng, c)
    two_sites = rng.random(n) < 0.3
    for k in range(2):
        sel = (k == 0) | two_sites[img_p]
        ip = img_p[sel]
        cm = size[ip] * (0.1 + 0.9 * b[sel]) * rng.lognormal(0.0, 0.15, len(ip)) * (1 - 0.3 * k)
        seen = cm >= VISIBLE_CM
        add(ip[seen], strings(EMD_SITES, sites[ip[seen], k]), img_d[sel][seen], cm[seen], False)
    return pl.concat(frames)
