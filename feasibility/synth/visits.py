"""Clinic visits: a diagnostic work-up, screening visits before each line, follow-up visits.

Labs and assessments are attached to visits, so they cluster where a study team
looks: 1-2 visits in the 30 days before every line start (index dates in event mode),
then regular visits while on a line (every ~180 days on a first line, ~13 weeks on
later lines, every 4 weeks once disease is extramedullary or leukaemic), and every
~300 days when off therapy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from feasibility.synth.cohort import Cohort
from feasibility.synth.lines import Lines

KIND_FOLLOW_UP, KIND_SCREENING, KIND_DIAGNOSIS, KIND_INTENSIVE = 0, 1, 2, 3
#: Days between visits while extramedullary disease or plasma cell leukaemia is active:
#: aggressive disease is seen every treatment cycle.
INTENSIVE_INTERVAL_DAYS = 28
#: Days between follow-up visits: first line, later lines, off therapy.
INTERVAL_DAYS = (180, 90, 300)
MAX_PER_SEGMENT = 60


@dataclass
class Visits:
    """One row per (patient, visit date); dates are true (unshifted) days."""

    p: np.ndarray  # int32 local patient index
    date: np.ndarray  # int32
    kind: np.ndarray  # int8 KIND_*
    line: np.ndarray  # int16 line the visit belongs to or precedes (0 before any line)

    def __len__(self) -> int:
        return len(self.p)


def periodic(
    rng: np.random.Generator,
    p: np.ndarray,
    line: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    interval: np.ndarray,
    cap: int = MAX_PER_SEGMENT,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dates a + j*interval (+-jitter) for j = 1.. while <= b, for every segment at once."""
    count = np.clip((b.astype(np.int64) - a) // interval, 0, cap)
    seg = np.repeat(np.arange(len(p)), count)
    first = np.cumsum(count) - count
    j = np.arange(len(seg)) - np.repeat(first, count) + 1
    date = a[seg] + j * interval[seg] + rng.integers(-7, 8, len(seg))
    keep = date <= b[seg]
    return p[seg][keep], line[seg][keep], date[keep].astype(np.int32)


def draw_visits(rng: np.random.Generator, c: Cohort, ln: Lines) -> Visits:
    """All visits of a chunk, unique per (patient, date), sorted by patient and date."""
    parts_p, parts_d, parts_k, parts_l = [], [], [], []

    def add(p, d, kind, line):
        parts_p.append(np.asarray(p, dtype=np.int32))
        parts_d.append(np.asarray(d, dtype=np.int32))
        parts_k.append(np.full(len(p), kind, dtype=np.int8))
        parts_l.append(np.asarray(line, dtype=np.int16))

    everyone = np.arange(c.n, dtype=np.int32)
    add(everyone, c.dx - rng.integers(0, 8, c.n), KIND_DIAGNOSIS, np.zeros(c.n))

    # Screening: one visit 0-28 days before each line start, a second one for 60% of lines.
    for share in (1.0, 0.6):
        pick = rng.random(len(ln.p)) < share
        add(ln.p[pick], (ln.start - rng.integers(0, 29, len(ln.p)))[pick], KIND_SCREENING,
            ln.line[pick])  # fmt: skip

    # Follow-up while on each line; every cycle once the disease is extramedullary/leukaemic.
    emd, pcl = ln.emd_line[ln.p], ln.pcl_line[ln.p]
    aggressive = ((emd > 0) & (ln.line >= emd)) | ((pcl > 0) & (ln.line >= pcl))
    interval = np.where(ln.line == 1, INTERVAL_DAYS[0], INTERVAL_DAYS[1])
    interval = np.where(aggressive, INTENSIVE_INTERVAL_DAYS, interval).astype(np.int64)
    p, line, d = periodic(rng, ln.p, ln.line, ln.start.astype(np.int64), ln.end_eff, interval)
    emd, pcl = ln.emd_line[p], ln.pcl_line[p]
    intensive = ((emd > 0) & (line >= emd)) | ((pcl > 0) & (line >= pcl))
    parts_p.append(p.astype(np.int32))
    parts_d.append(d.astype(np.int32))
    parts_k.append(np.where(intensive, KIND_INTENSIVE, KIND_FOLLOW_UP).astype(np.int8))
    parts_l.append(line.astype(np.int16))

    # Off therapy: after the last line ended (before end of follow-up), or never treated.
    last = np.full(c.n, -1, dtype=np.int64)
    last_end = c.dx.astype(np.int64).copy()
    last[ln.p] = np.arange(len(ln.p))  # lines are sorted by patient then line: last wins
    has_line = last >= 0
    last_end[has_line] = ln.end_eff[last[has_line]]
    last_line = np.where(has_line, ln.line[np.maximum(last, 0)], 0)
    off = last_end < c.end_fu
    p, line, d = periodic(
        rng,
        everyone[off],
        last_line[off],
        last_end[off],
        c.end_fu[off].astype(np.int64),
        np.full(int(off.sum()), INTERVAL_DAYS[2], dtype=np.int64),
    )
    add(p, d, KIND_FOLLOW_UP, line)

    df = pl.DataFrame(
        {
            "p": np.concatenate(parts_p),
            "date": np.concatenate(parts_d),
            "kind": np.concatenate(parts_k),
            "line": np.concatenate(parts_l),
        }
    )
    df = (
        df.filter(pl.Series(df["date"].to_numpy() <= c.end_fu[df["p"].to_numpy()]))
        .sort(["p", "date", "kind"], descending=[False, False, True], maintain_order=True)
        .unique(["p", "date"], keep="first", maintain_order=True)
    )
    return Visits(
        p=df["p"].to_numpy(),
        date=df["date"].to_numpy(),
        kind=df["kind"].to_numpy(),
        line=df["line"].to_numpy(),
    )
