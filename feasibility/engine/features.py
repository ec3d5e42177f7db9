"""Per-table features of a screen: each registry table reduced, in one pass, to one row per
(patient, index) holding what every rule leaf reading that table needs.

Measurements and assessments: the latest record per (patient, index, test|item) inside the
widest window any criterion needs (a narrower window then only checks that record's date,
since all windows end at the index), plus the values of the patient's *undated* rows per
test|item (contract 5.1: an undated row is unknown where it would decide the criterion if
its date fell in the window; the compiler compares them with the dated answer). A
measurement value outside ``feasibility.plausibility.PLAUSIBLE_RANGES`` never reaches a
criterion (contract 5.2), whether or not the loader already set it aside. Event tables
(diagnoses, medications, procedures, lesions, therapies): for each leaf, the Kleene ANY
over the patient's rows, whether a candidate row exists, and the date/detail/value of the
latest qualifying row; a row whose date is missing is a candidate whose condition is
unknown wherever the date would decide it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

import polars as pl

from feasibility.engine.logic import NULL_BOOL, k_or
from feasibility.plausibility import LESION_DIAMETER_RANGE, PLAUSIBLE_RANGES
from feasibility.protocol import Window
from feasibility.schema import (
    EVENT_DATE,
    NON_SYSTEMIC_ROUTES,
    canonical_drug_expr,
    regimen_ingredients,
)

PID, IDX = "patient_id", "index_date"
#: Join key of the per-(patient, index) features: one column, so joins stay cheap. With a
#: fixed index it is patient_id; in event mode an integer id of the (patient, index) pair.
PAIR = "_pair"


@dataclass(frozen=True)
class Scope:
    """The rows of one table a screen reads: those whose key (test, item, code list, drug
    spelling or procedure category; ``keys`` None: any) is wanted and whose event date is
    missing or lies in ``[lo, hi]`` (None: unbounded). Every feature below filters at
    least as strictly, so reading only these rows changes no answer; the engine's cache
    keeps the scope it read and reads a table again only for a wider one."""

    keys: frozenset[Hashable] | None = None
    lo: dt.date | None = None
    hi: dt.date | None = None
    #: (key, earliest date) pairs narrowing ``lo`` per key (a test's own window); empty:
    #: ``lo`` for every key
    since: frozenset[tuple[str, dt.date | None]] = frozenset()

    def covers(self, other: Scope) -> bool:
        """True if every row ``other`` selects is selected here too."""
        keys = self.keys is None or (other.keys is not None and other.keys <= self.keys)
        lo = self.lo is None or (other.lo is not None and other.lo >= self.lo)
        hi = self.hi is None or (other.hi is not None and other.hi <= self.hi)
        return keys and lo and hi and self._since_covers(other)

    def _since_covers(self, other: Scope) -> bool:
        if not self.since:
            return True
        mine: dict[Hashable, dt.date | None] = dict(self.since)
        for key, first in other.since or {(k, other.lo) for k in other.keys or ()}:
            have = mine.get(key, self.lo)
            if have is not None and (first is None or first < have):
                return False
        return True

    def union(self, other: Scope) -> Scope:
        """The smallest scope covering both."""
        keys = None if self.keys is None or other.keys is None else self.keys | other.keys
        lo = None if self.lo is None or other.lo is None else min(self.lo, other.lo)
        hi = None if self.hi is None or other.hi is None else max(self.hi, other.hi)
        since: frozenset[tuple[str, dt.date | None]] = frozenset()
        if self.since and other.since:
            merged = dict(self.since)
            for key, first in other.since:
                have = merged.get(key, first)
                merged[key] = None if have is None or first is None else min(have, first)
            since = frozenset(merged.items())
        return Scope(keys, lo, hi, since)

    def where(self, table: str) -> pl.Expr | None:
        """The date bounds as a predicate over the table's file (its event date column is
        not normalised, so the file reader can apply it before anything is decoded)."""
        if self.lo is None and self.hi is None or table not in EVENT_DATE:
            return None
        date = pl.col(EVENT_DATE[table])
        inside = date.is_between(self.lo or dt.date.min, self.hi or dt.date.max)
        return date.is_null() | inside

    def keep(self, table: str) -> pl.Expr | None:
        """The keys (and their own earliest dates) as a predicate over the normalised rows
        (None: every row)."""
        if self.keys is None or table not in _KEEP:
            return None
        if self.since and table in _KEY:
            key, date = pl.col(_KEY[table]), pl.col(EVENT_DATE[table])
            parts = [
                key == k if first is None else (key == k) & (date.is_null() | (date >= first))
                for k, first in sorted(self.since, key=lambda kf: kf[0])
            ]
            return k_or(*parts).fill_null(False)
        return _KEEP[table](self.keys)


def _per_distinct_mask(column: str, match) -> pl.Expr:
    """``match`` (an expression over ``column``) decided once per distinct value of each
    batch (codes and drug names repeat over millions of rows) and mapped back."""

    def mask(values: pl.Series) -> pl.Series:
        distinct = values.unique().drop_nulls().to_frame(column)
        hits = distinct.filter(match.fill_null(False)).get_column(column)
        return values.is_in(hits.implode()).fill_null(False)

    return pl.col(column).map_batches(mask, return_dtype=pl.Boolean, is_elementwise=True)


def _keep_codes(codelists: frozenset) -> pl.Expr:
    code = pl.col("code")
    return _per_distinct_mask("code", k_or(*[code_match(code, cl) for cl in codelists]))


def _keep_drugs(spellings: frozenset) -> pl.Expr:
    canonical = canonical_drug_expr(pl.col("drug").cast(pl.String))
    return _per_distinct_mask("drug", canonical.is_in(sorted(spellings)))


#: Latest-record table -> its key column.
_KEY = {"measurements": "test", "assessments": "item"}

#: Table -> the predicate keeping the rows of a scope's keys (normalised columns).
_KEEP = {
    "measurements": lambda keys: pl.col("test").is_in(sorted(keys)),
    "assessments": lambda keys: pl.col("item").is_in(sorted(keys)),
    "diagnoses": _keep_codes,
    "medications": _keep_drugs,
    "procedures": lambda keys: pl.col("category").is_in(sorted(keys)),
}


def pair_key(fixed: dt.date | None) -> str:
    return PID if fixed is not None else PAIR


def in_window(date: pl.Expr, window: Window) -> pl.Expr:
    """index - days <= date <= index (null date -> null)."""
    upper = date <= pl.col(IDX)
    if window.days is None:
        return upper
    return upper & (date >= pl.col(IDX) - pl.duration(days=window.days))


def started_by(start: pl.Expr, end: pl.Expr, *, strictly: bool) -> pl.Expr:
    """The row started before the index (``strictly``) or on or before it; a row without a
    start date started on or before its end date (contract 5.1), so it did when its end
    is before (on or before) the index; otherwise unknown (null)."""
    if strictly:
        return (start < pl.col(IDX)) | (start.is_null() & (end < pl.col(IDX)))
    return (start <= pl.col(IDX)) | (start.is_null() & (end <= pl.col(IDX)))


def with_index(lf: pl.LazyFrame, idx: pl.LazyFrame, fixed: dt.date | None) -> pl.LazyFrame:
    if fixed is not None:
        return lf.with_columns(pl.lit(fixed, dtype=pl.Date).alias(IDX))
    return lf.join(idx, on=PID, how="inner")


def plausible(key: str, names: list[str] | dict) -> pl.Expr:
    """Measurement rows whose canonical value lies in its test's plausible range
    (inclusive; null, NaN and +-inf fail) -- contract 5.2. Tests without a range pass."""
    parts = []
    for n in names:
        rng = PLAUSIBLE_RANGES.get(n)
        if rng is None:
            parts.append(pl.col(key) == n)
        else:
            v = pl.col("value")
            parts.append((pl.col(key) == n) & v.is_not_nan() & v.is_between(rng[0], rng[1]))
    return k_or(*parts).fill_null(False)


def _coded(lf: pl.LazyFrame, idx: pl.LazyFrame, fixed: dt.date | None):
    """(coded, idx): the engine's cache may hold patient_id as a categorical."""
    coded = lf.collect_schema()[PID] == pl.Categorical
    if coded and fixed is None:
        idx = idx.with_columns(pl.col(PID).cast(pl.Categorical))
    return coded, idx


def _value_rows(
    table: str, lf: pl.LazyFrame, needs: dict[str, int | None]
) -> tuple[str, str, pl.LazyFrame]:
    """(key column, date column, rows: patient, key, value, date) of a measurements or
    assessments table. Contract 5.2: a measured value no lab can produce never decides,
    so only plausible measurement values are kept (the most recent plausible one decides)."""
    key = "test" if table == "measurements" else "item"
    date = "measured_on" if table == "measurements" else "assessed_on"
    rows = lf.select(PID, key, "value", date)
    if table == "measurements":
        rows = rows.filter(plausible(key, needs))
    return key, date, rows


def undated_features(
    needs: dict[str, int | None],
    table: str,
    lf: pl.LazyFrame,
    idx: pl.LazyFrame,
    fixed: dt.date | None,
) -> pl.LazyFrame:
    """Per (patient, index): the values of the rows of each test|item whose date is missing
    (``{m|a}:{name}:undated``, a list; absent when the patient has none). Contract 5.1: such
    a row would decide the criterion if its date fell in the window, so the compiler makes
    the leaf unknown where these values disagree with the dated answer."""
    key, date, rows = _value_rows(table, lf, needs)
    coded, idx = _coded(lf, idx, fixed)
    rows = rows.filter(pl.col(date).is_null() & pl.col(key).is_in(list(needs)))
    rows = with_index(rows.drop(date), idx, fixed)
    prefix = "m" if table == "measurements" else "a"
    aggs = [pl.col("value").filter(pl.col(key) == n).alias(f"{prefix}:{n}:undated") for n in needs]
    out = rows.group_by(pair_key(fixed)).agg(aggs)
    return out.with_columns(pl.col(PID).cast(pl.String)) if coded and fixed is not None else out


def latest_features(
    needs: dict[str, int | None],
    table: str,
    lf: pl.LazyFrame,
    idx: pl.LazyFrame,
    fixed: dt.date | None,
) -> pl.LazyFrame:
    key, date, rows = _value_rows(table, lf, needs)
    # the engine's cache may hold patient_id as a categorical (global codes): join the
    # index on the same type, and give the features back with a string patient_id
    coded, idx = _coded(lf, idx, fixed)
    if fixed is not None:
        # one literal predicate per test: a single cheap pass over the largest table
        keep = [
            (pl.col(key) == n)
            & (pl.col(date) <= fixed)
            & (pl.lit(True) if w is None else pl.col(date) >= fixed - dt.timedelta(days=w))
            for n, w in needs.items()
        ]
        rows = rows.filter(k_or(*keep))
    else:
        # event mode: keep only rows that can fall in some patient's window before the join
        lo, hi = (
            idx.select(pl.col(IDX).min().alias("lo"), pl.col(IDX).max().alias("hi"))
            .collect()
            .row(0)
        )
        rows = rows.filter(pl.col(key).is_in(list(needs)))
        if hi is not None:
            rows = rows.filter(pl.col(date) <= hi)
            days = [w for w in needs.values() if w is not None]
            if len(days) == len(needs):
                rows = rows.filter(pl.col(date) >= lo - dt.timedelta(days=max(days)))
    rows = with_index(rows, idx, fixed).filter(pl.col(date) <= pl.col(IDX))
    bounded = {n: d for n, d in needs.items() if d is not None}
    if bounded:
        first, *rest = bounded.items()
        expr: Any = pl.when(pl.col(key) == first[0]).then(first[1])
        for n, d in rest:
            expr = expr.when(pl.col(key) == n).then(d)
        lower = expr.otherwise(pl.lit(None, dtype=pl.Int64))
        rows = rows.filter(
            lower.is_null() | (pl.col(date) >= pl.col(IDX) - pl.duration(days=lower))
        )
    # the latest day per (patient, index, test) and the largest and smallest value recorded
    # on it: records of the same day have no order (no time of day), so values on it that
    # disagree leave the answer unknown (the compiler compares both ends; the lead's ruling
    # 6). Two simple aggregations (polars' fast path: per day, then the last day of a few
    # rows) instead of one sort per group.
    pk = pair_key(fixed)
    per_day = rows.group_by([pk, key, date]).agg(
        pl.col("value").max().alias("value"), pl.col("value").min().alias("_vmin")
    )
    latest = per_day.group_by([pk, key]).agg(
        pl.col("value").sort_by(date).last(),
        pl.col("_vmin").sort_by(date).last(),
        pl.col(date).max(),
    )
    prefix = "m" if table == "measurements" else "a"
    aggs = []
    for n in needs:
        # one row per (patient, index, test) here, so max of the masked column is that row
        hit = pl.col(key) == n
        aggs.append(pl.when(hit).then(pl.col("value")).max().alias(f"{prefix}:{n}:value"))
        aggs.append(pl.when(hit).then(pl.col("_vmin")).max().alias(f"{prefix}:{n}:vmin"))
        aggs.append(pl.when(hit).then(pl.col(date)).max().alias(f"{prefix}:{n}:date"))
    out = latest.group_by(pair_key(fixed)).agg(aggs)
    return out.with_columns(pl.col(PID).cast(pl.String)) if coded and fixed is not None else out


def event_features(
    leaves_: list[tuple[str, Any]],
    table: str,
    lf: pl.LazyFrame,
    idx: pl.LazyFrame,
    fixed: dt.date | None,
) -> pl.LazyFrame:
    """Per (patient, index), for each leaf ``(k, rule)`` over the event ``table``: truth,
    found, date, detail (and value) -- see :func:`exist_features`. ``EVENT_TABLES[table]``
    prepares the rows once (joined to the index, sorted by date and by what the detail
    shows) and gives each leaf's candidate and condition."""
    coded, idx = _coded(lf, idx, fixed)
    rows, specs, detail = EVENT_TABLES[table](leaves_, lf, idx, fixed)
    out = exist_features(rows, specs, pair_key(fixed), detail)
    return out.with_columns(pl.col(PID).cast(pl.String)) if coded and fixed is not None else out


def _diagnoses(
    leaves_: list[tuple[str, Any]],
    lf: pl.LazyFrame,
    idx: pl.LazyFrame,
    fixed: dt.date | None,
) -> tuple[pl.LazyFrame, list[tuple], pl.Expr]:
    specs: list[tuple] = []
    code = pl.col("code")
    # match each distinct code once (a registry has few thousand), then join back
    codes = lf.select(code.unique()).collect()
    match = (
        codes.with_columns(
            [code_match(code, r.codelist).fill_null(False).alias(f"{k}:m") for k, r in leaves_]
        )
        .filter(k_or(*[pl.col(f"{k}:m") for k, _ in leaves_]))
        .sort("code")
        .with_row_index("_code_rank")  # sorting by the rank sorts by the code, faster
    )
    rows = lf.select(PID, "code", "diagnosed_on").join(match.lazy(), on="code", how="inner")
    rows = with_index(rows, idx, fixed)
    rows = rows.filter(pl.col("diagnosed_on").is_null() | (pl.col("diagnosed_on") <= pl.col(IDX)))
    rows = rows.sort("diagnosed_on", "_code_rank", nulls_last=False)
    for k, r in leaves_:
        cand = pl.col(f"{k}:m")
        cond = cand & in_window(pl.col("diagnosed_on"), r.window)
        specs.append((k, cand, cond, pl.col("diagnosed_on"), None))
    detail = code
    return rows, specs, detail


def _medications(
    leaves_: list[tuple[str, Any]],
    lf: pl.LazyFrame,
    idx: pl.LazyFrame,
    fixed: dt.date | None,
) -> tuple[pl.LazyFrame, list[tuple], pl.Expr]:
    specs: list[tuple] = []
    names: set[str] = set()
    for _, r in leaves_:
        names |= set(r.druglist.spellings)
    schema = lf.collect_schema()
    systemic = (
        pl.col("systemic")
        if "systemic" in schema
        else pl.col("route").is_null()
        | ~pl.col("route").str.strip_chars().str.to_lowercase().is_in(list(NON_SYSTEMIC_ROUTES))
    )
    # the loader already applied canonical_drug; applying the same normaliser again is
    # idempotent and makes the engine right on a registry normalised without it. It runs
    # on the distinct names (a registry has a few thousand), joined back.
    distinct = lf.select(pl.col("drug").cast(pl.String).unique()).collect()
    spelled = distinct.with_columns(canonical_drug_expr(pl.col("drug")).alias("_drug")).filter(
        pl.col("_drug").is_in(list(names))
    )
    rows = lf.select(
        PID,
        pl.col("drug").cast(pl.String),
        "route",
        "start_date",
        "end_date",
        systemic.alias("_systemic"),
    )
    rows = rows.filter(pl.col("drug").is_in(spelled["drug"].implode())).join(
        spelled.lazy(), on="drug", how="inner"
    )
    rows = with_index(rows, idx, fixed)
    rows = rows.filter(pl.col("start_date").is_null() | (pl.col("start_date") <= pl.col(IDX)))
    rows = rows.sort("start_date", "_drug", "route", nulls_last=False)
    for k, r in leaves_:
        cand = pl.col("_drug").is_in(list(r.druglist.spellings))
        if r.systemic_only:
            cand = cand & pl.col("_systemic")
        # contract 5.1: an exposure without a start date that ended on or before the index
        # started on or before it, wherever it started (it overlapped if its end is in the
        # overlap window)
        overlap = started_by(
            pl.col("start_date"), pl.col("end_date"), strictly=r.started_before_index
        )
        if r.overlap_days is not None:
            overlap = overlap & (
                pl.col("end_date").is_null()
                | (pl.col("end_date") >= pl.col(IDX) - pl.duration(days=r.overlap_days))
            )
        specs.append((k, cand, cand & overlap, pl.col("start_date"), None))
    detail = pl.col("_drug") + pl.lit(" (route ") + pl.col("route").fill_null("null") + pl.lit(")")
    return rows, specs, detail


def _procedures(
    leaves_: list[tuple[str, Any]],
    lf: pl.LazyFrame,
    idx: pl.LazyFrame,
    fixed: dt.date | None,
) -> tuple[pl.LazyFrame, list[tuple], pl.Expr]:
    specs: list[tuple] = []
    cats = list({r.category for _, r in leaves_})
    rows = lf.select(PID, "category", "performed_on").filter(pl.col("category").is_in(cats))
    rows = with_index(rows, idx, fixed)
    rows = rows.filter(pl.col("performed_on").is_null() | (pl.col("performed_on") <= pl.col(IDX)))
    rows = rows.sort("performed_on", "category", nulls_last=False)
    for k, r in leaves_:
        cand = pl.col("category") == r.category
        cond = cand & in_window(pl.col("performed_on"), r.window)
        specs.append((k, cand, cond, pl.col("performed_on"), None))
    detail = pl.col("category").cast(pl.String)
    return rows, specs, detail


def _lesions(
    leaves_: list[tuple[str, Any]],
    lf: pl.LazyFrame,
    idx: pl.LazyFrame,
    fixed: dt.date | None,
) -> tuple[pl.LazyFrame, list[tuple], pl.Expr]:
    specs: list[tuple] = []
    lo, hi = LESION_DIAMETER_RANGE
    diameter = pl.col("longest_diameter_cm")
    rows = lf.select(
        PID,
        "imaged_on",
        "site",
        # contract 5.2: a diameter no imaging can produce (> 50 cm, negative, NaN) is set
        # aside: the lesion stays (it was imaged) but its size is missing
        pl.when(diameter.is_not_nan() & diameter.is_between(lo, hi))
        .then(diameter)
        .alias("longest_diameter_cm"),
        "bone_contiguous",
    )
    rows = with_index(rows, idx, fixed)
    rows = rows.filter(pl.col("imaged_on").is_null() | (pl.col("imaged_on") <= pl.col(IDX)))
    rows = rows.sort(
        "imaged_on", "longest_diameter_cm", "site", "bone_contiguous", nulls_last=False
    )
    for k, r in leaves_:
        # contract 5.1: every lesion on or before the index (or undated) is a candidate;
        # an undated one is unknown where its size and site would qualify it
        inw = in_window(pl.col("imaged_on"), r.window)
        cand = pl.lit(True)
        cond = inw & (pl.col("longest_diameter_cm") >= r.min_diameter_cm)
        if r.bone_contiguous is not None:
            cond = cond & (pl.col("bone_contiguous") == r.bone_contiguous)
        # the value shown: the largest lesion in the window (or undated)
        shown = pl.when(inw.fill_null(True)).then(pl.col("longest_diameter_cm"))
        specs.append((k, cand, cond, pl.col("imaged_on"), shown))
    detail = (
        pl.col("site").fill_null("?")
        + pl.lit(", bone_contiguous ")
        + pl.col("bone_contiguous").cast(pl.String).fill_null("null")
    )
    return rows, specs, detail


def _therapies(
    leaves_: list[tuple[str, Any]],
    lf: pl.LazyFrame,
    idx: pl.LazyFrame,
    fixed: dt.date | None,
) -> tuple[pl.LazyFrame, list[tuple], pl.Expr]:
    specs: list[tuple] = []
    rows = lf.select(PID, "line_number", "regimen", "start_date", "end_date", "investigational")
    lists = {r.druglist.name: r.druglist for _, r in leaves_ if r.druglist is not None}
    if lists:
        # which regimens contain a drug of each list: per distinct regimen (few), joined back
        regimens = lf.select(pl.col("regimen").unique()).collect()["regimen"].to_list()
        contains = pl.DataFrame(
            {
                "regimen": regimens,
                **{
                    f"_rx:{n}": [bool(regimen_ingredients(x) & set(dl.drugs)) for x in regimens]
                    for n, dl in lists.items()
                },
            },
            schema={"regimen": pl.String, **{f"_rx:{n}": pl.Boolean for n in lists}},
        )
        rows = rows.with_columns(pl.col("regimen").cast(pl.String)).join(
            contains.lazy(), on="regimen", how="left", nulls_equal=True
        )
    rows = with_index(rows, idx, fixed)
    rows = rows.filter(pl.col("start_date").is_null() | (pl.col("start_date") <= pl.col(IDX)))
    rows = rows.sort("start_date", "line_number", "regimen", nulls_last=False)
    for k, r in leaves_:
        cand = pl.lit(True)
        cond = pl.lit(True)
        if r.min_line is not None:
            # contract 5.1: a null line_number could be >= min_line: the line is a candidate
            # whose condition is unknown (unless another part of it fails)
            line_ok = pl.col("line_number") >= r.min_line
            cand = cand & line_ok.fill_null(True)
            cond = cond & line_ok
        if r.druglist is not None:
            cand = cand & pl.col(f"_rx:{r.druglist.name}").fill_null(False)
        cand = cand.fill_null(False)
        cond = cand & cond
        if r.started_before_index:
            cond = cond & started_by(pl.col("start_date"), pl.col("end_date"), strictly=True)
        if r.ongoing:
            cond = (
                cond
                & started_by(pl.col("start_date"), pl.col("end_date"), strictly=False)
                & (pl.col("end_date").is_null() | (pl.col("end_date") >= pl.col(IDX)))
            )
        if r.ended_within_days is not None:
            cond = cond & (
                pl.col("end_date").is_null()
                | (pl.col("end_date") >= pl.col(IDX) - pl.duration(days=r.ended_within_days))
            )
        if r.investigational:
            cond = cond & pl.col("investigational")
        specs.append((k, cand, cond, pl.col("start_date"), None))
    detail = (
        pl.lit("line ")
        + pl.col("line_number").cast(pl.String).fill_null("?")
        + pl.lit(" ")
        + pl.col("regimen").fill_null("?")
    )
    return rows, specs, detail


#: Event table -> its rows, each leaf's (key, candidate, condition, date, value) and the
#: detail shown; the leaves of a table are all of one rule type (see compiler.LEAVES).
EVENT_TABLES: dict[
    str,
    Callable[
        [list[tuple[str, Any]], pl.LazyFrame, pl.LazyFrame, dt.date | None],
        tuple[pl.LazyFrame, list[tuple], pl.Expr],
    ],
] = {
    "diagnoses": _diagnoses,
    "medications": _medications,
    "procedures": _procedures,
    "lesions": _lesions,
    "therapies": _therapies,
}


def exist_features(
    rows: pl.LazyFrame, specs: list[tuple], key: str, detail: pl.Expr
) -> pl.LazyFrame:
    """Per (patient, index): for each existence leaf ``(k, cand, cond, date, value)``
    the Kleene ANY of ``cond`` over the rows (``k:truth``), whether any candidate row
    exists (``k:found``) and the date, detail and value of the latest qualifying row.

    Rows arrive sorted by date, then by every column the detail shows, so the row
    reported among same-day ties does not depend on the order (or repeats) of the
    registry's rows. Every per-row quantity is materialised as a column first
    so the group-by uses only simple aggregations (max), which polars runs on its fast
    path; the latest qualifying row is the one with the largest row number, whose detail
    is gathered afterwards.
    """
    cols: list[pl.Expr] = []
    for k, cand, cond, date, value in specs:
        hit = cond.fill_null(False)
        cols += [
            hit.alias(f"{k}:t"),
            (cond.is_null() & cand.fill_null(False)).alias(f"{k}:n"),
            cand.fill_null(False).alias(f"{k}:found"),
            pl.when(hit).then(date).alias(f"{k}:date"),
            pl.when(hit).then(pl.col("_r")).alias(f"{k}:ri"),
        ]
        if value is not None:
            # the value shown is the largest among candidate rows (e.g. the biggest lesion in
            # the window), so a failing patient still shows what was measured
            cols.append(value.alias(f"{k}:value"))
    df = rows.with_row_index("_r").with_columns(cols).collect(engine="in-memory")
    # the detail is made only for the rows reported (a gathered few), not for every row
    shown = df.select(detail.meta.root_names())
    aggs: list[pl.Expr] = []
    for k, *_rest in specs:
        names = [f"{k}:t", f"{k}:n", f"{k}:found", f"{k}:date", f"{k}:ri"]
        if _rest[-1] is not None:
            names.append(f"{k}:value")
        aggs += [pl.col(n).max() for n in names]
    feat = df.lazy().group_by(key).agg(aggs).collect(engine="in-memory")
    out = []
    for k, *_rest in specs:
        out += [
            pl.when(pl.col(f"{k}:t"))
            .then(pl.lit(True))
            .when(pl.col(f"{k}:n"))
            .then(NULL_BOOL)
            .otherwise(pl.lit(False))
            .alias(f"{k}:truth"),
            _detail(shown, feat[f"{k}:ri"], detail).alias(f"{k}:detail"),
        ]
    drop = [c for k, *_r in specs for c in (f"{k}:t", f"{k}:n", f"{k}:ri")]
    return feat.with_columns(out).drop(drop).lazy()


def _detail(rows: pl.DataFrame, index: pl.Series, detail: pl.Expr) -> pl.Series:
    """``detail`` of the rows at ``index`` (null index: null)."""
    picked = rows.select(pl.all().gather(index))
    hit = index.is_not_null()
    return picked.select(pl.when(pl.lit(hit)).then(detail.cast(pl.String))).to_series()


def code_match(code: pl.Expr, codelist) -> pl.Expr:
    """Prefix match on normalised codes (no dot, upper case), with ranges and exclusions."""
    by_len: dict[int, list[str]] = {}
    for p in codelist.prefixes:
        by_len.setdefault(len(p), []).append(p)
    parts = [code.str.slice(0, n).is_in(ps) for n, ps in sorted(by_len.items())]
    parts += [code.str.slice(0, 3).is_between(pl.lit(lo), pl.lit(hi)) for lo, hi in codelist.ranges]
    match = k_or(*parts) if parts else pl.lit(False)
    if codelist.exclude:
        ex_len: dict[int, list[str]] = {}
        for p in codelist.exclude:
            ex_len.setdefault(len(p), []).append(p)
        excluded = k_or(*[code.str.slice(0, n).is_in(ps) for n, ps in ex_len.items()])
        match = match & ~excluded
    return match
