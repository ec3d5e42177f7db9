"""Clinic visits as care schedules them, with the disease state at each.

* a diagnostic work-up at diagnosis;
* relapse work-up: 1-2 visits in the 28 days before every line start (index dates in
  event mode);
* on therapy, a visit with blood counts every 28 days (lenalidomide and pomalidomide
  labels: counts at least monthly; every treatment cycle for injectable regimens), except
  fixed-duration first-line regimens without an IMiD, seen every 12 weeks once
  induction (the first 6 months) is over;
* off therapy (after the last line, or never treated) every ~90 days.

Records start at ``Lines.obs_start`` (patients referred at relapse have no visits at
this centre before). ``encounter`` marks visits with a clinician (diagnoses are coded
there); about half of the on-therapy lab visits are infusion or lab-only visits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from feasibility.synth.cohort import Cohort
from feasibility.synth.lines import IMID, Lines
from feasibility.synth.state import State, state_at

KIND_FOLLOW_UP, KIND_SCREENING, KIND_DIAGNOSIS, KIND_INTENSIVE, KIND_OFF = 0, 1, 2, 3, 4
#: Days between visits on therapy, during first-line observation, and off therapy.
ON_THERAPY_DAYS = 28
OBSERVATION_DAYS = 84
OFF_THERAPY_DAYS = 90
INDUCTION_DAYS = 180
#: Share of on-therapy follow-up visits that are clinician encounters.
P_ENCOUNTER_ON_THERAPY = 0.5
MAX_PER_SEGMENT = 160


@dataclass
class Visits:
    """One row per (patient, visit date); dates are true (unshifted) days."""

    p: np.ndarray  # int32 local patient index
    date: np.ndarray  # int32
    kind: np.ndarray  # int8 KIND_*
    line: np.ndarray  # int16 line the visit belongs to or precedes (0 before any line)
    encounter: np.ndarray  # bool: a clinician saw the patient (diagnoses coded)
    state: State  # disease state on the visit day

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
    date = a[seg] + j * interval[seg] + rng.integers(-3, 4, len(seg))
    keep = date <= b[seg]
    return p[seg][keep], line[seg][keep], date[keep].astype(np.int32)


def draw_visits(rng: np.random.Generator, c: Cohort, ln: Lines) -> Visits:
    """All visits of a chunk, unique per (patient, date), sorted by patient and date."""
    parts_p, parts_d, parts_k, parts_l = [], [], [], []

    def add(p, d, kind, line):
        parts_p.append(np.asarray(p, dtype=np.int32))
        parts_d.append(np.asarray(d, dtype=np.int32))
        parts_k.append(np.broadcast_to(np.asarray(kind, dtype=np.int8), (len(p),)))
        parts_l.append(np.asarray(line, dtype=np.int16))

    everyone = np.arange(c.n, dtype=np.int32)
    add(everyone, c.dx - rng.integers(0, 8, c.n), KIND_DIAGNOSIS, np.zeros(c.n))

    for share in (1.0, 0.6):
        pick = rng.random(len(ln.p)) < share
        add(ln.p[pick], (ln.start - rng.integers(0, 29, len(ln.p)))[pick], KIND_SCREENING,
            ln.line[pick])  # fmt: skip

    # On therapy: every 28 days; fixed-duration first lines without an IMiD slow down
    # to every 12 weeks after induction.
    start = ln.start.astype(np.int64)
    end = ln.end_eff.astype(np.int64)
    slow = (ln.line == 1) & ~IMID[ln.regimen]
    induction_end = np.where(slow, np.minimum(start + INDUCTION_DAYS, end), end)
    monthly = np.full(len(ln.p), ON_THERAPY_DAYS, dtype=np.int64)
    p, line, d = periodic(rng, ln.p, ln.line, start, induction_end, monthly)
    add(p, d, KIND_FOLLOW_UP, line)
    s = np.nonzero(slow & (end > induction_end))[0]
    p, line, d = periodic(rng, ln.p[s], ln.line[s], induction_end[s], end[s],
                          np.full(len(s), OBSERVATION_DAYS, dtype=np.int64))  # fmt: skip
    add(p, d, KIND_FOLLOW_UP, line)

    # Off therapy: after the last line ended (before end of follow-up), or never treated.
    last = np.full(c.n, -1, dtype=np.int64)
    last_end = c.dx.astype(np.int64).copy()
    last[ln.p] = np.arange(len(ln.p))  # lines are sorted by patient then line: last wins
    has_line = last >= 0
    last_end[has_line] = ln.end_eff[last[has_line]]
    last_line = np.where(has_line, ln.line[np.maximum(last, 0)], 0)
    off = last_end < c.end_fu
    p, line, d = periodic(rng, everyone[off], last_line[off], last_end[off],
                          c.end_fu[off].astype(np.int64),
                          np.full(int(off.sum()), OFF_THERAPY_DAYS, dtype=np.int64))  # fmt: skip
    add(p, d, KIND_OFF, line)

    p = np.concatenate(parts_p).astype(np.int64)
    date = np.concatenate(parts_d).astype(np.int64)
    kind = np.concatenate(parts_k)
    line = np.concatenate(parts_l)
    inside = (date <= c.end_fu[p]) & (date >= ln.obs_start[p])
    p, date, kind, line = p[inside], date[inside], kind[inside], line[inside]
    # One visit per (patient, day): the diagnostic work-up wins, then a relapse work-up,
    # then an off-therapy visit, then routine follow-up. A packed key sorts all at once.
    rank = np.array([3, 1, 0, 0, 2], dtype=np.int64)[kind]
    order = np.argsort((p << 40) | (date << 4) | rank, kind="stable")
    ps, ds = p[order], date[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = (ps[1:] != ps[:-1]) | (ds[1:] != ds[:-1])
    sel = order[first]
    p, date, kind, line = (
        p[sel].astype(np.int32),
        date[sel].astype(np.int32),
        kind[sel].copy(),
        line[sel],
    )
    st = state_at(c, ln, p, date)
    kind[(kind == KIND_FOLLOW_UP) & st.aggressive] = KIND_INTENSIVE
    encounter = (kind != KIND_FOLLOW_UP) | (rng.random(len(p)) < P_ENCOUNTER_ON_THERAPY)
    return Visits(p=p, date=date, kind=kind, line=line, encounter=encounter, state=st)
