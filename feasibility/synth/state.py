"""Disease burden at any (patient, day): what labs, ECOG and lesions follow.

Burden runs from 0 (no detectable disease) to 1 (untreated disease at diagnosis). On a
line it falls from its starting level to the response depth over the time to
response, stays there, and in the 90 days before a progression rises to the level of
the relapse (biochemical ~0.5, clinical 1.0). Off therapy after a progression it keeps
rising towards 1. Non-responders stay near their starting level.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from feasibility.synth.cohort import Cohort
from feasibility.synth.dates import NO_DATE
from feasibility.synth.lines import Lines

#: Days over which burden rises before a progression, and after it without therapy.
RISE_DAYS = 90
UNTREATED_RISE_DAYS = 180


@dataclass
class State:
    """Disease state at each queried (patient, day)."""

    b: np.ndarray  # float32 burden 0..1
    row: np.ndarray  # int64 index of the line started last on or before the day, -1 none
    on_tx: np.ndarray  # bool: inside a line (start <= day <= its last day)
    line: np.ndarray  # int16 that line's number (0 before any line)
    aggressive: np.ndarray  # bool: extramedullary or leukaemic disease present

    @property
    def regimen_row(self) -> np.ndarray:
        return np.maximum(self.row, 0)


def _key(p: np.ndarray, d: np.ndarray) -> np.ndarray:
    return (np.asarray(p, dtype=np.int64) << 32) + np.asarray(d, dtype=np.int64)


def state_at(c: Cohort, ln: Lines, p: np.ndarray, d: np.ndarray) -> State:
    """Burden and therapy state for each query row (vectorised, lines sorted by p, line)."""
    p = np.asarray(p, dtype=np.int64)
    d = np.asarray(d, dtype=np.int64)
    row = np.searchsorted(_key(ln.p, ln.start), _key(p, d), side="right") - 1
    valid = row >= 0
    valid[valid] = ln.p[row[valid]] == p[valid]
    r = np.where(valid, row, 0)
    if len(ln.p) == 0:
        r = np.zeros(len(p), dtype=np.int64)
        valid[:] = False
    s = ln.start[r].astype(np.int64) if len(ln.p) else np.zeros(len(p), np.int64)
    e = ln.end_eff[r].astype(np.int64) if len(ln.p) else np.zeros(len(p), np.int64)
    resp = ln.resp[r].astype(np.int64) if len(ln.p) else np.full(len(p), NO_DATE, np.int64)
    depth = ln.depth[r] if len(ln.p) else np.ones(len(p), np.float32)
    b0 = ln.b_start[r] if len(ln.p) else np.ones(len(p), np.float32)
    b1 = ln.b_end[r] if len(ln.p) else np.ones(len(p), np.float32)
    prog = ln.progressed[r] if len(ln.p) else np.zeros(len(p), bool)

    responded = resp != NO_DATE
    frac = np.clip((d - s) / np.maximum(resp - s, 1), 0.0, 1.0)
    b_on = np.where(responded, b0 + (depth - b0) * frac, np.maximum(depth, 0.85 * b0))
    rise = np.clip((d - (e - RISE_DAYS)) / RISE_DAYS, 0.0, 1.0)
    b_on = np.where(prog, b_on + (np.maximum(b1, b_on) - b_on) * rise, b_on)
    after = np.clip((d - e) / UNTREATED_RISE_DAYS, 0.0, 1.0)
    b_off = np.where(prog, b1 + (1.0 - b1) * after, depth)
    on_tx = valid & (d <= e)
    b = np.where(valid, np.where(on_tx, b_on, b_off), 1.0)
    aggressive = (ln.emd_day[p] <= d) | (ln.pcl_day[p] <= d)
    line = np.where(valid, ln.line[r] if len(ln.p) else 0, 0).astype(np.int16)
    return State(b=b.astype(np.float32), row=np.where(valid, row, -1), on_tx=on_tx, line=line,
                 aggressive=aggressive)  # fmt: skip
