"""The polars translation of a query (:mod:`feasibility.protocol.pieces`): a ``records``
rule's rows, filters, window, pick and comparison, reduced to one row of features per
(patient, index) pair.

Used by the compiler for :class:`~feasibility.protocol.Records` leaves (``_Query`` in
:mod:`feasibility.engine.compiler`); self-contained so that the per-table feature code of
the other leaves (:mod:`feasibility.engine.features`) is untouched.

Three-valued rows (contract 5.1): a row's qualification is the Kleene AND of its
conditions and its window, null where a missing date or a null filtered field would
decide it. ``sure`` rows qualify; ``maybe`` rows might. Per pick:

- ``any``: true if a sure row exists, else unknown if a maybe row does, else false;
- ``count``: the comparison over every count between the sure rows and sure + maybe;
- ``max``: the largest sure value tested, unless a larger maybe value tests otherwise
  (no sure value: unknown);
- ``latest``: the values of the sure rows on the latest day, and of the maybe rows on that
  day or later (or undated), must all test alike (no sure value: unknown).

``found`` (for ``if_missing``): a sure or maybe row (with a value, for max and latest).
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from feasibility.engine.features import (
    IDX,
    PID,
    Scope,
    _coded,
    code_match,
    in_window,
    pair_key,
    plausible,
    with_index,
)
from feasibility.engine.logic import NULL_BOOL, k_and
from feasibility.protocol import (
    GRADED_ITEMS,
    CategoryFilter,
    CodeFilter,
    Comparison,
    DrugFilter,
    EndsAfter,
    Filter,
    FlagFilter,
    ItemFilter,
    MinValue,
    Query,
    StartedBy,
    TestFilter,
    ValueSet,
)
from feasibility.protocol.compare import compare
from feasibility.protocol.pieces import END_DATE
from feasibility.schema import (
    EVENT_DATE,
    NON_SYSTEMIC_ROUTES,
    canonical_drug_expr,
    regimen_ingredients,
)


def query_scope(q: Query, hi: dt.date | None) -> Scope:
    """The rows of its table a query reads: those of its selectors' keys (tests, items,
    code lists, drug spellings, categories), on or before the last index, undated ones
    always."""
    keys: set = set()
    for f in q.selectors:
        if isinstance(f, TestFilter | ItemFilter | CategoryFilter):
            keys.add(f.name)
        elif isinstance(f, CodeFilter):
            keys.add(f.codelist)
        elif isinstance(f, DrugFilter):
            keys |= set(f.druglist.spellings)
    return Scope(frozenset(keys) if q.selectors else None, None, hi)


def _filter_expr(f: Filter, lf: pl.LazyFrame, table: str) -> pl.Expr:
    """One filter as a nullable Boolean over the rows (null: the field it reads is null)."""
    if isinstance(f, TestFilter | ItemFilter | CategoryFilter):
        return pl.col(f.column).cast(pl.String) == f.name
    if isinstance(f, CodeFilter):
        return code_match(pl.col("code").cast(pl.String), f.codelist).fill_null(False)
    if isinstance(f, DrugFilter) and f.on == "regimen":
        regimens = lf.select(pl.col("regimen").cast(pl.String).unique()).collect()["regimen"]
        hits = [
            r
            for r in regimens.drop_nulls().to_list()
            if regimen_ingredients(r) & set(f.druglist.drugs)
        ]
        return pl.col("regimen").cast(pl.String).is_in(hits).fill_null(False)
    if isinstance(f, DrugFilter):
        drug = canonical_drug_expr(pl.col("drug").cast(pl.String))
        match = drug.is_in(sorted(f.druglist.spellings)).fill_null(False)
        if f.systemic_only:
            route = pl.col("route").cast(pl.String).str.strip_chars().str.to_lowercase()
            match = match & (route.is_null() | ~route.is_in(sorted(NON_SYSTEMIC_ROUTES)))
        return match
    if isinstance(f, FlagFilter):
        return pl.col(f.flag) == f.value
    if isinstance(f, MinValue):
        return pl.col(f.of).cast(pl.Float64) >= f.value
    if isinstance(f, StartedBy):
        start = pl.col(EVENT_DATE[table])
        return start < pl.col(IDX) if f.strictly else start <= pl.col(IDX)
    if isinstance(f, EndsAfter):
        end = pl.col("end_date")
        return end.is_null() | (end >= pl.col(IDX) - pl.duration(days=f.days))
    raise TypeError(f"the polars engine has no translation for filter {type(f).__name__}")


def _number(q: Query, v: pl.Expr) -> pl.Expr:
    """The picked value as a number: an assessment grade only when it is a whole number."""
    if q.table == "assessments":
        text = v.cast(pl.String).str.strip_chars()
        return pl.when(text.str.contains(r"^\d+$")).then(text.cast(pl.Float64, strict=False))
    return v.cast(pl.Float64)


def _value_truth(q: Query, v: pl.Expr, number: bool = False) -> pl.Expr:
    """The query's test on a value (null value: null); ``number``: ``v`` is already the
    value as a number (a ``max``)."""
    if isinstance(q.test, ValueSet):
        text = v.cast(pl.String).str.strip_chars().str.to_lowercase()
        return text.is_in(list(q.test.values))
    cmp = q.test
    assert isinstance(cmp, Comparison)
    if q.table == "assessments" and not (q.names <= GRADED_ITEMS):
        return NULL_BOOL
    return compare(v if number else _number(q, v), cmp.op, cmp.value)


def _placed(q: Query, date: str) -> pl.Expr:
    """An undated row that ended before the index lay wholly before it (contract 5.1): its
    date, wherever it started, is taken as its end (on or before which it started; for
    ``latest`` only when it ended before the index). One that ended on the index day lies
    in any window of at least a day (not for ``latest``: it might be the most recent)."""
    start, end, index = pl.col(date), pl.col(END_DATE[q.table]), pl.col(IDX)
    on_index = q.pick.kind != "latest" and (
        q.window is None or q.window.days is None or q.window.days >= 1
    )
    ended = start.is_null() & ((end < index) | ((end == index) & on_index))
    return pl.when(ended).then(pl.min_horizontal(end, index)).otherwise(start).alias(date)


def count_truth(lo: pl.Expr, hi: pl.Expr, cmp: Comparison) -> pl.Expr:
    """``n op value`` for every whole n in [lo, hi]: the common answer, else null."""
    v = cmp.value
    if cmp.op in ("==", "!="):
        whole = float(v).is_integer()
        sure = (lo == hi) & (lo == v)
        could = (lo <= v) & (hi >= v) if whole else pl.lit(False)
        eq = pl.when(sure).then(pl.lit(True)).when(could).then(NULL_BOOL).otherwise(pl.lit(False))
        return eq if cmp.op == "==" else ~eq
    a, b = compare(lo, cmp.op, v), compare(hi, cmp.op, v)
    return pl.when(a == b).then(a).otherwise(NULL_BOOL)


def query_features(
    k: str, q: Query, lf: pl.LazyFrame, idx: pl.LazyFrame, fixed: dt.date | None
) -> pl.LazyFrame:
    """Per (patient, index): ``{k}:truth``, ``{k}:found``, ``{k}:value`` and ``{k}:date``
    of query ``q`` over its table ``lf`` (see the module docstring)."""
    table, date = q.table, EVENT_DATE[q.table]
    coded, idx = _coded(lf, idx, fixed)
    schema = lf.collect_schema()
    wanted = {PID, date} | {f.column for f in q.filters} | {"end_date", "route"}
    if q.pick.of is not None:
        wanted.add(q.pick.of)
    if table == "measurements":
        wanted.add("value")  # the plausibility filter reads it
    rows = lf.select([c for c in schema if c in wanted])
    if q.pick.kind == "count":
        # contract 2: exact duplicate rows count once (the engine's scan keeps them; rows
        # equal in every column the engine reads are taken as duplicates)
        columns = rows.collect_schema().names()
        rows = lf.select([c for c in schema if c != "_row"]).unique().select(columns)
    selected = [_filter_expr(f, lf, table).fill_null(False) for f in q.selectors]
    if selected:
        rows = rows.filter(k_and(*selected))
    if table == "measurements":  # contract 5.2: a value no lab can produce never decides
        rows = rows.filter(plausible("test", sorted(q.names)))
    rows = with_index(rows, idx, fixed)
    if table in END_DATE:
        rows = rows.with_columns(_placed(q, date))
    rows = rows.filter(pl.col(date).is_null() | (pl.col(date) <= pl.col(IDX)))
    parts = [_filter_expr(f, lf, table) for f in q.conditions]
    if q.window is not None:
        parts.append(in_window(pl.col(date), q.window))
    ok = k_and(*parts) if parts else pl.lit(True)
    key = pair_key(fixed)
    rows = rows.with_columns(ok.alias("_ok"))
    if q.pick.of is not None:
        rows = rows.with_columns(pl.col(q.pick.of).alias("_v")).filter(pl.col("_v").is_not_null())
    sure, maybe = pl.col("_ok").fill_null(False), pl.col("_ok").is_null()
    if q.pick.kind in ("any", "count"):
        feat = rows.group_by(key).agg(
            sure.sum().alias("_lo"),
            (sure | maybe).sum().alias("_hi"),
            pl.when(sure).then(pl.col(date)).max().alias(f"{k}:date"),
        )
        lo, hi = pl.col("_lo"), pl.col("_hi")
        truth: pl.Expr
        if q.pick.kind == "any":
            truth = pl.when(lo > 0).then(pl.lit(True)).when(hi > 0).then(NULL_BOOL).otherwise(False)
        else:
            assert q.comparison is not None
            truth = count_truth(lo, hi, q.comparison)
        value = lo.cast(pl.Float64)
        found = hi > 0
    elif q.pick.kind == "max":
        num = _number(q, pl.col("_v"))
        feat = rows.group_by(key).agg(
            pl.when(sure).then(num).max().alias("_top"),
            pl.when(maybe).then(num).max().alias("_maybe"),
            pl.when(sure & num.is_not_null()).then(pl.col(date)).max().alias(f"{k}:date"),
        )
        top = pl.col("_top")
        a = _value_truth(q, top, number=True)
        b = _value_truth(q, pl.max_horizontal(top, pl.col("_maybe")), number=True)
        truth = pl.when(top.is_null()).then(NULL_BOOL).when(a == b).then(a).otherwise(NULL_BOOL)
        value = top
        found = top.is_not_null() | pl.col("_maybe").is_not_null()
    else:
        best = rows.group_by(key).agg(pl.when(sure).then(pl.col(date)).max().alias("_best"))
        rows = rows.join(best, on=key, how="left")
        on_best = sure & (pl.col(date) == pl.col("_best"))
        late = maybe & (
            pl.col("_best").is_null() | pl.col(date).is_null() | (pl.col(date) >= pl.col("_best"))
        )
        counted = (on_best | late).fill_null(False)
        t = _value_truth(q, pl.col("_v"))
        feat = rows.group_by(key).agg(
            pl.col("_best").first().alias(f"{k}:date"),
            (counted & (t == True)).fill_null(False).sum().alias("_t"),  # noqa: E712
            (counted & (t == False)).fill_null(False).sum().alias("_f"),  # noqa: E712
            counted.sum().alias("_n"),
            maybe.any().alias("_maybe"),
            pl.when(on_best).then(_number(q, pl.col("_v"))).max().alias("_shown"),
        )
        n, best_d = pl.col("_n"), pl.col(f"{k}:date")
        truth = (
            pl.when(best_d.is_null())
            .then(NULL_BOOL)
            .when(pl.col("_t") == n)
            .then(pl.lit(True))
            .when(pl.col("_f") == n)
            .then(pl.lit(False))
            .otherwise(NULL_BOOL)
        )
        value = pl.col("_shown")
        found = best_d.is_not_null() | pl.col("_maybe")
    out = feat.select(
        key,
        truth.alias(f"{k}:truth"),
        found.fill_null(False).alias(f"{k}:found"),
        value.cast(pl.Float64).alias(f"{k}:value"),
        pl.col(f"{k}:date"),
    )
    return out.with_columns(pl.col(PID).cast(pl.String)) if coded and fixed is not None else out


__all__ = ["count_truth", "query_features", "query_scope"]
