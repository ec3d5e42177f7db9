"""Translate a protocol's rules into Spark: per-table features, then one column per criterion.

The same plan as the polars compiler (:mod:`feasibility.engine.compiler`), in the PySpark
DataFrame API:

1. every rule leaf is registered once (:data:`_REGISTER`, one function per leaf class):
   which table it reads and, for the most recent measurement or assessment, which test or
   item and how far back;
2. each table the protocol reads is reduced, in one ``groupBy`` on the pair key (the
   patient in fixed-date mode, the patient and index date in event mode, so the shuffle
   is partitioned by patient), to one row per (patient, index) holding what every leaf
   reading that table needs (:func:`latest_features`, :func:`event_features`);
3. the features are left-joined onto the (patient, index) pairs; each leaf becomes its
   evidence columns ``__k`` (truth), ``__k_found``, ``__k_value``, ``__k_date``,
   ``__k_detail`` (:data:`_EVIDENCE`, one function per leaf class); each criterion becomes
   a nullable Boolean column (true = pass) over them (:data:`_RULES`, one function per
   combination node class).

Spark's ``AND``, ``OR`` and ``NOT`` are SQL's three-valued logic, which is Kleene's:
unknown is null. Contract 5.1 (sex U evaluated as F and as M, undated rows unknown where
they would decide, ``if_missing`` evaluated with undated rows left out and taken in) and
5.2 (implausible values never decide) follow the compiler line by line; the docstrings
there explain each rule.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import reduce
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from feasibility.engine.seam import LeafInfo
from feasibility.errors import FeasibilityError
from feasibility.plausibility import LESION_DIAMETER_RANGE
from feasibility.protocol import (
    Age,
    Alive,
    And,
    AnyPresent,
    CockcroftGault,
    Criterion,
    Diagnosis,
    Latest,
    Lesion,
    Medication,
    Not,
    Or,
    Procedure,
    Protocol,
    Query,
    Records,
    Ref,
    Rule,
    Sex,
    Therapy,
    Undecidable,
    When,
    Window,
    columns_needed,
    leaves,
)
from feasibility.protocol.compare import compare
from feasibility.protocol.formulas import CG_SEX_FACTOR, age_in_years, creatinine_clearance
from feasibility.schema import regimen_ingredients
from feasibility.spark.read import PID, small_frame

IDX = "index_date"
SEXES = ("F", "M")
#: More tests|items with undated rows in one criterion than this: superposed leaf by leaf
MAX_WORLD_GROUPS = 4
#: Per group: undated rows left out, or its smallest / largest undated value the latest
WORLD_CHOICES = ("out", "lo", "hi")
EVENT_TABLES = ("diagnoses", "medications", "procedures", "lesions", "therapies")


def null_bool() -> Column:
    """Unknown: a null Boolean (a function: Spark columns need a running session)."""
    return F.lit(None).cast("boolean")


# ---------------------------------------------------------------------------- logic


def k_and(*cols: Column) -> Column:
    return reduce(lambda a, b: a & b, cols) if cols else F.lit(True)


def k_or(*cols: Column) -> Column:
    return reduce(lambda a, b: a | b, cols) if cols else F.lit(False)


def k_when(condition: Column, then: Column) -> Column:
    """Applicability: condition false -> true, unknown -> unknown, true -> ``then``."""
    return F.when(condition.isNull(), null_bool()).when(condition, then).otherwise(F.lit(True))


def agree(*statuses: Column) -> Column:
    """The common value when every status is known and equal, else null."""
    first = statuses[0]
    if len(statuses) == 1:
        return first
    same = k_and(*[first == other for other in statuses[1:]])
    return F.when(F.coalesce(same, F.lit(False)), first).otherwise(null_bool())


def cmp(col: Column, op: str, value: float) -> Column:
    """``col op value``: the rule model's one operator table (:mod:`feasibility.protocol.compare`)."""
    return compare(col, op, value)


def in_window(date: Column, window: Window) -> Column:
    """index - days <= date <= index (null date -> null)."""
    upper = date <= F.col(IDX)
    if window.days is None:
        return upper
    return upper & (date >= F.date_sub(F.col(IDX), window.days))


def age_col() -> Column:
    """Whole years from birth_date to index_date; null when born after the index."""
    b, i = F.col("birth_date"), F.col(IDX)
    years = age_in_years(
        (F.year(b), F.month(b), F.dayofmonth(b)),
        (F.year(i), F.month(i), F.dayofmonth(i)),
        lambda c: c.cast("int"),
    )
    return F.when(b <= i, years)


def sex_known() -> Column:
    return F.coalesce(F.col("sex").isin(list(SEXES)), F.lit(False))


# ---------------------------------------------------------------------------- features


def _name(prefix: str, name: str, what: str) -> str:
    return f"{prefix}__{name}__{what}"


@dataclass
class Features:
    """One table's part of the feature aggregation: its rows (the pair key plus one input
    column per aggregate), the aggregates over a pair's rows, and the columns the
    aggregates become."""

    rows: DataFrame
    aggs: list[Column]
    post: list[Column]


def latest_features(
    table: str,
    df: DataFrame,
    needs: dict[str, int | None],
    idx: DataFrame | dt.date,
    key: list[str],
) -> Features:
    """Per pair: the latest value and date of each test|item in its widest window (same
    day: the highest value) and the values of its undated rows (a list)."""
    name_col = "test" if table == "measurements" else "item"
    date_col = "measured_on" if table == "measurements" else "assessed_on"
    name, date = F.col(name_col), F.col(date_col)
    rows = df.select(PID, name.alias("_n"), F.col("value").alias("_v"), date.alias("_d"))
    # (the normaliser already left out implausible measurements: no second check here)
    rows = rows.filter(F.col("_n").isin(list(needs)))
    rows = _with_index(rows, idx)
    lower: Column = F.lit(None).cast("int")
    for n, days in needs.items():
        if days is not None:
            lower = F.when(F.col("_n") == n, F.lit(days)).otherwise(lower)
    dated = (F.col("_d") <= F.col(IDX)) & (
        lower.isNull() | (F.col("_d") >= F.date_sub(F.col(IDX), lower))
    )
    rows = rows.filter(F.col("_d").isNull() | dated)
    prefix = "m" if table == "measurements" else "a"
    inputs, aggs, post = [], [], []
    for n in needs:
        hit = F.col("_n") == n
        latest, undated = _name(prefix, n, "latest"), _name(prefix, n, "undated")
        # ruling 6: the smallest value of the latest day too (the minimum of (days before
        # 1970, value) is the latest day's smallest value): values of one day that disagree
        # leave the answer unknown
        lowest = _name(prefix, n, "lowest")
        neg_day = F.datediff(F.lit(dt.date(1970, 1, 1)), F.col("_d")).alias("_nd")
        inputs += [
            F.when(hit & F.col("_d").isNotNull(), F.struct("_d", "_v")).alias(latest),
            F.when(hit & F.col("_d").isNotNull(), F.struct(neg_day, "_v")).alias(lowest),
            F.when(hit & F.col("_d").isNull(), F.col("_v")).alias(undated),
        ]
        aggs += [
            F.max(latest).alias(latest),
            F.min(lowest).alias(lowest),
            F.collect_list(undated).alias(undated),
        ]
        post += [
            F.col(latest)["_v"].alias(_name(prefix, n, "value")),
            F.col(lowest)["_v"].alias(_name(prefix, n, "vmin")),
            F.col(latest)["_d"].alias(_name(prefix, n, "date")),
            F.col(undated),
        ]
    return Features(rows.select(*key, *inputs), aggs, post)


def _with_index(rows: DataFrame, idx: DataFrame | dt.date) -> DataFrame:
    """Rows with their patients' index dates: a literal in fixed mode, a join in event mode."""
    if isinstance(idx, dt.date):
        return rows.withColumn(IDX, F.lit(idx))
    return rows.join(idx, on=PID, how="inner")


@dataclass
class EventSpec:
    """One existence leaf over an event table: a row is a candidate (``cand``), and the
    leaf's condition holds on it (``cond``, null where a missing date or field would
    decide); ``date`` of the row, optional ``value`` shown (the maximum is kept)."""

    key: str
    cand: Column
    cond: Column
    date: Column
    value: Column | None = None


@dataclass
class EventRows:
    rows: DataFrame
    specs: list[EventSpec]
    detail: Column
    order: list[str]  # the columns ordering same-day ties (the row shown is the last)


def _diagnosis_rows(df: DataFrame, leaves_: list[tuple[str, Any]], ctx: _Context) -> EventRows:
    code = F.col("code")
    rows = df.select(PID, "code", F.col("diagnosed_on").alias("_d"))
    matches = [code_match(code, r.codelist).alias(f"{k}__m") for k, r in leaves_]
    rows = rows.select("*", *matches).filter(k_or(*[F.col(f"{k}__m") for k, _ in leaves_]))
    specs = [
        EventSpec(
            k, F.col(f"{k}__m"), F.col(f"{k}__m") & in_window(F.col("_d"), r.window), F.col("_d")
        )
        for k, r in leaves_
    ]
    return EventRows(rows, specs, F.col("code"), ["code"])


def _medication_rows(df: DataFrame, leaves_: list[tuple[str, Any]], ctx: _Context) -> EventRows:
    names: set[str] = set()
    for _, r in leaves_:
        names |= set(r.druglist.spellings)
    rows = df.select(
        PID,
        F.col("drug").alias("_drug"),
        "route",
        F.col("start_date").alias("_d"),
        "end_date",
        "systemic",
    ).filter(F.col("_drug").isin(sorted(names)))
    specs = []
    for k, r in leaves_:
        cand = F.col("_drug").isin(sorted(r.druglist.spellings))
        if r.systemic_only:
            cand = cand & F.col("systemic")
        # ruling 3: no start but ended by the index -> started by it (_started_by)
        started = _started_by(F.col("_d"), F.col("end_date"), strictly=r.started_before_index)
        if r.overlap_days is not None:
            started = started & (
                F.col("end_date").isNull()
                | (F.col("end_date") >= F.date_sub(F.col(IDX), r.overlap_days))
            )
        specs.append(EventSpec(k, cand, cand & started, F.col("_d")))
    detail = F.concat(
        F.col("_drug"), F.lit(" (route "), F.coalesce(F.col("route"), F.lit("null")), F.lit(")")
    )
    return EventRows(rows, specs, detail, ["_drug", "route"])


def _procedure_rows(df: DataFrame, leaves_: list[tuple[str, Any]], ctx: _Context) -> EventRows:
    cats = sorted({r.category for _, r in leaves_})
    rows = df.select(PID, "category", F.col("performed_on").alias("_d")).filter(
        F.col("category").isin(cats)
    )
    specs = []
    for k, r in leaves_:
        cand = F.col("category") == r.category
        specs.append(EventSpec(k, cand, cand & in_window(F.col("_d"), r.window), F.col("_d")))
    return EventRows(rows, specs, F.col("category"), ["category"])


def _lesion_rows(df: DataFrame, leaves_: list[tuple[str, Any]], ctx: _Context) -> EventRows:
    low, high = LESION_DIAMETER_RANGE
    d = F.col("longest_diameter_cm")
    rows = df.select(
        PID,
        F.col("imaged_on").alias("_d"),
        "site",
        F.when(~F.isnan(d) & d.between(low, high), d).alias("longest_diameter_cm"),
        "bone_contiguous",
    )
    specs = []
    for k, r in leaves_:
        inw = in_window(F.col("_d"), r.window)
        cond = inw & (F.col("longest_diameter_cm") >= r.min_diameter_cm)
        if r.bone_contiguous is not None:
            cond = cond & (F.col("bone_contiguous") == F.lit(r.bone_contiguous))
        shown = F.when(F.coalesce(inw, F.lit(True)), F.col("longest_diameter_cm"))
        specs.append(EventSpec(k, F.lit(True), cond, F.col("_d"), shown))
    detail = F.concat(
        F.coalesce(F.col("site"), F.lit("?")),
        F.lit(", bone_contiguous "),
        F.coalesce(F.lower(F.col("bone_contiguous").cast("string")), F.lit("null")),
    )
    return EventRows(rows, specs, detail, ["longest_diameter_cm", "site", "bone_contiguous"])


def _therapy_rows(df: DataFrame, leaves_: list[tuple[str, Any]], ctx: _Context) -> EventRows:
    rows = df.select(
        PID,
        "line_number",
        "regimen",
        F.col("start_date").alias("_d"),
        "end_date",
        "investigational",
    )
    lists = {r.druglist.name: r.druglist for _, r in leaves_ if r.druglist is not None}
    if lists:
        # which regimens contain a drug of each list: per distinct regimen (few), joined back
        regimens = [r[0] for r in rows.select("regimen").distinct().collect() if r[0] is not None]
        data = [
            (x, *[bool(regimen_ingredients(x) & set(dl.drugs)) for dl in lists.values()])
            for x in regimens
        ]
        schema = "regimen string, " + ", ".join(f"`rx__{n}` boolean" for n in lists)
        table = small_frame(ctx.spark, data, schema)
        rows = rows.join(F.broadcast(table), on="regimen", how="left")
    specs = []
    for k, r in leaves_:
        cand, cond = F.lit(True), F.lit(True)
        if r.min_line is not None:
            # ruling 7: a null line_number could be >= min_line: a candidate, condition unknown
            line_ok = F.col("line_number") >= r.min_line
            cand, cond = cand & F.coalesce(line_ok, F.lit(True)), cond & line_ok
        if r.druglist is not None:
            cand = cand & F.coalesce(F.col(f"`rx__{r.druglist.name}`"), F.lit(False))
        cand = F.coalesce(cand, F.lit(False))
        cond = cand & cond
        if r.started_before_index:
            cond = cond & _started_by(F.col("_d"), F.col("end_date"), strictly=True)
        if r.ongoing:
            cond = (
                cond
                & _started_by(F.col("_d"), F.col("end_date"), strictly=False)
                & (F.col("end_date").isNull() | (F.col("end_date") >= F.col(IDX)))
            )
        if r.ended_within_days is not None:
            cond = cond & (
                F.col("end_date").isNull()
                | (F.col("end_date") >= F.date_sub(F.col(IDX), r.ended_within_days))
            )
        if r.investigational:
            cond = cond & F.col("investigational")
        specs.append(EventSpec(k, cand, cond, F.col("_d")))
    detail = F.concat(
        F.lit("line "),
        F.coalesce(F.col("line_number").cast("string"), F.lit("?")),
        F.lit(" "),
        F.coalesce(F.col("regimen"), F.lit("?")),
    )
    return EventRows(rows, specs, detail, ["line_number", "regimen"])


def _started_by(start: Column, end: Column, *, strictly: bool) -> Column:
    """Started before (``strictly``) or on the index; a row without a start date started
    by its end date, so by the index when it ended before (on) it (contract 5.1; rulings
    3 and 7 of the engine disagreements); else null."""
    if strictly:
        return (start < F.col(IDX)) | (start.isNull() & (end < F.col(IDX)))
    return (start <= F.col(IDX)) | (start.isNull() & (end <= F.col(IDX)))


#: How each event table's rows and per-leaf conditions are built.
_EVENT_ROWS: dict[str, Callable[[DataFrame, list[tuple[str, Any]], _Context], EventRows]] = {
    "diagnoses": _diagnosis_rows,
    "medications": _medication_rows,
    "procedures": _procedure_rows,
    "lesions": _lesion_rows,
    "therapies": _therapy_rows,
}


def event_features(
    table: str,
    df: DataFrame,
    leaves_: list[tuple[str, Any]],
    idx: DataFrame | dt.date,
    key: list[str],
    ctx: _Context,
) -> Features:
    """Per pair and leaf: Kleene ANY of the condition over the patient's rows on or before
    the index (or undated), whether a candidate exists, and (evidence) the date, detail and
    value of the latest qualifying row."""
    ev = _EVENT_ROWS[table](df, leaves_, ctx)
    rows = _with_index(ev.rows, idx)
    rows = rows.filter(F.col("_d").isNull() | (F.col("_d") <= F.col(IDX)))
    inputs: list[Column] = []
    aggs: list[Column] = []
    post: list[Column] = []
    for s in ev.specs:
        k = s.key
        hit = F.coalesce(s.cond, F.lit(False))
        unknown = s.cond.isNull() & F.coalesce(s.cand, F.lit(False))
        inputs += [
            hit.alias(f"{k}__t"),
            unknown.alias(f"{k}__n"),
            F.coalesce(s.cand, F.lit(False)).alias(f"{k}__found"),
        ]
        aggs += [F.max(f"{k}__{x}").alias(f"{k}__{x}") for x in ("t", "n", "found")]
        post += [
            F.when(F.col(f"{k}__t"), F.lit(True))
            .when(F.col(f"{k}__n"), null_bool())
            .otherwise(F.lit(False))
            .alias(f"{k}__truth"),
            F.col(f"{k}__found"),
        ]
        if ctx.evidence:
            latest = F.struct(
                s.date.alias("d"), *[F.col(c) for c in ev.order], ev.detail.alias("detail")
            )
            inputs.append(F.when(hit, latest).alias(f"{k}__latest"))
            aggs.append(F.max(f"{k}__latest").alias(f"{k}__latest"))
            post += [
                F.col(f"{k}__latest")["d"].alias(f"{k}__date"),
                F.col(f"{k}__latest")["detail"].alias(f"{k}__detail"),
            ]
            if s.value is not None:
                inputs.append(s.value.alias(f"{k}__value"))
                aggs.append(F.max(f"{k}__value").alias(f"{k}__value"))
                post.append(F.col(f"{k}__value"))
    return Features(rows.select(*key, *inputs), aggs, post)


def combine(parts: list[Features], key: list[str]) -> list[DataFrame]:
    """Each table's features aggregated on its own, one narrow frame per table (the pair
    key and that table's feature columns): each table's rows are shuffled once,
    partitioned by patient, and the frames come out hash-partitioned on the key, so
    joining them onto the pairs needs no further shuffle of table rows. (One aggregation
    over all tables' rows stacked side by side carried every table's null columns
    through the shuffle and the aggregation buffers.)"""
    return [
        p.rows.groupBy(*key).agg(*p.aggs).select(*[F.col(k) for k in key], *p.post) for p in parts
    ]


def code_match(code: Column, codelist) -> Column:
    """Prefix match on normalised codes (no dot, upper case), with ranges and exclusions."""
    by_len: dict[int, list[str]] = {}
    for p in codelist.prefixes:
        by_len.setdefault(len(p), []).append(p)
    parts = [F.substring(code, 1, n).isin(ps) for n, ps in sorted(by_len.items())]
    parts += [F.substring(code, 1, 3).between(lo, hi) for lo, hi in codelist.ranges]
    match = k_or(*parts) if parts else F.lit(False)
    if codelist.exclude:
        ex_len: dict[int, list[str]] = {}
        for p in codelist.exclude:
            ex_len.setdefault(len(p), []).append(p)
        excluded = k_or(*[F.substring(code, 1, n).isin(ps) for n, ps in ex_len.items()])
        match = match & ~excluded
    return F.coalesce(match, F.lit(False))


def query_features(
    k: str, q: Query, df: DataFrame, idx: DataFrame | dt.date, key: list[str]
) -> Features:
    """A ``records`` leaf's query (rows, filters, window, pick, comparison) as this
    table's part of the feature aggregation: ``{k}__truth``, ``{k}__found``,
    ``{k}__value``, ``{k}__date`` per pair. The reading of the polars engine's
    ``feasibility.engine.queries`` (sure and maybe rows, contract 5.1)."""
    from feasibility.protocol import (
        GRADED_ITEMS,
        CategoryFilter,
        CodeFilter,
        DrugFilter,
        EndsAfter,
        FlagFilter,
        ItemFilter,
        MinValue,
        StartedBy,
        TestFilter,
        ValueSet,
    )
    from feasibility.protocol.pieces import END_DATE
    from feasibility.schema import EVENT_DATE

    table, date = q.table, EVENT_DATE[q.table]

    def expr(f: Any) -> Column:
        if isinstance(f, TestFilter | ItemFilter | CategoryFilter):
            return F.col(f.column) == f.name
        if isinstance(f, CodeFilter):
            return code_match(F.col("code"), f.codelist)
        if isinstance(f, DrugFilter) and f.on == "regimen":
            regimens = [r[0] for r in df.select("regimen").distinct().collect() if r[0]]
            hits = [r for r in regimens if regimen_ingredients(r) & set(f.druglist.drugs)]
            return F.coalesce(F.col("regimen").isin(hits), F.lit(False))
        if isinstance(f, DrugFilter):
            match = F.col("drug").isin(sorted(f.druglist.spellings))
            match = F.coalesce(match, F.lit(False))
            return match & F.col("systemic") if f.systemic_only else match
        if isinstance(f, FlagFilter):
            return F.col(f.flag) == F.lit(f.value)
        if isinstance(f, MinValue):
            return F.col(f.of).cast("double") >= F.lit(float(f.value))
        if isinstance(f, StartedBy):
            return F.col("_d") < F.col(IDX) if f.strictly else F.col("_d") <= F.col(IDX)
        if isinstance(f, EndsAfter):
            end = F.col("end_date")
            return end.isNull() | (end >= F.date_sub(F.col(IDX), f.days))
        raise FeasibilityError(f"the spark engine cannot translate filter {type(f).__name__}")

    def number(v: Column) -> Column:
        if table == "assessments":
            text = F.trim(v.cast("string"))
            return F.when(text.rlike(r"^[0-9]+$"), text.cast("double"))
        return v.cast("double")

    def truth_of(v: Column, numeric: bool = False) -> Column:
        if isinstance(q.test, ValueSet):
            return F.lower(F.trim(v.cast("string"))).isin(list(q.test.values))
        cmp_ = q.comparison
        assert cmp_ is not None
        if table == "assessments" and not (q.names <= GRADED_ITEMS):
            return null_bool()
        return cmp(v if numeric else number(v), cmp_.op, cmp_.value)

    if q.pick.kind == "count":  # contract 2: exact duplicate rows count once (read keeps them)
        df = df.dropDuplicates()
    rows = df.withColumn("_d", F.col(date))
    selected = [F.coalesce(expr(f), F.lit(False)) for f in q.selectors]
    if selected:
        rows = rows.filter(k_and(*selected))
    # (the normaliser already left out implausible measurements: no second check here)
    rows = _with_index(rows, idx)
    if table in END_DATE:  # contract 5.1: an undated row that ended before the index
        end = F.col(END_DATE[table])
        placed = F.when(F.col("_d").isNull() & (end < F.col(IDX)), end)
        days = None if q.window is None else q.window.days
        if q.pick.kind != "latest" and (days is None or days >= 1):
            placed = placed.when(F.col("_d").isNull() & (end == F.col(IDX)), F.col(IDX))
        rows = rows.withColumn("_d", placed.otherwise(F.col("_d")))
    rows = rows.filter(F.col("_d").isNull() | (F.col("_d") <= F.col(IDX)))
    parts = [expr(f) for f in q.conditions]
    if q.window is not None:
        parts.append(in_window(F.col("_d"), q.window))
    ok = k_and(*parts)
    sure, maybe = F.coalesce(ok, F.lit(False)), ok.isNull()
    value = F.col(q.pick.of) if q.pick.of is not None else F.lit(1)
    has = value.isNotNull()
    c = f"{k}__q"
    inputs: list[Column] = [
        F.when(sure & has, F.lit(1)).otherwise(F.lit(0)).alias(f"{c}_lo"),
        F.when((sure | maybe) & has, F.lit(1)).otherwise(F.lit(0)).alias(f"{c}_hi"),
        F.when(sure & has, F.col("_d")).alias(f"{c}_d"),
    ]
    aggs = [
        F.sum(f"{c}_lo").alias(f"{c}_lo"),
        F.sum(f"{c}_hi").alias(f"{c}_hi"),
        F.max(f"{c}_d").alias(f"{c}_d"),
    ]
    lo, hi, best = F.col(f"{c}_lo"), F.col(f"{c}_hi"), F.col(f"{c}_d")
    kind = q.pick.kind
    shown: Column = lo.cast("double")
    found = hi > 0
    if kind == "any":
        truth = F.when(lo > 0, F.lit(True)).when(hi > 0, null_bool()).otherwise(F.lit(False))
    elif kind == "count":
        cmp_ = q.comparison
        assert cmp_ is not None
        if cmp_.op in ("==", "!="):
            could = (lo <= cmp_.value) & (hi >= cmp_.value)
            if not float(cmp_.value).is_integer():
                could = F.lit(False)
            eq = (
                F.when((lo == hi) & (lo == cmp_.value), F.lit(True))
                .when(could, null_bool())
                .otherwise(F.lit(False))
            )
            truth = eq if cmp_.op == "==" else ~eq
        else:
            truth = agree(cmp(lo, cmp_.op, cmp_.value), cmp(hi, cmp_.op, cmp_.value))
    elif kind == "max":
        num = number(value)
        inputs += [
            F.when(sure, num).alias(f"{c}_top"),
            F.when(maybe, num).alias(f"{c}_maybe"),
        ]
        aggs += [F.max(f"{c}_top").alias(f"{c}_top"), F.max(f"{c}_maybe").alias(f"{c}_maybe")]
        top, more = F.col(f"{c}_top"), F.col(f"{c}_maybe")
        bigger = F.greatest(top, F.coalesce(more, top))
        truth = F.when(top.isNull(), null_bool()).otherwise(
            agree(truth_of(top, True), truth_of(bigger, True))
        )
        shown = top
        found = top.isNotNull() | more.isNotNull()
    else:  # latest: the sure values on the latest day and the maybe ones on it or later
        inputs.append(
            F.when(
                (sure | maybe) & has,
                F.struct(
                    F.col("_d").alias("d"),
                    sure.alias("s"),
                    truth_of(value).alias("t"),
                    number(value).alias("v"),
                ),
            ).alias(f"{c}_rows")
        )
        aggs.append(F.collect_list(f"{c}_rows").alias(f"{c}_rows"))
        counted = F.filter(
            F.col(f"{c}_rows"),
            lambda x: (
                (x["s"] & (x["d"] == best)) | (~x["s"] & (x["d"].isNull() | (x["d"] >= best)))
            ),
        )
        all_true = F.forall(counted, lambda x: F.coalesce(x["t"], F.lit(False)))
        all_false = F.forall(counted, lambda x: F.coalesce(~x["t"], F.lit(False)))
        truth = (
            F.when(best.isNull(), null_bool())
            .when(all_true, F.lit(True))
            .when(all_false, F.lit(False))
            .otherwise(null_bool())
        )
        on_best = F.filter(F.col(f"{c}_rows"), lambda x: x["s"] & (x["d"] == best))
        shown = F.array_max(F.transform(on_best, lambda x: x["v"]))
        found = best.isNotNull() | (hi > 0)
    post = [
        truth.alias(f"{k}__truth"),
        F.coalesce(found, F.lit(False)).alias(f"{k}__found"),
        shown.cast("double").alias(f"{k}__value"),
        best.alias(f"{k}__date"),
    ]
    return Features(rows.select(*key, *inputs), aggs, post)


# ---------------------------------------------------------------------------- the plan


@dataclass
class _Context:
    spark: Any
    evidence: bool


@dataclass
class Plan:
    """A protocol registered leaf by leaf: what to read, and each leaf's key."""

    protocol: Protocol
    present: set[str]
    absent: frozenset[tuple[str, str]] = frozenset()
    leaves: dict[str, list[LeafInfo]] = field(default_factory=dict)
    latest_needs: dict[str, dict[str, int | None]] = field(
        default_factory=lambda: {"measurements": {}, "assessments": {}}
    )
    table_leaves: dict[str, list[tuple[str, Rule]]] = field(
        default_factory=lambda: {t: [] for t in EVENT_TABLES}
    )
    sex_leaves: set[str] = field(default_factory=set)
    #: latest-record leaf key -> the (table, test|item) whose undated rows it reads
    world_leaves: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: (leaf key, rule) of the leaves evaluated from their query (``records``)
    query_leaves: list[tuple[str, Rule]] = field(default_factory=list)
    keys: dict[tuple[int, str], str] = field(default_factory=dict)
    evidence: bool = False
    _crit_cache: dict[tuple, tuple[Column, Column]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for crit in self.protocol.criteria:
            self.leaves[crit.id] = []
            self._register(crit, crit.rule_obj)

    # ------------------------------------------------------------------ registration
    def _register(self, crit: Criterion, rule: Rule) -> None:
        for child in rule.children():
            self._register(crit, child)
        if rule.children() or isinstance(rule, Ref):
            return
        key = f"L{sum(len(v) for v in self.leaves.values())}"
        info = LeafInfo(key, crit.id, rule, rule.describe())
        register = _lookup(_REGISTER, rule, "register")
        register(self, key, info, rule)
        self.leaves[crit.id].append(info)
        self.keys[id(rule), crit.id] = key

    def need_latest(self, table: str, name: str, window: Window) -> None:
        needs = self.latest_needs[table]
        if name in needs:
            old = needs[name]
            needs[name] = None if old is None or window.days is None else max(old, window.days)
        else:
            needs[name] = window.days

    def needed_tables(self) -> set[str]:
        out = {"patients"}
        out |= {t for t, needs in self.latest_needs.items() if needs}
        out |= {t for t, lv in self.table_leaves.items() if lv}
        out |= {r.query.table for _, r in self.query_leaves if r.query is not None}
        return out

    # ------------------------------------------------------------------ the query
    def build(
        self,
        frames: dict[str, DataFrame],
        idx: DataFrame | dt.date,
        ctx: _Context,
    ) -> DataFrame:
        """One row per (patient, index) pair: patient_id, index_date, one Boolean column per
        criterion, and (``ctx.evidence``) the leaves' evidence columns."""
        self.evidence = ctx.evidence
        fixed = isinstance(idx, dt.date)
        key = [PID] if fixed else [PID, IDX]
        patients = frames["patients"].select(PID, "sex", "birth_date", "death_date")
        if fixed:
            base = patients.withColumn(IDX, F.lit(idx))
        else:
            assert isinstance(idx, DataFrame)
            base = idx.join(patients, on=PID, how="left")
        parts: list[Features] = []
        for table, needs in self.latest_needs.items():
            if needs and table in self.present:
                parts.append(latest_features(table, frames[table], needs, idx, key))
        for table, lv in self.table_leaves.items():
            if lv and table in self.present:
                parts.append(event_features(table, frames[table], lv, idx, key, ctx))
        for k, rule in self.query_leaves:
            q = rule.query
            if q is not None and q.table in self.present:
                parts.append(query_features(k, q, frames[q.table], idx, key))
        for features in combine(parts, key):
            base = base.join(features, on=key, how="left")
        evidence: list[Column] = []
        for infos in self.leaves.values():
            for info in infos:
                evidence += _lookup(_EVIDENCE, info.rule, "evidence")(self, info)
        base = base.select("*", *evidence)
        status = [self.criterion(c)[0].cast("boolean").alias(c.id) for c in self.protocol.criteria]
        keep = [PID, IDX]
        if ctx.evidence:
            keep += [
                f"__{i.key}{s}"
                for infos in self.leaves.values()
                for i in infos
                for s in ("", "_found", "_value", "_date", "_detail")
            ]
        return base.select(*keep, *status)

    # ------------------------------------------------------------------ criteria
    def criterion(self, crit: Criterion, sex: str | None = None) -> tuple[Column, Column]:
        """(status, found) of a criterion; sex U/null: what F and M agree on."""
        cache_key = (crit.id, sex)
        if cache_key in self._crit_cache:
            return self._crit_cache[cache_key]
        if sex is None and self._reads_sex(crit):
            actual, found = self._worlds(crit, None)
            as_f, _ = self._worlds(crit, "F")
            as_m, _ = self._worlds(crit, "M")
            status = F.when(sex_known(), actual).otherwise(agree(as_f, as_m))
        else:
            status, found = self._worlds(crit, sex)
        self._crit_cache[cache_key] = (status, found)
        return status, found

    def _worlds(self, crit: Criterion, sex: str | None) -> tuple[Column, Column]:
        """Ruling 1 (as the compiler's ``_worlds``): each test|item with undated rows is one
        group, taken out or with its smallest or largest undated value as the latest; the
        status all 3 ** groups worlds agree on, else null."""
        keys = self._leaf_keys(crit)
        groups = sorted(
            {self.world_leaves[k] for k in keys if k in self.world_leaves}
            & {g for g in self.world_leaves.values() if g[0] in self.present}
        )
        if not groups or len(groups) > MAX_WORLD_GROUPS:
            return self._status(crit, sex, None)
        statuses = []
        for choice in itertools.product(WORLD_CHOICES, repeat=len(groups)):
            world = {g: c for g, c in zip(groups, choice, strict=True) if c != "out"}
            statuses.append(self._status(crit, sex, world)[0])
        return agree(*statuses), self._status(crit, sex, None)[1]

    def _status(
        self, crit: Criterion, sex: str | None, world: dict | None
    ) -> tuple[Column, Column]:
        """Ruling 5: ``if_missing`` whenever found is false (literal, also "unknown");
        ruling 4: no whole-criterion unknown for an absent table (its leaves are)."""
        prop, found = self.rule(crit, crit.rule_obj, sex, world)
        status = prop if crit.kind == "inclusion" else ~prop
        default = null_bool() if crit.if_missing == "unknown" else F.lit(crit.if_missing == "pass")
        status = F.when(F.coalesce(~found, F.lit(False)), default).otherwise(status)
        return status, found

    def _leaf_keys(self, crit: Criterion) -> list[str]:
        return [info.key for info in self.leaves.get(crit.id, [])]

    def _reads_sex(self, crit: Criterion) -> bool:
        if any(k in self.sex_leaves for k in self._leaf_keys(crit)):
            return True
        return any(
            isinstance(leaf, Ref) and self._reads_sex(self.protocol.criterion(leaf.criterion))
            for leaf in leaves(crit.rule_obj)
        )

    def rule(
        self, crit: Criterion, rule: Rule, sex: str | None, world: dict | None
    ) -> tuple[Column, Column]:
        """(truth, found) of a rule node, by its class (:data:`_RULES`)."""
        return _lookup(_RULES, rule, "rule")(self, crit, rule, sex, world)


def _lookup(table: dict[type, Any], rule: Rule, what: str) -> Any:
    for cls in type(rule).__mro__:
        if cls in table:
            return table[cls]
    raise FeasibilityError(
        f"the spark engine cannot translate rule node {type(rule).__name__} ({what})"
    )


# ---------------------------------------------------------------------------- rule nodes


def _found_any(*founds: Column) -> Column:
    """Found of a combination (ruling 5): true if a part found a record, else false if a
    part reads an event table and found none, else null (neutral parts only)."""
    return F.greatest(*founds) if len(founds) > 1 else founds[0]


def _and_or(plan: Plan, crit: Criterion, rule: Any, sex: str | None, world: dict | None):
    parts = [plan.rule(crit, p, sex, world) for p in rule.parts]
    combine = k_and if isinstance(rule, And) else k_or
    return combine(*[p for p, _ in parts]), _found_any(*[f for _, f in parts])


def _any_present(
    plan: Plan, crit: Criterion, rule: AnyPresent, sex: str | None, world: dict | None
):
    parts = [plan.rule(crit, p, sex, world) for p in rule.parts]
    truths = [p for p, _ in parts]
    all_null = k_and(*[t.isNull() for t in truths])
    truth = (
        F.when(F.coalesce(k_or(*truths), F.lit(False)), F.lit(True))
        .when(all_null, null_bool())
        .otherwise(F.lit(False))
    )
    return truth, _found_any(*[f for _, f in parts])


def _not(plan: Plan, crit: Criterion, rule: Not, sex: str | None, world: dict | None):
    p, f = plan.rule(crit, rule.part, sex, world)
    return ~p, f


def _when(plan: Plan, crit: Criterion, rule: When, sex: str | None, world: dict | None):
    c, fc = plan.rule(crit, rule.condition, sex, world)
    t, ft = plan.rule(crit, rule.then, sex, world)
    # a false condition: not applicable, neither found nor missing
    found = F.when(F.coalesce(~c, F.lit(False)), null_bool()).otherwise(_found_any(fc, ft))
    return k_when(c, t), found


def _ref(plan: Plan, crit: Criterion, rule: Ref, sex: str | None, world: dict | None):
    # another criterion's status is not a record of this one: neutral for if_missing
    return plan.criterion(plan.protocol.criterion(rule.criterion), sex)[0], null_bool()


def _leaf(plan: Plan, crit: Criterion, rule: Rule, sex: str | None, world: dict | None):
    key = plan.keys[id(rule), crit.id]
    if plan.absent and columns_needed(rule) & plan.absent:
        return null_bool(), F.lit(True)  # no if_missing default over an absent column
    truth, suffix = f"__{key}", ""
    if sex is not None and key in plan.sex_leaves:
        truth += f"_as_{sex}"
    if world is not None and key in plan.world_leaves:
        choice = world.get(plan.world_leaves[key], "out")
        found_suffix = "_out" if choice == "out" else "_in"
        return F.col(f"{truth}_{choice}"), _leaf_found(plan, rule, key, found_suffix)
    return F.col(truth), _leaf_found(plan, rule, key, suffix)


def _leaf_found(plan: Plan, rule: Rule, key: str, suffix: str) -> Column:
    """Whether a leaf found a record, for ``if_missing`` (ruling 5): an event leaf, a row
    that qualifies or could (truth not false); a latest-record leaf or Cockcroft-Gault, a
    value in its window; a leaf over an absent table, true (its facts are unknown, not
    missing: ruling 4); a leaf reading no event table (patients row, undecidable): null."""
    tables = set(rule.tables()) - {"patients"}
    if not tables:
        return null_bool()
    if not tables <= plan.present:
        return F.lit(True)
    if isinstance(rule, Latest):
        return F.col(f"__{key}_found{suffix}")
    if isinstance(rule, (CockcroftGault, Records)):  # records: a sure or maybe row
        return F.col(f"__{key}_found")
    return F.coalesce(F.col(f"__{key}"), F.lit(True))


#: Rule node class -> its translation: (truth, found) columns.
_RULES: dict[type, Callable[..., tuple[Column, Column]]] = {
    And: _and_or,
    Or: _and_or,
    AnyPresent: _any_present,
    Not: _not,
    When: _when,
    Ref: _ref,
    Alive: _leaf,
    Age: _leaf,
    Sex: _leaf,
    Latest: _leaf,
    CockcroftGault: _leaf,
    Diagnosis: _leaf,
    Medication: _leaf,
    Procedure: _leaf,
    Lesion: _leaf,
    Therapy: _leaf,
    Undecidable: _leaf,
    Records: _leaf,
}


# ---------------------------------------------------------------------------- registration


def _reg_latest(plan: Plan, key: str, info: LeafInfo, rule: Latest) -> None:
    plan.need_latest(rule.table, rule.name, rule.window)
    info.unit, info.threshold, info.op = rule.unit, rule.value, rule.op
    plan.world_leaves[key] = (rule.table, rule.name)


def _reg_cockcroft(plan: Plan, key: str, info: LeafInfo, rule: CockcroftGault) -> None:
    plan.need_latest("measurements", "creatinine", rule.creatinine_window)
    plan.need_latest("measurements", "weight", rule.weight_window)
    info.unit, info.threshold, info.op = "mL/min", rule.value, rule.op
    plan.sex_leaves.add(key)


def _reg_sex(plan: Plan, key: str, info: LeafInfo, rule: Sex) -> None:
    plan.sex_leaves.add(key)


def _reg_age(plan: Plan, key: str, info: LeafInfo, rule: Age) -> None:
    info.unit, info.threshold, info.op = "years", rule.value, rule.op


def _reg_event(plan: Plan, key: str, info: LeafInfo, rule: Rule) -> None:
    plan.table_leaves[next(iter(rule.tables()))].append((key, rule))


def _reg_lesion(plan: Plan, key: str, info: LeafInfo, rule: Lesion) -> None:
    plan.table_leaves["lesions"].append((key, rule))
    info.unit, info.threshold, info.op = "cm", rule.min_diameter_cm, ">="


def _reg_query(plan: Plan, key: str, info: LeafInfo, rule: Records) -> None:
    plan.query_leaves.append((key, rule))
    if rule.comparison is not None:
        c = rule.comparison
        info.unit, info.threshold, info.op = c.unit, c.value, c.op


def _reg_nothing(plan: Plan, key: str, info: LeafInfo, rule: Rule) -> None:
    return None


#: Leaf class -> what registering it records (tables, tests, per-sex or per-world columns).
_REGISTER: dict[type, Callable[[Plan, str, LeafInfo, Any], None]] = {
    Latest: _reg_latest,
    CockcroftGault: _reg_cockcroft,
    Sex: _reg_sex,
    Age: _reg_age,
    Alive: _reg_nothing,
    Undecidable: _reg_nothing,
    Diagnosis: _reg_event,
    Medication: _reg_event,
    Procedure: _reg_event,
    Therapy: _reg_event,
    Lesion: _reg_lesion,
    Records: _reg_query,
}


# ---------------------------------------------------------------------------- evidence


def _none(kind: str) -> Column:
    return F.lit(None).cast(kind)


def _cols(k: str, truth: Column, found: Column, value: Column, date: Column, detail: Column):
    return [
        truth.cast("boolean").alias(f"__{k}"),
        found.cast("boolean").alias(f"__{k}_found"),
        value.cast("double").alias(f"__{k}_value"),
        date.cast("date").alias(f"__{k}_date"),
        detail.cast("string").alias(f"__{k}_detail"),
    ]


def _world_cols(k: str, out: Column, found_out: Column, low: Column, high: Column, found_in):
    return [
        out.cast("boolean").alias(f"__{k}_out"),
        found_out.cast("boolean").alias(f"__{k}_found_out"),
        low.cast("boolean").alias(f"__{k}_lo"),
        high.cast("boolean").alias(f"__{k}_hi"),
        found_in.cast("boolean").alias(f"__{k}_found_in"),
    ]


def _ev_undecidable(plan: Plan, info: LeafInfo) -> list[Column]:
    rule = info.rule
    assert isinstance(rule, Undecidable)
    return _cols(
        info.key, null_bool(), F.lit(False), _none("double"), _none("date"), F.lit(rule.reason)
    )


def _ev_alive(plan: Plan, info: LeafInfo) -> list[Column]:
    death, birth = F.col("death_date"), F.col("birth_date")
    truth = death.isNull() | (death > F.col(IDX))
    impossible = F.coalesce(death < birth, F.lit(False))
    truth = F.when(impossible, null_bool()).otherwise(truth)
    return _cols(info.key, truth, impossible, _none("double"), death, _none("string"))


def _ev_age(plan: Plan, info: LeafInfo) -> list[Column]:
    rule = info.rule
    assert isinstance(rule, Age)
    age = age_col()
    return _cols(
        info.key,
        cmp(age, rule.op, rule.value),
        F.lit(False),
        age,
        F.col("birth_date"),
        _none("string"),
    )


def _ev_sex(plan: Plan, info: LeafInfo) -> list[Column]:
    rule = info.rule
    assert isinstance(rule, Sex)
    k = info.key
    truth = F.when(sex_known(), F.col("sex").isin(list(rule.values))).otherwise(null_bool())
    variants = [F.lit(s in rule.values).alias(f"__{k}_as_{s}") for s in SEXES]
    return _cols(k, truth, F.lit(False), _none("double"), _none("date"), F.col("sex")) + variants


def _latest_truth(rule: Latest) -> Callable[[Column], Column]:
    """The leaf's comparison as a function of a value column (null value -> null)."""
    if rule.table == "measurements":
        return lambda v: cmp(v.cast("double"), rule.op or ">=", rule.value or 0.0)
    if rule.values is not None:
        values = list(rule.values)
        return lambda v: F.when(v.isNull(), null_bool()).otherwise(v.cast("string").isin(values))
    return lambda v: cmp(v.cast("string").try_cast("double"), rule.op or ">=", rule.value or 0.0)


def _ev_latest(plan: Plan, info: LeafInfo) -> list[Column]:
    r, k = info.rule, info.key
    assert isinstance(r, Latest)
    if r.table not in plan.present:
        return _cols(
            k, null_bool(), F.lit(False), _none("double"), _none("date"), _none("string")
        ) + _world_cols(k, null_bool(), F.lit(False), null_bool(), null_bool(), F.lit(False))
    prefix = "m" if r.table == "measurements" else "a"
    raw_v, raw_d = F.col(_name(prefix, r.name, "value")), F.col(_name(prefix, r.name, "date"))
    inw = F.coalesce(in_window(raw_d, r.window), F.lit(False))
    d = F.when(inw, raw_d)
    v = F.when(inw, raw_v)
    truth_of = _latest_truth(r)
    # ruling 6: the latest day's largest and smallest values must agree
    dated = agree(truth_of(v), truth_of(F.when(inw, F.col(_name(prefix, r.name, "vmin")))))
    undated = F.col(_name(prefix, r.name, "undated"))
    has_u = F.coalesce(F.size(undated) > 0, F.lit(False))
    u_true = F.forall(undated, lambda x: F.coalesce(truth_of(x), F.lit(False)))
    u_false = F.forall(undated, lambda x: F.coalesce(~truth_of(x), F.lit(False)))
    u_truth = F.when(u_true, F.lit(True)).when(u_false, F.lit(False)).otherwise(null_bool())
    truth = F.when(has_u, agree(dated, u_truth)).otherwise(dated)
    found = inw | has_u
    # ruling 1: the worlds' smallest / largest undated value as the most recent
    low = F.when(has_u, truth_of(F.array_min(undated))).otherwise(dated)
    high = F.when(has_u, truth_of(F.array_max(undated))).otherwise(dated)
    worlds = _world_cols(k, dated, inw, low, high, inw | has_u)
    if r.table == "measurements":
        return _cols(k, truth, found, v, d, _none("string")) + worlds
    text = v.cast("string")
    return _cols(k, truth, found, text.try_cast("double"), d, text) + worlds


def _ev_cockcroft(plan: Plan, info: LeafInfo) -> list[Column]:
    r, k = info.rule, info.key
    assert isinstance(r, CockcroftGault)
    if "measurements" not in plan.present:
        return _cols(
            k, null_bool(), F.lit(False), _none("double"), _none("date"), _none("string")
        ) + [null_bool().alias(f"__{k}_as_{s}") for s in SEXES]
    cr_d, wt_d = F.col(_name("m", "creatinine", "date")), F.col(_name("m", "weight", "date"))
    cr_in = F.coalesce(in_window(cr_d, r.creatinine_window), F.lit(False))
    wt_in = F.coalesce(in_window(wt_d, r.weight_window), F.lit(False))
    cr_v = F.col(_name("m", "creatinine", "value"))
    cr = F.when(cr_in & (cr_v > 0), cr_v)
    wt = F.when(wt_in, F.col(_name("m", "weight", "value")))
    u_cr = F.col(_name("m", "creatinine", "undated"))
    u_wt = F.col(_name("m", "weight", "undated"))
    # ruling 6: the latest days' smallest values too
    cr_min = F.when(cr.isNotNull(), F.col(_name("m", "creatinine", "vmin")))
    wt_min = F.when(wt.isNotNull(), F.col(_name("m", "weight", "vmin")))
    has_u = F.coalesce(F.size(u_cr) > 0, F.lit(False)) | F.coalesce(F.size(u_wt) > 0, F.lit(False))
    cr_hi = F.when(cr.isNotNull(), F.greatest(cr, F.array_max(u_cr)))
    cr_lo = F.when(cr.isNotNull(), F.least(cr_min, F.array_min(u_cr)))
    wt_hi = F.when(wt.isNotNull(), F.greatest(wt, F.array_max(u_wt)))
    wt_lo = F.when(wt.isNotNull(), F.least(wt_min, F.array_min(u_wt)))

    def clearance(creat: Column, weight: Column, factor: Column) -> Column:
        return creatinine_clearance(age_col(), weight, creat, factor, lambda c: c.cast("double"))

    def truth_for(factor: Column) -> Column:
        low = cmp(clearance(cr_hi, wt_lo, factor), r.op, r.value)
        high = cmp(clearance(cr_lo, wt_hi, factor), r.op, r.value)
        return agree(low, high)

    female, male = F.lit(CG_SEX_FACTOR["F"]), F.lit(CG_SEX_FACTOR["M"])
    sex_factor = F.when(F.col("sex") == "F", female).when(F.col("sex") == "M", male)
    crcl = clearance(cr, wt, sex_factor)
    crcl_f = clearance(cr, wt, female)
    crcl_m = clearance(cr, wt, male)

    def text(c: Column, digits: int) -> Column:
        return F.coalesce(F.round(c, digits).cast("string"), F.lit("missing"))

    detail = F.concat(
        F.lit("creatinine "),
        text(cr, 3),
        F.lit(" mg/dL, weight "),
        text(wt, 2),
        F.lit(" kg, age "),
        F.coalesce(age_col().cast("string"), F.lit("missing")),
        F.lit(", sex "),
        F.coalesce(F.col("sex"), F.lit("null")),
        F.when(sex_known(), F.lit("")).otherwise(
            F.concat(
                F.lit(" (as F "),
                text(crcl_f, 1),
                F.lit(", as M "),
                text(crcl_m, 1),
                F.lit(" mL/min)"),
            )
        ),
    )
    date = F.greatest(F.when(cr_in, cr_d), F.when(wt_in, wt_d))
    as_f, as_m = truth_for(female), truth_for(male)
    variants = [as_f.alias(f"__{k}_as_F"), as_m.alias(f"__{k}_as_M")]
    truth = F.when(sex_known(), truth_for(sex_factor)).otherwise(agree(as_f, as_m))
    return _cols(k, truth, cr_in | wt_in | has_u, crcl, date, detail) + variants


def _ev_event(plan: Plan, info: LeafInfo) -> list[Column]:
    r, k = info.rule, info.key
    table = next(iter(r.tables()))
    if table not in plan.present:
        return _cols(k, null_bool(), F.lit(False), _none("double"), _none("date"), _none("string"))
    # no row at all for this pair (left join miss) means absent: false
    found = F.col(f"{k}__found")
    truth = F.when(found.isNull(), F.lit(False)).otherwise(F.col(f"{k}__truth"))
    out = [
        truth.cast("boolean").alias(f"__{k}"),
        F.coalesce(found, F.lit(False)).alias(f"__{k}_found"),
    ]
    if plan.evidence:  # the date, detail and value columns exist only when asked for
        value = F.col(f"{k}__value") if isinstance(r, Lesion) else _none("double")
        out += [
            value.cast("double").alias(f"__{k}_value"),
            F.col(f"{k}__date").cast("date").alias(f"__{k}_date"),
            F.col(f"{k}__detail").cast("string").alias(f"__{k}_detail"),
        ]
    return out


def _ev_query(plan: Plan, info: LeafInfo) -> list[Column]:
    r, k = info.rule, info.key
    assert isinstance(r, Records)
    if r.query.table not in plan.present:
        return _cols(k, null_bool(), F.lit(False), _none("double"), _none("date"), _none("string"))
    found = F.col(f"{k}__found")
    if r.query.pick.kind == "any":  # no row at all for this pair: none, false
        missing = F.lit(False)
    elif r.query.pick.kind == "count":  # a count of 0
        c = r.query.comparison
        assert c is not None
        missing = cmp(F.lit(0), c.op, c.value)
    else:  # no value: unknown
        missing = null_bool()
    truth = F.when(found.isNull(), missing).otherwise(F.col(f"{k}__truth"))
    return _cols(
        k,
        truth,
        F.coalesce(found, F.lit(False)),
        F.col(f"{k}__value"),
        F.col(f"{k}__date"),
        _none("string"),
    )


#: Leaf class -> its evidence columns (__k, __k_found, __k_value, __k_date, __k_detail and
#: the per-sex / per-world truths the criteria read).
_EVIDENCE: dict[type, Callable[[Plan, LeafInfo], list[Column]]] = {
    Undecidable: _ev_undecidable,
    Alive: _ev_alive,
    Age: _ev_age,
    Sex: _ev_sex,
    Latest: _ev_latest,
    CockcroftGault: _ev_cockcroft,
    Diagnosis: _ev_event,
    Medication: _ev_event,
    Procedure: _ev_event,
    Lesion: _ev_event,
    Therapy: _ev_event,
    Records: _ev_query,
}


__all__ = ["IDX", "Plan", "code_match", "event_features", "latest_features"]
