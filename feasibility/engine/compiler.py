"""Compile a protocol's rules into one polars lazy query over all (patient, index) pairs.

The compiler walks the protocol once to register what each rule leaf needs from which
table; :mod:`feasibility.engine.features` reduces each table in one pass to per-(patient,
index) features; the features are left-joined onto the (patient, index) base and each
criterion becomes a nullable-Boolean expression (true = pass) over them.

Column naming in the evaluated frame: ``<criterion id>`` (status), and per leaf ``k``
(``L0``, ``L1``, ...): ``__k`` truth, ``__k_found``, ``__k_value`` (Float64, canonical
unit), ``__k_date``, ``__k_detail`` (String).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import polars as pl

from feasibility.engine.features import (
    IDX,
    PAIR,
    PID,
    event_features,
    in_window,
    latest_features,
    pair_key,
)
from feasibility.engine.logic import NULL_BOOL, k_and, k_not, k_or, k_when
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
    Ref,
    Rule,
    Sex,
    Therapy,
    When,
    Window,
    columns_needed,
)


@dataclass
class LeafInfo:
    """What the evidence layer needs to know about one compiled leaf."""

    key: str
    criterion: str
    rule: Rule
    description: str
    unit: str | None = None
    threshold: float | None = None
    op: str | None = None


@dataclass
class Compiled:
    """Leaves per criterion and the expressions to evaluate."""

    leaves: dict[str, list[LeafInfo]] = field(default_factory=dict)
    status: dict[str, pl.Expr] = field(default_factory=dict)
    evidence: list[pl.Expr] = field(default_factory=list)


def _cmp(expr: pl.Expr, op: str, value: float) -> pl.Expr:
    return {
        ">=": expr >= value,
        ">": expr > value,
        "<=": expr <= value,
        "<": expr < value,
        "==": expr == value,
        "!=": expr != value,
    }[op]


def age_expr() -> pl.Expr:
    """Whole years from birth_date to index_date; the birthday itself counts."""
    b, i = pl.col("birth_date"), pl.col(IDX)
    before_birthday = (i.dt.month().cast(pl.Int32) * 100 + i.dt.day().cast(pl.Int32)) < (
        b.dt.month().cast(pl.Int32) * 100 + b.dt.day().cast(pl.Int32)
    )
    return i.dt.year().cast(pl.Int32) - b.dt.year().cast(pl.Int32) - before_birthday.cast(pl.Int32)


def attach(base: pl.LazyFrame, feats: list[pl.LazyFrame], key: str) -> pl.LazyFrame:
    """``base`` with each feature frame's columns, as successive left joins on ``key`` would
    give them (base order kept, null where a key has no feature row).

    ``key`` is unique on both sides. Chained order-keeping left joins re-gather every
    column already joined, once per join; here each feature frame is aligned once: a
    key-only join finds its row for each base row, then its columns are gathered
    together and stacked beside the base.
    """
    # one at a time: collecting them together holds every table's intermediates at once
    out = base.collect(engine="in-memory")
    feats_df = [feat.collect(engine="in-memory") for feat in feats]
    keys = out.select(key).lazy()
    parts = [out]
    for feat in feats_df:
        values = feat.drop(key)
        if feat.height == 0:
            parts.append(values.clear(out.height))
            continue
        row = (
            keys.join(
                feat.lazy().select(key).with_row_index("__row"),
                on=key,
                how="left",
                maintain_order="left",
            )
            .collect(engine="in-memory")
            .get_column("__row")
        )
        parts.append(values.select(pl.all().gather(row)))
    return pl.concat(parts, how="horizontal").lazy()


class Compiler:
    """Walk the protocol, register each leaf's data needs, then build the query."""

    def __init__(
        self,
        protocol: Protocol,
        present: set[str],
        absent_columns: frozenset[tuple[str, str]] = frozenset(),
    ):
        self.protocol = protocol
        self.present = present
        # (table, column) missing from a present table's file: leaves needing one are unknown
        self.absent_columns = absent_columns
        self.latest_needs: dict[str, dict[str, int | None]] = {
            "measurements": {},
            "assessments": {},
        }
        self.table_leaves: dict[str, list[tuple[str, Rule]]] = {
            t: [] for t in ("diagnoses", "medications", "procedures", "lesions", "therapies")
        }
        self.out = Compiled()
        self._n = 0
        self._crit_cache: dict[str, tuple[pl.Expr, pl.Expr]] = {}
        self._registered = False
        # (id(rule), criterion id) -> leaf key; equal rules may occur twice, so identity is the key
        self._keys: dict[tuple[int, str], str] = {}

    # ------------------------------------------------------------------ needs
    def _need_latest(self, table: str, name: str, window: Window) -> None:
        needs = self.latest_needs[table]
        if name in needs:
            old = needs[name]
            needs[name] = None if old is None or window.days is None else max(old, window.days)
        else:
            needs[name] = window.days

    def _register(self) -> None:
        for crit in self.protocol.criteria:
            self.out.leaves[crit.id] = []
            self._register_rule(crit, crit.rule_obj)
        self._registered = True

    def _register_rule(self, crit: Criterion, rule: Rule) -> None:
        for child in rule.children():
            self._register_rule(crit, child)
        if rule.children() or isinstance(rule, Ref):
            return
        key = f"L{self._n}"
        self._n += 1
        info = LeafInfo(key, crit.id, rule, rule.describe())
        if isinstance(rule, Latest):
            self._need_latest(rule.table, rule.name, rule.window)
            info.unit, info.threshold, info.op = rule.unit, rule.value, rule.op
        elif isinstance(rule, CockcroftGault):
            self._need_latest("measurements", "creatinine", rule.creatinine_window)
            self._need_latest("measurements", "weight", rule.weight_window)
            info.unit, info.threshold, info.op = "mL/min", rule.value, rule.op
        elif isinstance(rule, Age):
            info.unit, info.threshold, info.op = "years", rule.value, rule.op
        elif isinstance(rule, Diagnosis):
            self.table_leaves["diagnoses"].append((key, rule))
        elif isinstance(rule, Medication):
            self.table_leaves["medications"].append((key, rule))
        elif isinstance(rule, Procedure):
            self.table_leaves["procedures"].append((key, rule))
        elif isinstance(rule, Lesion):
            self.table_leaves["lesions"].append((key, rule))
            info.unit = "cm"
            info.threshold, info.op = rule.min_diameter_cm, ">="
        elif isinstance(rule, Therapy):
            self.table_leaves["therapies"].append((key, rule))
        self.out.leaves[crit.id].append(info)
        self._keys[id(rule), crit.id] = key

    # ------------------------------------------------------------------ features
    def needed_tables(self) -> dict[str, list[str] | None]:
        """Tables (and for measurements/assessments the tests/items) the protocol reads."""
        if not self._registered:
            self._register()
        out: dict[str, list[str] | None] = {"patients": None}
        for t, needs in self.latest_needs.items():
            if needs:
                out[t] = sorted(needs)
        for t, lv in self.table_leaves.items():
            if lv:
                out[t] = None
        return out

    def build(
        self, frames: dict[str, pl.LazyFrame], idx: pl.LazyFrame, fixed: dt.date | None
    ) -> pl.LazyFrame:
        """The full evaluation query: one row per (patient_id, index_date) in ``idx``."""
        if not self._registered:
            self._register()
        if fixed is None:
            idx = idx.with_row_index(PAIR)
        patients = (
            frames["patients"]
            .select(PID, "sex", "birth_date", "death_date")
            .unique(PID, keep="first")
        )
        base = idx.join(patients, on=PID, how="left", maintain_order="left")
        feats: list[pl.LazyFrame] = []
        for table in ("measurements", "assessments"):
            if self.latest_needs[table] and table in self.present:
                feats.append(
                    latest_features(self.latest_needs[table], table, frames[table], idx, fixed)
                )
        for table, lv in self.table_leaves.items():
            if lv and table in self.present:
                feats.append(event_features(lv, table, frames[table], idx, fixed))
        base = attach(base, feats, pair_key(fixed))
        exprs: list[pl.Expr] = []
        for crit in self.protocol.criteria:
            status, _ = self.criterion_expr(crit)
            exprs.append(status.alias(crit.id))
        evid = []
        for infos in self.out.leaves.values():
            for info in infos:
                evid += self._leaf_evidence(info)
        out = base.with_columns(evid).with_columns(exprs)
        return out.drop(PAIR) if fixed is None else out

    # ------------------------------------------------------------------ expressions
    def criterion_expr(self, crit: Criterion) -> tuple[pl.Expr, pl.Expr]:
        """(status, found) for a criterion: status true = pass."""
        if crit.id in self._crit_cache:
            return self._crit_cache[crit.id]
        prop, found = self._rule_expr(crit, crit.rule_obj)
        status = prop if crit.kind == "inclusion" else k_not(prop)
        if crit.if_missing != "unknown":
            status = (
                pl.when(status.is_null() & ~found)
                .then(pl.lit(crit.if_missing == "pass"))
                .otherwise(status)
            )
        if not crit.tables <= self.present:
            status = NULL_BOOL
        self._crit_cache[crit.id] = (status, found)
        return status, found

    def _rule_expr(self, crit: Criterion, rule: Rule) -> tuple[pl.Expr, pl.Expr]:
        if isinstance(rule, And | Or):
            parts = [self._rule_expr(crit, p) for p in rule.parts]
            combine = k_and if isinstance(rule, And) else k_or
            return combine(*[p for p, _ in parts]), k_or(*[f for _, f in parts]).fill_null(False)
        if isinstance(rule, AnyPresent):
            parts = [self._rule_expr(crit, p) for p in rule.parts]
            truths = [p for p, _ in parts]
            all_null = k_and(*[t.is_null() for t in truths])
            truth = (
                pl.when(k_or(*truths).fill_null(False))
                .then(pl.lit(True))
                .when(all_null)
                .then(NULL_BOOL)
                .otherwise(pl.lit(False))
            )
            return truth, k_or(*[f for _, f in parts]).fill_null(False)
        if isinstance(rule, Not):
            p, f = self._rule_expr(crit, rule.part)
            return k_not(p), f
        if isinstance(rule, When):
            c, fc = self._rule_expr(crit, rule.condition)
            t, ft = self._rule_expr(crit, rule.then)
            return k_when(c, t), fc | ft
        if isinstance(rule, Ref):
            return self.criterion_expr(self.protocol.criterion(rule.criterion))
        key = self._keys[id(rule), crit.id]
        if self.absent_columns and columns_needed(rule) & self.absent_columns:
            return NULL_BOOL, pl.lit(True)  # found: no if_missing default over an absent column
        return pl.col(f"__{key}"), pl.col(f"__{key}_found")

    def _leaf_evidence(self, info: LeafInfo) -> list[pl.Expr]:
        """Columns __k, __k_found, __k_value, __k_date, __k_detail for one leaf."""
        r, k = info.rule, info.key
        none_f, none_d, none_s = (
            pl.lit(None, pl.Float64),
            pl.lit(None, pl.Date),
            pl.lit(None, pl.String),
        )
        if isinstance(r, Alive):
            truth = pl.col("death_date").is_null() | (pl.col("death_date") > pl.col(IDX))
            # patient attributes are not "records": they never stop if_missing from applying
            return _cols(k, truth, pl.lit(False), none_f, pl.col("death_date"), none_s)
        if isinstance(r, Age):
            age = age_expr()
            return _cols(
                k,
                _cmp(age, r.op, r.value),
                pl.lit(False),
                age.cast(pl.Float64),
                pl.col("birth_date"),
                none_s,
            )
        if isinstance(r, Sex):
            known = pl.col("sex").is_in(["F", "M"]).fill_null(False)
            truth = pl.when(known).then(pl.col("sex").is_in(list(r.values))).otherwise(NULL_BOOL)
            return _cols(k, truth, pl.lit(False), none_f, none_d, pl.col("sex"))
        if isinstance(r, Latest):
            if r.table not in self.present:
                return _cols(k, NULL_BOOL, pl.lit(False), none_f, none_d, none_s)
            prefix = "m" if r.table == "measurements" else "a"
            raw_v, raw_d = pl.col(f"{prefix}:{r.name}:value"), pl.col(f"{prefix}:{r.name}:date")
            inw = in_window(raw_d, r.window).fill_null(False)
            d = pl.when(inw).then(raw_d).otherwise(none_d)
            v = pl.when(inw).then(raw_v)
            if r.table == "measurements":
                num = v.cast(pl.Float64)
                truth = _cmp(num, r.op or ">=", r.value or 0.0)
                return _cols(k, truth, inw, num, d, none_s)
            text = v.cast(pl.String)
            if r.values is not None:
                truth = (
                    pl.when(text.is_null()).then(NULL_BOOL).otherwise(text.is_in(list(r.values)))
                )
                num = text.cast(pl.Float64, strict=False)
            else:
                num = text.cast(pl.Float64, strict=False)
                truth = _cmp(num, r.op or ">=", r.value or 0.0)
            return _cols(k, truth, inw, num, d, text)
        if isinstance(r, CockcroftGault):
            if "measurements" not in self.present:
                return _cols(k, NULL_BOOL, pl.lit(False), none_f, none_d, none_s)
            cr_d, wt_d = pl.col("m:creatinine:date"), pl.col("m:weight:date")
            cr_in = in_window(cr_d, r.creatinine_window).fill_null(False)
            wt_in = in_window(wt_d, r.weight_window).fill_null(False)
            cr = pl.when(cr_in & (pl.col("m:creatinine:value") > 0)).then(
                pl.col("m:creatinine:value")
            )
            wt = pl.when(wt_in).then(pl.col("m:weight:value"))
            sex_factor = (
                pl.when(pl.col("sex") == "F").then(0.85).when(pl.col("sex") == "M").then(1.0)
            )
            crcl = (140 - age_expr()).cast(pl.Float64) * wt / (72.0 * cr) * sex_factor
            detail = (
                pl.lit("creatinine ")
                + cr.round(3).cast(pl.String).fill_null("missing")
                + pl.lit(" mg/dL, weight ")
                + wt.round(2).cast(pl.String).fill_null("missing")
                + pl.lit(" kg, age ")
                + age_expr().cast(pl.String).fill_null("missing")
                + pl.lit(", sex ")
                + pl.col("sex").cast(pl.String).fill_null("null")
            )
            date = pl.max_horizontal(pl.when(cr_in).then(cr_d), pl.when(wt_in).then(wt_d))
            return _cols(k, _cmp(crcl, r.op, r.value), cr_in | wt_in, crcl, date, detail)
        # event-table leaves: computed by the per-table group-by
        table = next(iter(r.tables()))
        if table not in self.present:
            return _cols(k, NULL_BOOL, pl.lit(False), none_f, none_d, none_s)
        value = pl.col(f"{k}:value") if isinstance(r, Lesion) else none_f
        return _cols(
            k,
            # no row at all for this patient-index (left join miss) means absent: false
            pl.when(pl.col(f"{k}:found").is_null())
            .then(pl.lit(False))
            .otherwise(pl.col(f"{k}:truth")),
            pl.col(f"{k}:found").fill_null(False),
            value,
            pl.col(f"{k}:date"),
            pl.col(f"{k}:detail"),
        )


def _cols(k: str, truth, found, value, date, detail) -> list[pl.Expr]:
    return [
        truth.cast(pl.Boolean).alias(f"__{k}"),
        found.cast(pl.Boolean).alias(f"__{k}_found"),
        value.cast(pl.Float64).alias(f"__{k}_value"),
        date.cast(pl.Date).alias(f"__{k}_date"),
        detail.cast(pl.String).alias(f"__{k}_detail"),
    ]


__all__ = ["Compiler", "Compiled", "LeafInfo", "age_expr", "IDX", "PID"]
