"""Three-valued (Kleene) logic on polars boolean columns, and the status encoding.

A status is a nullable Boolean column: ``True`` = pass, ``False`` = fail, ``null`` =
unknown. Polars' ``&``, ``|`` and ``~`` on nullable Booleans already follow Kleene's
strong three-valued logic (``null & False`` is ``False``, ``null | True`` is ``True``);
these helpers only name that choice and convert to the contract's strings.
"""

from __future__ import annotations

from functools import reduce

import polars as pl

PASS, FAIL, UNKNOWN = "pass", "fail", "unknown"
STATUS_VALUES = (PASS, FAIL, UNKNOWN)
#: Rank used to choose a patient's best index in event mode (lower is better).
STATUS_RANK = {PASS: 0, UNKNOWN: 1, FAIL: 2}

NULL_BOOL = pl.lit(None, dtype=pl.Boolean)


def k_and(*exprs: pl.Expr) -> pl.Expr:
    """Kleene AND: false if any part is false, else unknown if any is unknown, else true."""
    if not exprs:
        return pl.lit(True)
    return reduce(lambda a, b: a & b, exprs)


def k_or(*exprs: pl.Expr) -> pl.Expr:
    """Kleene OR: true if any part is true, else unknown if any is unknown, else false."""
    if not exprs:
        return pl.lit(False)
    return reduce(lambda a, b: a | b, exprs)


def k_not(expr: pl.Expr) -> pl.Expr:
    """Kleene NOT: unknown stays unknown."""
    return ~expr


def k_when(condition: pl.Expr, then: pl.Expr) -> pl.Expr:
    """Applicability: condition false -> true, unknown -> unknown, true -> ``then``."""
    return (
        pl.when(condition.is_null())
        .then(NULL_BOOL)
        .when(condition)
        .then(then)
        .otherwise(pl.lit(True))
    )


def to_status(expr: pl.Expr) -> pl.Expr:
    """Nullable Boolean -> ``pass`` / ``fail`` / ``unknown``."""
    return (
        pl.when(expr).then(pl.lit(PASS)).when(~expr).then(pl.lit(FAIL)).otherwise(pl.lit(UNKNOWN))
    )


def from_status(expr: pl.Expr) -> pl.Expr:
    """``pass`` / ``fail`` / ``unknown`` -> nullable Boolean."""
    return (
        pl.when(expr == PASS)
        .then(pl.lit(True))
        .when(expr == FAIL)
        .then(pl.lit(False))
        .otherwise(NULL_BOOL)
    )
