"""Compile a protocol's rules into one polars lazy query over all (patient, index) pairs.

Each registry table is read once. Measurements and assessments are reduced, in one
group-by each, to the latest record per (patient, index, test|item) inside the widest
window any criterion needs; a narrower window then only checks that record's date
(all windows end at the index, so the most recent record in a narrow window is the
overall most recent one if it lies inside it). Event tables (diagnoses, medications,
procedures, lesions, therapies) are reduced in one group-by per table computing every
leaf that reads them. The features are left-joined onto the (patient, index) base and
each criterion becomes a nullable-Boolean expression (true = pass).

Column naming in the evaluated frame: ``<criterion id>`` (status), and per leaf ``k``
(``L0``, ``L1``, ...): ``__k`` truth, ``__k_found``, ``__k_value`` (Float64, canonical
unit), ``__k_date``, ``__k_detail`` (String).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import polars as pl

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
)
from feasibility.schema import NON_SYSTEMIC_ROUTES, TESTS

PID, IDX = "patient_id", "index_date"
KEYS = [PID, IDX]
#: Join key of the per-(patient, index) features: one column, so joins stay cheap. With a
#: fixed index it is patient_id; in event mode an integer id of the (patient, index) pair.
PAIR = "_pair"


def _key(fixed: dt.date | None) -> str:
    return PID if fixed is not None else PAIR


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


def _in_window(date: pl.Expr, window: Window) -> pl.Expr:
    """index - days <= date <= index (null date -> null)."""
    upper = date <= pl.col(IDX)
    if window.days is None:
        return upper
    return upper & (date >= pl.col(IDX) - pl.duration(days=window.days))


def age_expr() -> pl.Expr:
    """Whole years from birth_date to index_date; the birthday itself counts."""
    b, i = pl.col("birth_date"), pl.col(IDX)
    before_birthday = (i.dt.month().cast(pl.Int32) * 100 + i.dt.day().cast(pl.Int32)) < (
        b.dt.month().cast(pl.Int32) * 100 + b.dt.day().cast(pl.Int32)
    )
    return i.dt.year().cast(pl.Int32) - b.dt.year().cast(pl.Int32) - before_birthday.cast(pl.Int32)


def _with_index(lf: pl.LazyFrame, idx: pl.LazyFrame, fixed: dt.date | None) -> pl.LazyFrame:
    if fixed is not None:
        return lf.with_columns(pl.lit(fixed, dtype=pl.Date).alias(IDX))
    return lf.join(idx, on=PID, how="inner")


class Compiler:
    """Walk the protocol, register each leaf's data needs, then build the query."""

    def __init__(self, protocol: Protocol, present: set[str]):
        self.protocol = protocol
        self.present = present
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

    def _latest_features(
        self, table: str, lf: pl.LazyFrame, idx: pl.LazyFrame, fixed: dt.date | None
    ) -> pl.LazyFrame:
        needs = self.latest_needs[table]
        key = "test" if table == "measurements" else "item"
        date = "measured_on" if table == "measurements" else "assessed_on"
        rows = lf.select(PID, key, "value", date)
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
                if all(w is not None for w in needs.values()):
                    rows = rows.filter(pl.col(date) >= lo - dt.timedelta(days=max(needs.values())))
        rows = _with_index(rows, idx, fixed).filter(pl.col(date) <= pl.col(IDX))
        bounded = {n: d for n, d in needs.items() if d is not None}
        if bounded:
            lower = pl.lit(None, dtype=pl.Int64)
            expr = pl.when(pl.col(key) == next(iter(bounded))).then(bounded[next(iter(bounded))])
            for n, d in list(bounded.items())[1:]:
                expr = expr.when(pl.col(key) == n).then(d)
            lower = expr.otherwise(pl.lit(None, dtype=pl.Int64))
            rows = rows.filter(
                lower.is_null() | (pl.col(date) >= pl.col(IDX) - pl.duration(days=lower))
            )
        # latest record per (patient, index, test); same-day ties -> the highest value
        latest = rows.group_by([_key(fixed), key]).agg(
            pl.col("value").sort_by([date, "value"]).last(),
            pl.col(date).max(),
        )
        prefix = "m" if table == "measurements" else "a"
        aggs = []
        for n in needs:
            # one row per (patient, index, test) here, so max of the masked column is that row
            hit = pl.col(key) == n
            aggs.append(pl.when(hit).then(pl.col("value")).max().alias(f"{prefix}:{n}:value"))
            aggs.append(pl.when(hit).then(pl.col(date)).max().alias(f"{prefix}:{n}:date"))
        return latest.group_by(_key(fixed)).agg(aggs)

    def _event_features(
        self, table: str, lf: pl.LazyFrame, idx: pl.LazyFrame, fixed: dt.date | None
    ) -> pl.LazyFrame:
        leaves_ = self.table_leaves[table]
        specs: list[tuple] = []
        if table == "diagnoses":
            code = pl.col("code")
            # match each distinct code once (a registry has few thousand), then join back
            codes = lf.select(code.unique()).collect()
            match = codes.with_columns(
                [_code_match(code, r.codelist).fill_null(False).alias(f"{k}:m") for k, r in leaves_]
            ).filter(k_or(*[pl.col(f"{k}:m") for k, _ in leaves_]))
            rows = (
                lf.select(PID, "code", "diagnosed_on")
                .filter(pl.col("code").is_in(match["code"].implode()))
                .join(match.lazy(), on="code", how="inner")
            )
            rows = _with_index(rows, idx, fixed)
            rows = rows.filter(
                pl.col("diagnosed_on").is_null() | (pl.col("diagnosed_on") <= pl.col(IDX))
            )
            rows = rows.sort("diagnosed_on", nulls_last=False)
            for k, r in leaves_:
                cand = pl.col(f"{k}:m")
                cond = cand & _in_window(pl.col("diagnosed_on"), r.window)
                specs.append((k, cand, cond, pl.col("diagnosed_on"), None))
            detail = code
        elif table == "medications":
            names: set[str] = set()
            for _, r in leaves_:
                names |= set(r.druglist.spellings)
            schema = lf.collect_schema()
            systemic = (
                pl.col("systemic")
                if "systemic" in schema
                else pl.col("route").is_null()
                | ~pl.col("route")
                .str.strip_chars()
                .str.to_lowercase()
                .is_in(list(NON_SYSTEMIC_ROUTES))
            )
            drug_norm = pl.col("drug").str.strip_chars().str.to_lowercase()
            rows = lf.select(
                PID, "drug", "route", "start_date", "end_date", systemic.alias("_systemic")
            )
            rows = rows.with_columns(drug_norm.alias("_drug")).filter(
                pl.col("_drug").is_in(list(names))
            )
            rows = _with_index(rows, idx, fixed)
            rows = rows.filter(
                pl.col("start_date").is_null() | (pl.col("start_date") <= pl.col(IDX))
            )
            rows = rows.sort("start_date", nulls_last=False)
            for k, r in leaves_:
                cand = pl.col("_drug").is_in(list(r.druglist.spellings))
                if r.systemic_only:
                    cand = cand & pl.col("_systemic")
                overlap = pl.col("start_date") <= pl.col(IDX)
                if r.overlap_days is not None:
                    overlap = overlap & (
                        pl.col("end_date").is_null()
                        | (pl.col("end_date") >= pl.col(IDX) - pl.duration(days=r.overlap_days))
                    )
                specs.append((k, cand, cand & overlap, pl.col("start_date"), None))
            detail = (
                pl.col("_drug")
                + pl.lit(" (route ")
                + pl.col("route").fill_null("null")
                + pl.lit(")")
            )
        elif table == "procedures":
            cats = list({r.category for _, r in leaves_})
            rows = lf.select(PID, "category", "performed_on").filter(pl.col("category").is_in(cats))
            rows = _with_index(rows, idx, fixed)
            rows = rows.filter(
                pl.col("performed_on").is_null() | (pl.col("performed_on") <= pl.col(IDX))
            )
            rows = rows.sort("performed_on", nulls_last=False)
            for k, r in leaves_:
                cand = pl.col("category") == r.category
                cond = cand & _in_window(pl.col("performed_on"), r.window)
                specs.append((k, cand, cond, pl.col("performed_on"), None))
            detail = pl.col("category").cast(pl.String)
        elif table == "lesions":
            rows = lf.select(PID, "imaged_on", "site", "longest_diameter_cm", "bone_contiguous")
            rows = _with_index(rows, idx, fixed)
            rows = rows.filter(pl.col("imaged_on").is_null() | (pl.col("imaged_on") <= pl.col(IDX)))
            rows = rows.sort("imaged_on", "longest_diameter_cm", nulls_last=False)
            for k, r in leaves_:
                cand = _in_window(pl.col("imaged_on"), r.window).fill_null(False)
                cond = cand & (pl.col("longest_diameter_cm") >= r.min_diameter_cm)
                if r.bone_contiguous is not None:
                    cond = cond & (pl.col("bone_contiguous") == r.bone_contiguous)
                specs.append((k, cand, cond, pl.col("imaged_on"), pl.col("longest_diameter_cm")))
            detail = (
                pl.col("site").fill_null("?")
                + pl.lit(", bone_contiguous ")
                + pl.col("bone_contiguous").cast(pl.String).fill_null("null")
            )
        elif table == "therapies":
            rows = lf.select(
                PID, "line_number", "regimen", "start_date", "end_date", "investigational"
            )
            rows = _with_index(rows, idx, fixed)
            rows = rows.filter(
                pl.col("start_date").is_null() | (pl.col("start_date") <= pl.col(IDX))
            )
            rows = rows.sort("start_date", nulls_last=False)
            for k, r in leaves_:
                cand = pl.lit(True)
                if r.min_line is not None:
                    cand = cand & (pl.col("line_number") >= r.min_line)
                cand = cand.fill_null(False)
                cond = cand
                if r.started_before_index:
                    cond = cond & (pl.col("start_date") < pl.col(IDX))
                if r.ongoing:
                    cond = (
                        cond
                        & (pl.col("start_date") <= pl.col(IDX))
                        & (pl.col("end_date").is_null() | (pl.col("end_date") >= pl.col(IDX)))
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
        else:  # pragma: no cover
            raise ValueError(table)
        return _exist_features(rows, specs, _key(fixed), detail)

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
        for table in ("measurements", "assessments"):
            if self.latest_needs[table] and table in self.present:
                base = base.join(
                    self._latest_features(table, frames[table], idx, fixed),
                    on=_key(fixed),
                    how="left",
                    maintain_order="left",
                )
        for table, lv in self.table_leaves.items():
            if lv and table in self.present:
                base = base.join(
                    self._event_features(table, frames[table], idx, fixed),
                    on=_key(fixed),
                    how="left",
                    maintain_order="left",
                )
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
            inw = _in_window(raw_d, r.window).fill_null(False)
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
            cr_in = _in_window(cr_d, r.creatinine_window).fill_null(False)
            wt_in = _in_window(wt_d, r.weight_window).fill_null(False)
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


def _exist_features(
    rows: pl.LazyFrame, specs: list[tuple], key: str, detail: pl.Expr
) -> pl.LazyFrame:
    """Per (patient, index): for each existence leaf ``(k, cand, cond, date, value)``
    the Kleene ANY of ``cond`` over the rows (``k:truth``), whether any candidate row
    exists (``k:found``) and the date, detail and value of the latest qualifying row.

    Rows arrive sorted by date. Every per-row quantity is materialised as a column first
    so the group-by uses only simple aggregations (max), which polars runs on its fast
    path; the latest qualifying row is the one with the largest row number, whose detail
    is gathered afterwards.
    """
    cols: list[pl.Expr] = [detail.cast(pl.String).alias("_detail")]
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
            cols.append(pl.when(cand.fill_null(False)).then(value).alias(f"{k}:value"))
    df = rows.with_row_index("_r").with_columns(cols).collect(engine="in-memory")
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
            df["_detail"].gather(feat[f"{k}:ri"]).alias(f"{k}:detail"),
        ]
    drop = [c for k, *_r in specs for c in (f"{k}:t", f"{k}:n", f"{k}:ri")]
    return feat.with_columns(out).drop(drop).lazy()


def _code_match(code: pl.Expr, codelist) -> pl.Expr:
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


__all__ = ["Compiler", "Compiled", "LeafInfo", "age_expr", "TESTS"]
