"""Cell suppression (primary plus complementary): the ``suppress`` method of
:class:`feasibility.disclosure.Policy`, for sites whose rules demand exact counts or none.

The default method of the policy rounds instead (see :mod:`feasibility.disclosure`); this
module holds the suppression algorithms it calls with ``method="suppress"``:

* **Primary**: a count from 1 to ``threshold`` (default 10) is hidden. Zero is shown:
  "nobody" is not a disclosure of an individual.
* **Differences along a funnel**: the ``remaining`` and ``remaining_with_unknown`` series
  are nested sets (each step keeps a subset of the one before, and ``remaining`` is a
  subset of ``remaining_with_unknown``). Counts are admitted one at a time (the registry
  total, then the final eligible and could-be-eligible counts, then the steps in order),
  and a count is shown only if it differs from *every* funnel count already shown
  (either series) by 0 or by more than ``threshold``. So no subtraction of two shown
  counts, adjacent or not, within or between the series, gives 1..threshold (this is
  stricter than needed: only nested pairs are true set differences). ``excluded`` is
  shown only when both ``remaining`` counts it is the difference of are shown (it is
  then 0 or above the threshold by construction).
* **Chains across steps** (the cohort's groups followed along the funnel) follow the
  same pairwise rule, keeping the registry and the eligible ends first.
* **Complementary suppression in partitions**: where cells add up to a shown total
  (the levels of sex at a funnel step, the fail/pass bins of a histogram), the hidden
  cells of the partition must add up to 0 or more than ``threshold``; otherwise the
  smallest further non-zero cells are hidden too. A partition whose total is hidden
  keeps at least one non-zero cell hidden so the total cannot be re-added.
* **Criterion impact**: per criterion the counts failing standalone (F), failing only
  this criterion (U, a subset of F), unknown (K) and passing (P = N-F-K) are admitted
  one at a time (F, K, P, U), each kept only if every set count that is a linear
  combination of the kept cells and the registry total N (F, U, K, P, F-U, N-F, N-K,
  N-U, ...: checked exactly by a rank test over the four disjoint groups) is 0 or
  above the threshold.
* **Across tables**: :func:`reconcile_impact` hides impact cells that equal (or give
  back) a funnel count the funnel hides.
* **Percentages** are shown only when every count they are computed from is shown.

Not covered: derivations combining three or more tables (for example data-quality row
counts of invalid ``sex`` values against the cohort's unknown-sex group), and counts that
are not of patients or rows (numbers of checks, expected enrolment estimates).

Suppressed cells are ``null`` in the frames returned here, with a boolean
``<column>_suppressed`` flag beside each controlled column; the report prints them as
"hidden" and CSV files leave them empty (flag column ``true``).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations

import polars as pl

DEFAULT_THRESHOLD = 10
FUNNEL_COUNTS = ("remaining", "remaining_with_unknown", "excluded")
IMPACT_COUNTS = ("fail_standalone", "fail_unique", "unknown")
#: Optional impact column (patients passing the criterion), controlled when present.
IMPACT_PASS = "pass"


@dataclass(frozen=True)
class _Rule:
    """Counts 1..``threshold`` may not be shown (``enabled=False``: everything is shown)."""

    threshold: int = DEFAULT_THRESHOLD
    enabled: bool = True

    def small(self, n: int | None) -> bool:
        return self.enabled and n is not None and 1 <= n <= self.threshold


def _policy(threshold: int | None, enabled: bool) -> _Rule:
    return _Rule(DEFAULT_THRESHOLD if threshold is None else int(threshold), bool(enabled))


def is_small(n: int | None, threshold: int = DEFAULT_THRESHOLD) -> bool:
    """True when ``n`` lies in 1..threshold (a count that must not be shown)."""
    return n is not None and 1 <= n <= threshold


def _flag(name: str) -> str:
    return f"{name}_suppressed"


def _apply_mask(df: pl.DataFrame, masks: dict[str, list[bool]]) -> pl.DataFrame:
    """Null the hidden cells and add a ``<col>_suppressed`` flag beside each column."""
    cols = []
    for name, mask in masks.items():
        flag = pl.Series(_flag(name), mask, dtype=pl.Boolean)
        cols.append(pl.when(flag).then(None).otherwise(pl.col(name)).cast(pl.Int64).alias(name))
        cols.append(pl.lit(flag).alias(_flag(name)))
    return df.with_columns(cols)


# --------------------------------------------------------------------------- funnel


def suppress_funnel(
    funnel: pl.DataFrame, threshold: int | None = None, *, enabled: bool = True
) -> pl.DataFrame:
    """Hide funnel counts so that no shown count, and no difference of shown counts, is small.

    ``funnel`` has the contract columns (step, criterion, label, remaining,
    remaining_with_unknown, excluded), step 0 first. Returns the same rows with hidden
    counts null, ``<col>_suppressed`` flags, and ``remaining_pct`` /
    ``remaining_with_unknown_pct`` (percent of the registry, null when hidden).
    """
    pol = _policy(threshold, enabled)
    df = funnel.sort("step")
    rem = [int(v) for v in df["remaining"].to_list()]
    rwu = [int(v) for v in df["remaining_with_unknown"].to_list()]
    shown: list[int] = []
    n = len(rem)
    hide_rem: list[bool] = [True] * n
    hide_rwu: list[bool] = [True] * n

    def admit(v: int) -> bool:
        ok = not pol.small(v) and not any(pol.small(abs(v - s)) for s in shown)
        if ok:
            shown.append(v)
        return not ok

    # Priority: the registry total, then the headline (eligible, could be eligible), then
    # the steps in order. Any admission order gives the same guarantee (every pair of shown
    # counts differs by 0 or > threshold); this one keeps the numbers a reader needs most.
    order = [(0, "w"), (0, "r")]
    if n > 1:
        order += [(n - 1, "r"), (n - 1, "w")]
    order += [(i, k) for i in range(1, n - 1) for k in ("w", "r")]
    for i, k in order:
        if k == "r":
            hide_rem[i] = admit(rem[i])
        else:
            hide_rwu[i] = admit(rwu[i])
    hide_exc = [True if i == 0 else (hide_rem[i - 1] or hide_rem[i]) for i in range(len(rem))]
    if len(rem):
        # step 0's excluded is 0 by definition (nobody removed before the first criterion)
        hide_exc[0] = pol.small(int(df["excluded"][0] or 0))
    if not pol.enabled:
        hide_rem = [False] * len(rem)
        hide_rwu = [False] * len(rem)
        hide_exc = [False] * len(rem)
    out = _apply_mask(
        df, {"remaining": hide_rem, "remaining_with_unknown": hide_rwu, "excluded": hide_exc}
    )
    total = out["remaining"][0] if out.height else None
    return out.with_columns(
        _pct(pl.col("remaining"), total).alias("remaining_pct"),
        _pct(pl.col("remaining_with_unknown"), total).alias("remaining_with_unknown_pct"),
    )


def _pct(col: pl.Expr, total: int | None) -> pl.Expr:
    if total is None or total == 0:
        return pl.lit(None, dtype=pl.Float64)
    return (col.cast(pl.Float64) * 100.0 / total).round(1)


# --------------------------------------------------------------------------- impact


#: Atoms of one criterion's partition of the registry: U (fail only this criterion),
#: F\U (fail this and another), K (unknown), P (pass). Each shown cell is a set of atoms.
_IMPACT_ATOMS = {
    "N": (1, 1, 1, 1),
    "fail_standalone": (1, 1, 0, 0),
    "fail_unique": (1, 0, 0, 0),
    "unknown": (0, 0, 1, 0),
    "pass": (0, 0, 0, 1),
    # N - fail_standalone: the funnel's remaining_with_unknown at the criterion's step 1
    "notfail": (0, 0, 1, 1),
}


@functools.lru_cache(maxsize=64)
def _derivable_sets(shown: tuple[str, ...]) -> list[tuple[int, ...]]:
    """Sets of atoms whose count follows linearly from the shown cells (exact rational rank test)."""
    import numpy as np

    basis = np.array([_IMPACT_ATOMS[s] for s in shown], dtype=float).reshape(-1, 4)
    rank = np.linalg.matrix_rank(basis) if len(shown) else 0
    out = []
    for k in range(1, 5):
        for idx in combinations(range(4), k):
            vec = tuple(1 if i in idx else 0 for i in range(4))
            if len(shown) and np.linalg.matrix_rank(np.vstack([basis, vec])) == rank:
                out.append(vec)
    return out


def suppress_impact(
    impact: pl.DataFrame,
    total: int | None,
    threshold: int | None = None,
    *,
    enabled: bool = True,
    total_shown: bool = True,
    known: dict[str, tuple[str, ...]] | None = None,
) -> pl.DataFrame:
    """Hide impact cells (fail_standalone, fail_unique, unknown) so no derivable count is small.

    ``total`` is the registry size N the counts partition (shown in the funnel when
    ``total_shown``). ``known`` lists, per criterion, cells the reader already has from
    another table (the first funnel step's criterion: ``pass`` = remaining, ``notfail`` =
    remaining_with_unknown). Cells are admitted in the order F, K, U; a cell is kept only
    if, with it, every set count derivable from the shown cells and N is 0 or > threshold.
    """
    pol = _policy(threshold, enabled)
    cells = list(IMPACT_COUNTS) + ([IMPACT_PASS] if IMPACT_PASS in impact.columns else [])
    masks: dict[str, list[bool]] = {c: [] for c in cells}
    admit_order = [c for c in ("fail_standalone", "unknown", "pass", "fail_unique") if c in cells]
    for row in impact.iter_rows(named=True):
        f, u, k = (int(row[c] or 0) for c in IMPACT_COUNTS)
        n = int(total) if total is not None else None
        p = int(row[IMPACT_PASS] or 0) if IMPACT_PASS in cells else None
        if p is None and n is not None:
            p = n - f - k
        values = {"N": n, "fail_standalone": f, "fail_unique": u, "unknown": k, "pass": p}
        atoms = (u, f - u, k, p) if p is not None else None
        shown: list[str] = ["N"] if (n is not None and total_shown) else []
        shown += list((known or {}).get(row["criterion"], ()))
        hidden: set[str] = set()
        for cell in admit_order:
            if cell in shown:
                continue
            if not pol.enabled:
                continue
            if pol.small(values[cell]):
                hidden.add(cell)
                continue
            trial = shown + [cell]
            sets = _derivable_sets(tuple(trial))
            ok = atoms is None or all(
                not pol.small(sum(a for a, b in zip(atoms, vec, strict=True) if b)) for vec in sets
            )
            if ok and not total_shown and (1, 1, 1, 1) in sets and n:
                ok = False  # the cells would add up to the population the funnel hides
            if ok:
                shown.append(cell)
            else:
                hidden.add(cell)
        for c in cells:
            masks[c].append(c in hidden)
    out = _apply_mask(impact, masks)
    pct_total = total if (total and total_shown) else None
    return out.with_columns(_pct(pl.col(c), pct_total).alias(f"{c}_pct") for c in cells)


def reconcile_impact(impact: pl.DataFrame, funnel: pl.DataFrame) -> pl.DataFrame:
    """Hide impact cells that would reveal a count the (suppressed) funnel hides.

    Two identities tie the tables: for the criterion at funnel step 1, its ``pass``
    count *is* ``remaining`` at step 1 and registry minus ``fail_standalone`` *is*
    ``remaining_with_unknown`` at step 1; for the last step's criterion,
    ``fail_unique`` equals the step's ``excluded`` whenever nobody is unknown on it.
    So: a hidden step-1 ``remaining`` hides that criterion's ``pass`` (and ``unknown``
    when fail and unknown are both shown, since pass = N - fail - unknown); a hidden
    step-1 ``remaining_with_unknown`` hides its ``fail_standalone`` (and ``pass`` when
    unknown and pass would give it back); a hidden last ``excluded`` hides the last
    criterion's ``fail_unique``. Hiding more never makes another count derivable.
    """
    if funnel.height < 2 or "remaining_suppressed" not in funnel.columns:
        return impact
    f = funnel.sort("step")
    first, last = f.row(1, named=True), f.row(-1, named=True)
    cols = [c for c in (*IMPACT_COUNTS, IMPACT_PASS) if c in impact.columns]
    rows = impact.to_dicts()
    for row in rows:
        hide: set[str] = set()
        if row["criterion"] == first["criterion"]:
            if first["remaining_suppressed"]:
                hide.add(IMPACT_PASS)
                if row["fail_standalone"] is not None and row["unknown"] is not None:
                    hide.add("unknown")
            if first["remaining_with_unknown_suppressed"]:
                hide.add("fail_standalone")
                if row["unknown"] is not None and row.get(IMPACT_PASS) is not None:
                    hide.add(IMPACT_PASS)
        if row["criterion"] == last["criterion"] and last["excluded_suppressed"]:
            hide.add("fail_unique")
        for c in hide & set(cols):
            row[c] = None
            row[_flag(c)] = True
            if f"{c}_pct" in row:
                row[f"{c}_pct"] = None
    return pl.DataFrame(rows, schema=impact.schema)


# --------------------------------------------------------------------------- partitions / chains


def _hide_partition(values: list[int], hidden: list[bool], pol: _Rule, total_shown: bool) -> bool:
    """Complementary suppression of one partition in place. Returns True if anything changed."""
    changed = False
    while True:
        hid_sum = sum(v for v, h in zip(values, hidden, strict=True) if h)
        n_hidden_nonzero = sum(1 for v, h in zip(values, hidden, strict=True) if h and v > 0)
        need = (total_shown and pol.small(hid_sum)) or (
            not total_shown and sum(values) > 0 and n_hidden_nonzero == 0
        )
        if not need:
            return changed
        candidates = [
            i for i, (v, h) in enumerate(zip(values, hidden, strict=True)) if not h and v > 0
        ]
        if not candidates:
            return changed
        i = min(candidates, key=lambda j: values[j])
        hidden[i] = True
        changed = True


def _hide_chain(
    values: list[int], hidden: list[bool], pol: _Rule, ends_first: bool = False
) -> bool:
    """Along a nested (non-increasing) chain: hide a cell that is small or differs from
    a cell already admitted by 1..threshold. Cells are admitted in chain order, or with
    ``ends_first`` the first and last before the middle (so the registry and the final
    eligible cohort are the ones kept). Returns True if anything changed."""
    changed = False
    shown: list[int] = []
    n = len(values)
    order = list(range(n))
    if ends_first and n > 2:
        order = [0, n - 1, *range(1, n - 1)]
    for i in order:
        v = values[i]
        if hidden[i]:
            continue
        if pol.small(v) or any(pol.small(abs(v - s)) for s in shown):
            hidden[i] = True
            changed = True
        else:
            shown.append(v)
    return changed


def suppress_partitions(
    df: pl.DataFrame,
    *,
    count: str,
    partition_by: Sequence[str],
    chain_by: Sequence[str] | None = None,
    chain_order: str | None = None,
    total_shown: dict[tuple, bool] | None = None,
    threshold: int | None = None,
    enabled: bool = True,
    chain_ends_first: bool = False,
) -> pl.DataFrame:
    """Suppress a table of counts made of partitions (cells summing to a total) and,
    optionally, chains (the same cell followed along nested steps).

    ``partition_by`` names the columns identifying one partition (e.g. variable and
    step); ``chain_by`` the columns identifying one chain (e.g. variable and level),
    ordered by ``chain_order``. ``total_shown`` says per partition key whether its total
    is shown elsewhere (default: shown). ``chain_ends_first`` keeps the two ends of each
    chain in preference to its middle. Primary, chain and partition rules are applied
    until nothing changes (hiding only ever grows, so this terminates).
    """
    pol = _policy(threshold, enabled)
    df = df.with_row_index("_i")
    values = [int(v or 0) for v in df[count].to_list()]
    hidden = [pol.small(v) for v in values]
    if pol.enabled:
        parts = [
            (key, grp["_i"].to_list())
            for key, grp in df.group_by(list(partition_by), maintain_order=True)
        ]
        chains = []
        if chain_by:
            for _, grp in df.group_by(list(chain_by), maintain_order=True):
                grp = grp.sort(chain_order) if chain_order else grp
                chains.append(grp["_i"].to_list())
        changed = True
        while changed:
            changed = False
            for idx in chains:
                sub_v = [values[i] for i in idx]
                sub_h = [hidden[i] for i in idx]
                if _hide_chain(sub_v, sub_h, pol, chain_ends_first):
                    changed = True
                    for i, h in zip(idx, sub_h, strict=True):
                        hidden[i] = h
            for key, idx in parts:
                shown_total = True if total_shown is None else total_shown.get(tuple(key), True)
                sub_v = [values[i] for i in idx]
                sub_h = [hidden[i] for i in idx]
                if _hide_partition(sub_v, sub_h, pol, shown_total):
                    changed = True
                    for i, h in zip(idx, sub_h, strict=True):
                        hidden[i] = h
    else:
        hidden = [False] * len(values)
    return _apply_mask(df.drop("_i"), {count: hidden})


def suppress_values(
    values: Iterable[int | None], threshold: int | None = None, *, enabled: bool = True
) -> list[int | None]:
    """Primary suppression of independent counts (no totals to subtract from): 1..t -> None."""
    pol = _policy(threshold, enabled)
    return [None if pol.small(v) else v for v in values]


def format_count(value: int | None, hidden: bool | None = None) -> str:
    """How the report prints a controlled count: thousands separators, or "hidden"."""
    if hidden or value is None:
        return "hidden"
    return f"{int(value):,}"


def format_pct(value: float | None) -> str:
    """A percentage to one decimal, or "hidden" when its count is hidden."""
    if value is None:
        return "hidden"
    return f"{value:.1f}%"


def suppress_cohort(
    cohort: pl.DataFrame,
    funnel_suppressed: pl.DataFrame | None,
    threshold: int | None = None,
    *,
    enabled: bool = True,
) -> pl.DataFrame:
    """Suppress the cohort-by-step counts and add ``pct`` (share of the step's patients).

    Each (variable, step) is a partition of the funnel's ``remaining`` at that step;
    each (variable, level) followed along the steps is a nested chain. A step whose
    total is hidden in the funnel keeps its percentages hidden as well.
    """
    totals = cohort.group_by("variable", "step").agg(pl.col("count").sum().alias("_total"))
    hidden_steps: set[int] = set()
    if funnel_suppressed is not None and "remaining_suppressed" in funnel_suppressed.columns:
        hidden_steps = set(
            funnel_suppressed.filter(pl.col("remaining_suppressed"))["step"].to_list()
        )
    shown_total = {
        (v, s): s not in hidden_steps for v, s in totals.select("variable", "step").iter_rows()
    }
    out = suppress_partitions(
        cohort,
        count="count",
        partition_by=("variable", "step"),
        chain_by=("variable", "level"),
        chain_order="step",
        total_shown=shown_total,
        threshold=threshold,
        enabled=enabled,
        chain_ends_first=True,
    )
    out = out.join(totals, on=["variable", "step"], how="left")
    hidden_total = pl.col("step").is_in(sorted(hidden_steps)) if enabled else pl.lit(False)
    return out.with_columns(
        pl.when(hidden_total | pl.col("count").is_null() | (pl.col("_total") == 0))
        .then(None)
        .otherwise((pl.col("count") * 100.0 / pl.col("_total")).round(1))
        .alias("pct")
    ).drop("_total")
