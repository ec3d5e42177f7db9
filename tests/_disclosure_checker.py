"""An adversary for the disclosure policy: from the numbers a report shows, which true
counts from 1 to T can be worked out exactly?

The adversary knows the structure of the report (which set of patients each shown number
counts) and the policy (a shown value means the true count lies in an interval:
``Policy.interval``; a hidden "≤10" means 1..10; 0 is exact). Patients are grouped into
*atoms*: every combination of the attributes the shown numbers depend on, all of them
possible a priori (the adversary does not know which combinations are empty). Each shown
number bounds the sum of the atoms it counts; atom counts are non-negative integers. For
each quantity of interest whose true value is 1..T (a shown cell's true count, or a set
count such as a funnel step's exclusions) the adversary minimises and maximises it over
all integer solutions (a MILP, scipy's HiGHS): if min == max it is derivable.

Families of shown numbers are modelled jointly where they share patients:
- funnel (remaining, remaining_with_unknown, excluded; the CONSORT boxes and the headline
  show the same numbers) with the impact of one criterion and its readiness (data
  available = population - unknown), atoms (first fail step, first unknown step, status on
  the criterion, passes every other step);
- funnel with the cohort counts of one characteristic, atoms (first fail step, first
  unknown step, level);
- a threshold histogram with the impact of its criterion, atoms (status, bin or no value)
  restricted to the combinations the screen can produce.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

INF = 10**6  # "never" for first-fail / first-unknown steps


@dataclass
class Model:
    """Atoms (hashable tuples) and interval constraints on sums of them."""

    atoms: list[Hashable]
    rows: list[np.ndarray] = field(default_factory=list)
    lo: list[float] = field(default_factory=list)
    hi: list[float] = field(default_factory=list)

    def indicator(self, pred: Callable[[Hashable], bool]) -> np.ndarray:
        return np.array([1.0 if pred(a) else 0.0 for a in self.atoms])

    def shown(self, pred: Callable[[Hashable], bool], interval: tuple[int, int]) -> None:
        """A shown number: the atoms satisfying ``pred`` sum to a value in ``interval``."""
        self.rows.append(self.indicator(pred))
        self.lo.append(float(interval[0]))
        self.hi.append(float(interval[1]))

    def bounds(self, pred: Callable[[Hashable], bool]) -> tuple[int, int] | None:
        """(min, max) of the count of atoms satisfying ``pred``; None if infeasible."""
        c = self.indicator(pred)
        cons = LinearConstraint(np.vstack(self.rows), self.lo, self.hi) if self.rows else []
        n = len(self.atoms)
        out = []
        for sign in (1.0, -1.0):
            res = milp(
                sign * c,
                constraints=cons,
                integrality=np.ones(n),
                bounds=Bounds(0, np.inf),
                options={"time_limit": 20},
            )
            if res.status != 0:
                return None
            out.append(round(sign * res.fun))
        return out[0], out[1]


@dataclass
class Finding:
    family: str
    quantity: str
    true: int
    bounds: tuple[int, int] | None

    def __str__(self) -> str:
        return f"{self.family}: {self.quantity} = {self.true} derivable (bounds {self.bounds})"


def derivable(
    model: Model,
    family: str,
    quantities: Sequence[tuple[str, Callable[[Hashable], bool], int]],
    threshold: int,
) -> list[Finding]:
    """Quantities with a true value 1..threshold whose bounds meet (or the model is
    infeasible, which means the shown numbers contradict the truth: a checker bug)."""
    found = []
    for name, pred, true in quantities:
        if not 1 <= true <= threshold:
            continue
        b = model.bounds(pred)
        if b is None or b[0] == b[1]:
            found.append(Finding(family, name, true, b))
    return found


# --------------------------------------------------------------------------- patients


def first(statuses: Sequence[str], what: str) -> int:
    """1-based first step with status ``what``, or INF."""
    for i, s in enumerate(statuses, start=1):
        if s == what:
            return i
    return INF


def funnel_steps(k: int) -> list[int]:
    return [*range(1, k + 1), INF]


def funnel_cells(k: int) -> list[tuple[str, Callable[[tuple], bool]]]:
    """The funnel's cells as predicates on an atom whose first two fields are (first
    fail step F, first unknown step U): remaining_i = min(F,U) > i, with_unknown_i = F > i,
    excluded_i = min(F,U) == i."""
    cells = []
    for i in range(0, k + 1):
        cells.append((f"remaining[{i}]", lambda a, i=i: min(a[0], a[1]) > i))
        cells.append((f"remaining_with_unknown[{i}]", lambda a, i=i: a[0] > i))
        if i:
            cells.append((f"excluded[{i}]", lambda a, i=i: min(a[0], a[1]) == i))
    return cells


def fu_pairs(k: int) -> list[tuple[int, int]]:
    return [(f, u) for f in funnel_steps(k) for u in funnel_steps(k) if f == INF or f != u]


def add_funnel(model: Model, shown: dict[str, tuple[int, int]], k: int) -> None:
    for name, pred in funnel_cells(k):
        if name in shown:
            model.shown(pred, shown[name])


def funnel_truth(matrix: Sequence[Sequence[str]], k: int) -> list[tuple[int, int]]:
    return [(first(row, "fail"), first(row, "unknown")) for row in matrix]


def check_funnel_impact(
    matrix: Sequence[Sequence[str]],
    shown_funnel: dict[str, tuple[int, int]],
    shown_impact: dict[tuple[int, str], tuple[int, int]],
    threshold: int,
    population_step: int = 0,
) -> list[Finding]:
    """Funnel jointly with each criterion's impact cells. ``matrix``: one row per patient,
    statuses of steps 1..k. ``shown_impact[(j, cell)]`` with cell in fail_standalone,
    fail_unique, unknown, pass, available (readiness: population - unknown). Impact is over
    patients passing steps 1..population_step (event mode: 1, the index-event step)."""
    k = len(matrix[0]) if matrix else 0
    findings: list[Finding] = []
    truth_fu = funnel_truth(matrix, k)
    fu = fu_pairs(k)
    # funnel alone
    m = Model(list(fu))
    add_funnel(m, shown_funnel, k)
    qs = [(name, pred, sum(1 for a in truth_fu if pred(a))) for name, pred in funnel_cells(k)]
    findings += derivable(m, "funnel", qs, threshold)
    for j in range(population_step + 1, k + 1):
        atoms = [
            (f, u, st, o)
            for (f, u), st, o in itertools.product(fu, ("pass", "fail", "unknown"), (0, 1))
            if _possible(f, u, st, o, j)
        ]
        model = Model(atoms)
        add_funnel(model, shown_funnel, k)

        def in_pop(a, p=population_step):
            return min(a[0], a[1]) > p

        cells = {
            "fail_standalone": lambda a: in_pop(a) and a[2] == "fail",
            "fail_unique": lambda a: in_pop(a) and a[2] == "fail" and a[3] == 1,
            "unknown": lambda a: in_pop(a) and a[2] == "unknown",
            "pass": lambda a: in_pop(a) and a[2] == "pass",
            "available": lambda a: in_pop(a) and a[2] != "unknown",
        }
        for cell, pred in cells.items():
            if (j, cell) in shown_impact:
                model.shown(pred, shown_impact[(j, cell)])
        truth = []
        for row, (f, u) in zip(matrix, truth_fu, strict=True):
            s = row[j - 1]
            others = all(x == "pass" for i, x in enumerate(row, start=1) if i != j)
            truth.append((f, u, s, 1 if others else 0))
        qs = [
            (f"{cell}[{j}]", pred, sum(1 for a in truth if pred(a))) for cell, pred in cells.items()
        ]
        qs += [
            (name, pred, sum(1 for a in truth if pred(a)))
            for name, pred in funnel_cells(k)
            if name.startswith("excluded")
        ]
        findings += derivable(model, f"funnel+impact[{j}]", qs, threshold)
    return findings


def _possible(f: int, u: int, s: str, o: int, j: int) -> bool:
    """Can a patient whose first fail is step f and first unknown step u have status s at
    step j and (o == 1) pass every other step?"""
    if s == "fail" and f > j:
        return False
    if s == "unknown" and u > j:
        return False
    if s == "pass" and j in (f, u):
        return False
    if f == j and s != "fail":
        return False
    if u == j and s != "unknown":
        return False
    if o == 1:
        return f in (j, INF) and u in (j, INF)
    return not (f == INF and u == INF)


def check_funnel_cohort(
    matrix: Sequence[Sequence[str]],
    levels: Sequence[str],
    shown_funnel: dict[str, tuple[int, int]],
    shown_cohort: dict[tuple[str, int], tuple[int, int]],
    threshold: int,
    population_step: int = 0,
) -> list[Finding]:
    """Funnel jointly with one characteristic's counts per level and cohort step
    (cohort step s = funnel step s + population_step: remaining there)."""
    k = len(matrix[0]) if matrix else 0
    names = sorted(set(levels))
    atoms = [(f, u, lv) for (f, u) in fu_pairs(k) for lv in names]
    model = Model(atoms)
    add_funnel(model, shown_funnel, k)

    def pred_for(lv, s):
        step = s + population_step
        return lambda a: a[2] == lv and min(a[0], a[1]) > step

    for (lv, s), iv in shown_cohort.items():
        model.shown(pred_for(lv, s), iv)
    truth = [(f, u, lv) for (f, u), lv in zip(funnel_truth(matrix, k), levels, strict=True)]
    qs = []
    for lv in names:
        for s in range(0, k + 1 - population_step):
            pred = pred_for(lv, s)
            qs.append((f"cohort[{lv},{s}]", pred, sum(1 for a in truth if pred(a))))
            if s:
                step = s + population_step

                def gone(a, lv=lv, step=step):
                    return a[2] == lv and min(a[0], a[1]) == step

                qs.append((f"cohort_excluded[{lv},{s}]", gone, sum(1 for a in truth if gone(a))))
    return derivable(model, "funnel+cohort", qs, threshold)


def check_histogram(
    statuses: Sequence[str],
    bins: Sequence[int | None],
    shown_bins: dict[int, tuple[int, int]],
    shown_impact: dict[str, tuple[int, int]],
    threshold: int,
) -> list[Finding]:
    """A histogram (bin index per patient, None = no value) jointly with its criterion's
    impact cells (fail_standalone, unknown, pass). The adversary knows which (status, bin)
    combinations the screen can produce: those observed, plus any status without a value."""
    observed = {(s, b) for s, b in zip(statuses, bins, strict=True) if b is not None}
    atoms = sorted(observed | {(s, None) for s in ("pass", "fail", "unknown")}, key=str)
    model = Model(atoms)
    for b, iv in shown_bins.items():
        model.shown(lambda a, b=b: a[1] == b, iv)
    cell_pred = {
        "fail_standalone": lambda a: a[0] == "fail",
        "unknown": lambda a: a[0] == "unknown",
        "pass": lambda a: a[0] == "pass",
    }
    for cell, iv in shown_impact.items():
        if cell in cell_pred:
            model.shown(cell_pred[cell], iv)
    truth = list(zip(statuses, bins, strict=True))
    qs = [
        (f"bin[{b}]", lambda a, b=b: a[1] == b, sum(1 for t in truth if t[1] == b))
        for b in shown_bins
    ]
    for side in ("pass", "fail"):
        qs.append(
            (
                f"{side} side with a value",
                lambda a, side=side: a[0] == side and a[1] is not None,
                sum(1 for t in truth if t[0] == side and t[1] is not None),
            )
        )
    qs += [(c, p, sum(1 for t in truth if p(t))) for c, p in cell_pred.items()]
    return derivable(model, "histogram+impact", qs, threshold)
