"""Compile a protocol's rules into one polars lazy query over all (patient, index) pairs.

The compiler walks the protocol once to register what each rule leaf needs from which
table; :mod:`feasibility.engine.features` reduces each table in one pass to per-(patient,
index) features; the features are left-joined onto the (patient, index) base and each
criterion becomes a nullable-Boolean expression (true = pass) over them.

Column naming in the evaluated frame: ``<criterion id>`` (status), and per leaf ``k``
(``L0``, ``L1``, ...): ``__k`` truth, ``__k_found``, ``__k_value`` (Float64, canonical
unit), ``__k_date``, ``__k_detail`` (String). Leaves that read sex add ``__k@F`` and
``__k@M`` (the truth as if the patient were a woman / a man); latest-record leaves add
``__k#out`` / ``__k_found#out`` (undated rows left out) and ``__k#lo``, ``__k#hi`` /
``__k_found#in`` (the smallest / largest undated value taken as the most recent), see
:meth:`Compiler._worlds`.

Contract 5.1 ("unknown only when the missing fact could change the answer"):

- a criterion that reads sex is evaluated as F and as M for a patient whose sex is U or
  missing: pass if both pass, fail if both fail, else unknown;
- an undated row is unknown where it would decide the criterion if its date fell in the
  window: event tables give such a row an unknown condition (features.py); an undated
  measurement or assessment is one row in every part of the criterion: the criterion is
  evaluated with the undated rows of each test or item left out or taken as the most
  recent (every combination) and keeps the status all of them agree on;
- the most recent record is the latest day's: values of that day that disagree (no time
  of day orders them) leave the leaf unknown;
- ``if_missing`` is the status when no part reading an event table found a record (found
  false), whatever the rule would answer; an absent table or column makes only the
  parts reading it unknown.

Contract 5.2: a birth_date after the index makes age unknown; a death_date before the
birth_date makes alive_at_index unknown.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from feasibility.engine.features import (
    IDX,
    PAIR,
    PID,
    Scope,
    event_features,
    in_window,
    latest_features,
    pair_key,
    undated_features,
)
from feasibility.engine.logic import NULL_BOOL, k_and, k_not, k_or, k_when
from feasibility.engine.queries import query_features, query_scope
from feasibility.engine.seam import LeafInfo
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


@dataclass
class Compiled:
    """Leaves per criterion and the expressions to evaluate."""

    leaves: dict[str, list[LeafInfo]] = field(default_factory=dict)
    status: dict[str, pl.Expr] = field(default_factory=dict)
    evidence: list[pl.Expr] = field(default_factory=list)


def age_expr() -> pl.Expr:
    """Whole years from birth_date to index_date; the birthday itself counts. A birth_date
    after the index is no age at all: null (contract 5.2)."""
    b, i = pl.col("birth_date"), pl.col(IDX)

    def ymd(d: pl.Expr) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
        return d.dt.year().cast(pl.Int32), d.dt.month().cast(pl.Int32), d.dt.day().cast(pl.Int32)

    years = age_in_years(ymd(b), ymd(i), lambda e: e.cast(pl.Int32))
    return pl.when(b <= i).then(years)


def agree(*statuses: pl.Expr) -> pl.Expr:
    """The common value of nullable Booleans when every one is known and equal, else null."""
    first = statuses[0]
    same = k_and(*[first == other for other in statuses[1:]]) if len(statuses) > 1 else None
    if same is None:
        return first
    return pl.when(same.fill_null(False)).then(first).otherwise(NULL_BOOL)


SEXES = ("F", "M")

#: A criterion reading more tests or items with undated rows than this is evaluated with
#: their undated rows superposed leaf by leaf (``__k``) instead of 3 ** n worlds.
MAX_WORLD_GROUPS = 4

#: One undated-row world: (table, test|item) group -> "lo" / "hi" (its smallest / largest
#: undated value taken as the most recent; a group not named: its undated rows left out);
#: None: each leaf's superposed answer.
World = dict[tuple[str, str], str] | None
WORLD_CHOICES = ("out", "lo", "hi")

#: Contract 5.1 read for the latest-record tables too: an undated measurement or assessment
#: makes the leaf unknown where its value would decide otherwise if it were the most recent.
#: False reads "event table" as the five existence tables only (undated measurements and
#: assessments are then ignored, as a missing record). Kept as one switch because the two
#: readings differ (issue 11; see docs/SCREENING.md "Amendments").
UNDATED_LATEST_ROWS: bool = True


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
        #: (leaf key, rule) of the leaves evaluated from their query (queries.py)
        self.query_leaves: list[tuple[str, Rule]] = []
        self.out = Compiled()
        self._n = 0
        self._crit_cache: dict[tuple, tuple[pl.Expr, pl.Expr]] = {}
        #: leaf keys with per-sex truth columns (__k@F, __k@M); leaf keys with undated-row
        #: worlds (__k#out, __k#in) -> the (table, test|item) whose undated rows they read
        self._sex_leaves: set[str] = set()
        self._world_leaves: dict[str, tuple[str, str]] = {}
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
        if _lookup(_COMBINATORS, rule) is not None:
            return
        key = f"L{self._n}"
        self._n += 1
        info = LeafInfo(key, crit.id, rule, rule.describe())
        translation(rule).register(self, rule, info)
        self.out.leaves[crit.id].append(info)
        self._keys[id(rule), crit.id] = key

    # ------------------------------------------------------------------ features
    def scopes(self, lo: dt.date | None, hi: dt.date | None) -> dict[str, Scope]:
        """The rows of each table the protocol reads at index dates in ``[lo, hi]`` (one
        date in fixed mode): the tests and items of the latest-record leaves within their
        widest window, and the event tables' rows on or before the last index whose code,
        drug or category some leaf matches; undated rows always."""
        if not self._registered:
            self._register()
        out = {"patients": Scope()}
        for table, needs in self.latest_needs.items():
            if needs:
                since = {
                    n: None if lo is None or d is None else lo - dt.timedelta(days=d)
                    for n, d in needs.items()
                }
                firsts = [f for f in since.values() if f is not None]
                low = min(firsts) if len(firsts) == len(since) else None
                out[table] = Scope(frozenset(needs), low, hi, frozenset(since.items()))
        for table, lv in self.table_leaves.items():
            if lv:
                keys = [translation(rule).row_keys(rule) for _, rule in lv]
                union = None if None in keys else frozenset().union(*keys)  # type: ignore[arg-type]
                out[table] = Scope(union, None, hi)
        for _, rule in self.query_leaves:
            q = rule.query
            assert q is not None
            scope = query_scope(q, hi)
            out[q.table] = out[q.table].union(scope) if q.table in out else scope
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
                needs = self.latest_needs[table]
                feats.append(latest_features(needs, table, frames[table], idx, fixed))
                if UNDATED_LATEST_ROWS:
                    feats.append(undated_features(needs, table, frames[table], idx, fixed))
        for table, lv in self.table_leaves.items():
            if lv and table in self.present:
                feats.append(event_features(lv, table, frames[table], idx, fixed))
        for k, rule in self.query_leaves:
            q = rule.query
            if q is not None and q.table in self.present:
                feats.append(query_features(k, q, frames[q.table], idx, fixed))
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
        # the pairs frame of the engine seam: keys, statuses and evidence columns only (the
        # joined features and patient attributes are intermediates: a third of the frame)
        statuses = [crit.id for crit in self.protocol.criteria]
        return out.select(PID, IDX, *statuses, pl.col("^__.*$"))

    # ------------------------------------------------------------------ expressions
    def criterion_expr(self, crit: Criterion, sex: str | None = None) -> tuple[pl.Expr, pl.Expr]:
        """(status, found) for a criterion: status true = pass.

        ``sex`` None: the patient's own sex; for a criterion that reads sex (directly or
        through a referenced criterion) a patient with sex U or null gets the agreement of
        the criterion evaluated as F and as M (contract 5.1). ``sex`` "F"/"M": as if the
        patient had that sex."""
        cache_key = ("crit", crit.id, sex)
        if cache_key in self._crit_cache:
            return self._crit_cache[cache_key]
        if sex is None and self._reads_sex(crit):
            actual, found = self._worlds(crit, None)
            as_f, _ = self._worlds(crit, "F")
            as_m, _ = self._worlds(crit, "M")
            known = pl.col("sex").is_in(list(SEXES)).fill_null(False)
            status = pl.when(known).then(actual).otherwise(agree(as_f, as_m))
        else:
            status, found = self._worlds(crit, sex)
        self._crit_cache[cache_key] = (status, found)
        return status, found

    def _worlds(self, crit: Criterion, sex: str | None) -> tuple[pl.Expr, pl.Expr]:
        """The status every placement of the undated latest-record rows agrees on (contract
        5.1), else unknown.

        An undated measurement or assessment is one row, wherever the criterion reads it
        (ruling 1): each test or item the criterion reads with undated rows is one
        "group", taken out (its undated rows after the index) or with its smallest or its
        largest undated value as the most recent; the criterion is evaluated in every
        combination of the groups (3 ** groups worlds) and keeps the status they all agree
        on. For a comparison the two extremes give every answer any one undated value gives
        (for ``==`` and value sets with three or more different undated values of one test,
        an approximation)."""
        groups = self._groups(crit)
        if not groups or len(groups) > MAX_WORLD_GROUPS:
            return self._status(crit, sex, None)
        statuses = []
        for choice in itertools.product(WORLD_CHOICES, repeat=len(groups)):
            world = {g: c for g, c in zip(groups, choice, strict=True) if c != "out"}
            statuses.append(self._status(crit, sex, world)[0])
        return agree(*statuses), self._status(crit, sex, None)[1]

    def _groups(self, crit: Criterion) -> list[tuple[str, str]]:
        """The (table, test|item) of the criterion's latest-record leaves (present tables)."""
        keys = self._leaf_keys(crit)
        found = {self._world_leaves[k] for k in keys if k in self._world_leaves}
        return sorted(g for g in found if g[0] in self.present)

    def _status(self, crit: Criterion, sex: str | None, world: World) -> tuple[pl.Expr, pl.Expr]:
        """(status, found) in one world. ``if_missing`` is the status when no part of the
        rule that reads an event table found a record (found false; literal, whatever the
        rule would answer without one: ruling 5); parts reading the patients row, another
        criterion or nothing are neutral (found null), a part over an absent table or
        column found "something unknown" (true) and only its own facts are unknown: Kleene
        logic still decides the rest (ruling 4)."""
        prop, found = self._rule_expr(crit, crit.rule_obj, sex, world)
        status = prop if crit.kind == "inclusion" else k_not(prop)
        default = NULL_BOOL if crit.if_missing == "unknown" else pl.lit(crit.if_missing == "pass")
        status = pl.when(found.not_().fill_null(False)).then(default).otherwise(status)
        return status, found

    def _leaf_keys(self, crit: Criterion) -> list[str]:
        return [info.key for info in self.out.leaves.get(crit.id, [])]

    def _reads_sex(self, crit: Criterion) -> bool:
        if any(k in self._sex_leaves for k in self._leaf_keys(crit)):
            return True
        return any(
            isinstance(leaf, Ref) and self._reads_sex(self.protocol.criterion(leaf.criterion))
            for leaf in leaves(crit.rule_obj)
        )

    def _rule_expr(
        self, crit: Criterion, rule: Rule, sex: str | None = None, world: World = None
    ) -> tuple[pl.Expr, pl.Expr]:
        """(truth, found) of ``rule`` within criterion ``crit``: a combinator combines its
        parts' (see ``_COMBINATORS``); a leaf reads the columns its evidence made.

        found (for ``if_missing``): true if the part found a record (or its facts are
        unknown: an absent table or column), false if it reads an event table and found
        none, null if it reads none (patients row, reference, undecidable). ``world``:
        None, undated latest rows superposed (``__k``); else the groups taken in."""
        combine = _lookup(_COMBINATORS, rule)
        if combine is not None:
            return combine(self, crit, rule, sex, world)
        key = self._keys[id(rule), crit.id]
        if self.absent_columns and columns_needed(rule) & self.absent_columns:
            return NULL_BOOL, pl.lit(True)  # found: no if_missing default over an absent column
        truth, suffix = f"__{key}", ""
        if sex is not None and key in self._sex_leaves:
            truth += f"@{sex}"
        if world is not None and key in self._world_leaves:
            choice = world.get(self._world_leaves[key], "out")
            suffix = f"#{choice}"
            return pl.col(truth + suffix), translation(rule).found(
                self, rule, key, "#out" if choice == "out" else "#in"
            )
        return pl.col(truth), translation(rule).found(self, rule, key, suffix)

    def _leaf_evidence(self, info: LeafInfo) -> list[pl.Expr]:
        """Columns __k, __k_found, __k_value, __k_date, __k_detail for one leaf."""
        return translation(info.rule).evidence(self, info.rule, info.key)


# ---------------------------------------------------------------------- translations
#
# One translation per rule node type. A combinator (And, Or, AnyPresent, Not, When, Ref)
# is a function combining its parts' (truth, found) expressions; a leaf is a
# LeafTranslation: what it needs from the tables (``register``: tests and windows,
# event-table leaves, unit and threshold for the evidence), which rows of its table it
# reads (``row_keys``) and its evidence columns (``evidence``). A new rule type is one
# entry below (plus, for a new event table, its row preparation in features.py).

Truths = tuple[pl.Expr, pl.Expr]
_NONE_F = pl.lit(None, pl.Float64)
_NONE_D = pl.lit(None, pl.Date)
_NONE_S = pl.lit(None, pl.String)


def _parts(c: Compiler, crit: Criterion, rule: Any, sex: str | None, world: World) -> list[Truths]:
    return [c._rule_expr(crit, p, sex, world) for p in rule.parts]


def found_any(*founds: pl.Expr) -> pl.Expr:
    """Found of a combination: true if any part found a record, else false if some part
    reads an event table (found false), else null (neutral parts only)."""
    return pl.max_horizontal(*founds) if len(founds) > 1 else founds[0]


def _and(c: Compiler, crit: Criterion, rule: Any, sex: str | None, world: World) -> Truths:
    parts = _parts(c, crit, rule, sex, world)
    return k_and(*[p for p, _ in parts]), found_any(*[f for _, f in parts])


def _or(c: Compiler, crit: Criterion, rule: Any, sex: str | None, world: World) -> Truths:
    parts = _parts(c, crit, rule, sex, world)
    return k_or(*[p for p, _ in parts]), found_any(*[f for _, f in parts])


def _any_present(c: Compiler, crit: Criterion, rule: Any, sex: str | None, world: World) -> Truths:
    parts = _parts(c, crit, rule, sex, world)
    truths = [p for p, _ in parts]
    all_null = k_and(*[t.is_null() for t in truths])
    truth = (
        pl.when(k_or(*truths).fill_null(False))
        .then(pl.lit(True))
        .when(all_null)
        .then(NULL_BOOL)
        .otherwise(pl.lit(False))
    )
    return truth, found_any(*[f for _, f in parts])


def _not(c: Compiler, crit: Criterion, rule: Any, sex: str | None, world: World) -> Truths:
    p, f = c._rule_expr(crit, rule.part, sex, world)
    return k_not(p), f


def _when(c: Compiler, crit: Criterion, rule: Any, sex: str | None, world: World) -> Truths:
    cond, fc = c._rule_expr(crit, rule.condition, sex, world)
    then, ft = c._rule_expr(crit, rule.then, sex, world)
    # a condition that is false makes the rule not applicable: decided whatever the records
    # (neither found nor missing)
    found = pl.when(cond.not_().fill_null(False)).then(NULL_BOOL).otherwise(found_any(fc, ft))
    return k_when(cond, then), found


def _ref(c: Compiler, crit: Criterion, rule: Any, sex: str | None, world: World) -> Truths:
    # another criterion's status; it is not a record of this one (neutral for if_missing)
    return c.criterion_expr(c.protocol.criterion(rule.criterion), sex)[0], NULL_BOOL


#: Combinator node type -> how its (truth, found) is made from its parts'.
_COMBINATORS: dict[type, Callable[[Compiler, Criterion, Any, str | None, World], Truths]] = {
    And: _and,
    Or: _or,
    AnyPresent: _any_present,
    Not: _not,
    When: _when,
    Ref: _ref,
}


class LeafTranslation:
    """How the polars engine evaluates one leaf rule type (see the section comment)."""

    def register(self, c: Compiler, rule: Any, info: LeafInfo) -> None:
        """Record what the leaf needs (default: only patient attributes)."""

    def row_keys(self, rule: Any) -> frozenset[Any] | None:
        """The keys of its event table's rows the leaf reads (None: every row)."""
        return None

    def evidence(self, c: Compiler, rule: Any, k: str) -> list[pl.Expr]:
        """Columns __k, __k_found, __k_value, __k_date, __k_detail (and variants)."""
        raise NotImplementedError

    def found(self, c: Compiler, rule: Any, k: str, suffix: str) -> pl.Expr:
        """Whether the leaf found a record, for ``if_missing`` (see ``Compiler._rule_expr``;
        ``suffix``: its undated-row world). Default: neutral (reads no event table)."""
        return NULL_BOOL


class _Undecidable(LeafTranslation):
    def evidence(self, c: Compiler, rule: Any, k: str) -> list[pl.Expr]:
        return _cols(k, NULL_BOOL, pl.lit(False), _NONE_F, _NONE_D, pl.lit(rule.reason))


class _Alive(LeafTranslation):
    def evidence(self, c: Compiler, rule: Any, k: str) -> list[pl.Expr]:
        death, birth = pl.col("death_date"), pl.col("birth_date")
        truth = death.is_null() | (death > pl.col(IDX))
        # contract 5.2: a death before birth is no fact at all -> unknown
        impossible = (death < birth).fill_null(False)
        truth = pl.when(impossible).then(NULL_BOOL).otherwise(truth)
        # patient attributes are not "records": they never stop if_missing from applying,
        # except an impossible death date, which is a fact present but unusable
        return _cols(k, truth, impossible, _NONE_F, pl.col("death_date"), _NONE_S)


class _Age(LeafTranslation):
    def register(self, c: Compiler, rule: Any, info: LeafInfo) -> None:
        info.unit, info.threshold, info.op = "years", rule.value, rule.op

    def evidence(self, c: Compiler, rule: Any, k: str) -> list[pl.Expr]:
        age = age_expr()
        truth = compare(age, rule.op, rule.value)
        return _cols(k, truth, pl.lit(False), age.cast(pl.Float64), pl.col("birth_date"), _NONE_S)


class _Sex(LeafTranslation):
    def register(self, c: Compiler, rule: Any, info: LeafInfo) -> None:
        c._sex_leaves.add(info.key)

    def evidence(self, c: Compiler, rule: Any, k: str) -> list[pl.Expr]:
        known = pl.col("sex").is_in(list(SEXES)).fill_null(False)
        truth = pl.when(known).then(pl.col("sex").is_in(list(rule.values))).otherwise(NULL_BOOL)
        variants = [pl.lit(s in rule.values).alias(f"__{k}@{s}") for s in SEXES]
        return _cols(k, truth, pl.lit(False), _NONE_F, _NONE_D, pl.col("sex")) + variants


class _Latest(LeafTranslation):
    def register(self, c: Compiler, rule: Any, info: LeafInfo) -> None:
        c._need_latest(rule.table, rule.name, rule.window)
        info.unit, info.threshold, info.op = rule.unit, rule.value, rule.op
        c._world_leaves[info.key] = (rule.table, rule.name)

    def found(self, c: Compiler, rule: Any, k: str, suffix: str) -> pl.Expr:
        if rule.table not in c.present:
            return pl.lit(True)  # its facts are unknown, not missing
        return pl.col(f"__{k}_found{suffix}")

    def evidence(self, c: Compiler, rule: Any, k: str) -> list[pl.Expr]:
        r = rule
        if r.table not in c.present:
            return _cols(k, NULL_BOOL, pl.lit(False), _NONE_F, _NONE_D, _NONE_S) + _worlds(
                k, NULL_BOOL, pl.lit(False), NULL_BOOL, NULL_BOOL, pl.lit(False)
            )
        prefix = "m" if r.table == "measurements" else "a"
        raw_v, raw_d = pl.col(f"{prefix}:{r.name}:value"), pl.col(f"{prefix}:{r.name}:date")
        inw = in_window(raw_d, r.window).fill_null(False)
        d = pl.when(inw).then(raw_d).otherwise(_NONE_D)
        v = pl.when(inw).then(raw_v)
        truth_of = self.truth(r)
        # the largest and the smallest value of the latest day: when they disagree, which
        # record came last (no time of day) could change the answer: unknown (ruling 6)
        dated = agree(truth_of(v), truth_of(pl.when(inw).then(pl.col(f"{prefix}:{r.name}:vmin"))))
        # contract 5.1: undated rows of this test/item, each as if it were the most recent
        undated = _undated(f"{prefix}:{r.name}:undated", r.table)
        has_u = (undated.list.len().fill_null(0) > 0).fill_null(False)
        u_true = undated.list.eval(truth_of(pl.element()).fill_null(False)).list.all()
        u_false = undated.list.eval((~truth_of(pl.element())).fill_null(False)).list.all()
        u_truth = (
            pl.when(u_true)
            .then(pl.lit(True))
            .when(u_false)
            .then(pl.lit(False))
            .otherwise(NULL_BOOL)
        )
        truth = pl.when(has_u).then(agree(dated, u_truth)).otherwise(dated)
        found = inw | has_u
        # the worlds: undated rows left out; the smallest / largest undated value the most
        # recent (one undated row alone, so an any_present part that one of them passes is
        # not lost in their disagreement)
        worlds = _worlds(
            k,
            dated,
            inw,
            pl.when(has_u).then(truth_of(undated.list.min())).otherwise(dated),
            pl.when(has_u).then(truth_of(undated.list.max())).otherwise(dated),
            inw | has_u,
        )
        if r.table == "measurements":
            num = v.cast(pl.Float64)
            return _cols(k, truth, found, num, d, _NONE_S) + worlds
        text = v.cast(pl.String)
        num = text.cast(pl.Float64, strict=False)
        return _cols(k, truth, found, num, d, text) + worlds

    @staticmethod
    def truth(r: Latest) -> Callable[[pl.Expr], pl.Expr]:
        """The leaf's comparison as a function of a value expression (null value -> null)."""
        op, value = r.op or ">=", r.value or 0.0
        if r.table == "measurements":
            return lambda v: compare(v.cast(pl.Float64), op, value)
        if r.values is not None:
            values = list(r.values)
            return lambda v: (
                pl.when(v.is_null()).then(NULL_BOOL).otherwise(v.cast(pl.String).is_in(values))
            )
        return lambda v: compare(v.cast(pl.String).cast(pl.Float64, strict=False), op, value)


class _CockcroftGault(LeafTranslation):
    def register(self, c: Compiler, rule: Any, info: LeafInfo) -> None:
        c._need_latest("measurements", "creatinine", rule.creatinine_window)
        c._need_latest("measurements", "weight", rule.weight_window)
        info.unit, info.threshold, info.op = "mL/min", rule.value, rule.op
        c._sex_leaves.add(info.key)

    def found(self, c: Compiler, rule: Any, k: str, suffix: str) -> pl.Expr:
        if "measurements" not in c.present:
            return pl.lit(True)
        return pl.col(f"__{k}_found")

    def evidence(self, c: Compiler, rule: Any, k: str) -> list[pl.Expr]:
        r = rule
        if "measurements" not in c.present:
            return _cols(k, NULL_BOOL, pl.lit(False), _NONE_F, _NONE_D, _NONE_S) + [
                NULL_BOOL.alias(f"__{k}@{s}") for s in SEXES
            ]
        cr_d, wt_d = pl.col("m:creatinine:date"), pl.col("m:weight:date")
        cr_in = in_window(cr_d, r.creatinine_window).fill_null(False)
        wt_in = in_window(wt_d, r.weight_window).fill_null(False)
        cr = pl.when(cr_in & (pl.col("m:creatinine:value") > 0)).then(pl.col("m:creatinine:value"))
        wt = pl.when(wt_in).then(pl.col("m:weight:value"))
        # the smallest values of the latest days (the largest are cr, wt): values of one day
        # that disagree leave the answer unknown where they decide differently (ruling 6)
        cr_min = pl.when(cr.is_not_null()).then(pl.col("m:creatinine:vmin"))
        wt_min = pl.when(wt.is_not_null()).then(pl.col("m:weight:vmin"))
        # contract 5.1: undated creatinine / weight values, as if the most recent. The
        # clearance falls with creatinine and rises with weight, so the extreme values
        # (lowest and highest clearance any choice gives) decide whether they matter.
        u_cr = _undated("m:creatinine:undated", "measurements").list
        u_wt = _undated("m:weight:undated", "measurements").list
        has_u = (u_cr.len().fill_null(0) > 0) | (u_wt.len().fill_null(0) > 0)
        cr_hi = pl.when(cr.is_not_null()).then(pl.max_horizontal(cr, u_cr.max()))
        cr_lo = pl.when(cr.is_not_null()).then(pl.min_horizontal(cr_min, u_cr.min()))
        wt_hi = pl.when(wt.is_not_null()).then(pl.max_horizontal(wt, u_wt.max()))
        wt_lo = pl.when(wt.is_not_null()).then(pl.min_horizontal(wt_min, u_wt.min()))

        def clearance(creat: pl.Expr, weight: pl.Expr, factor: pl.Expr) -> pl.Expr:
            return creatinine_clearance(
                age_expr(), weight, creat, factor, lambda e: e.cast(pl.Float64)
            )

        def truth_for(factor: pl.Expr) -> pl.Expr:
            low = compare(clearance(cr_hi, wt_lo, factor), r.op, r.value)
            high = compare(clearance(cr_lo, wt_hi, factor), r.op, r.value)
            return agree(low, high)

        female, male = pl.lit(CG_SEX_FACTOR["F"]), pl.lit(CG_SEX_FACTOR["M"])
        sex = pl.col("sex")
        sex_factor = pl.when(sex == "F").then(female).when(sex == "M").then(male)
        crcl = clearance(cr, wt, sex_factor)
        crcl_f = clearance(cr, wt, female)
        crcl_m = clearance(cr, wt, male)
        detail = (
            pl.lit("creatinine ")
            + cr.round(3).cast(pl.String).fill_null("missing")
            + pl.lit(" mg/dL, weight ")
            + wt.round(2).cast(pl.String).fill_null("missing")
            + pl.lit(" kg, age ")
            + age_expr().cast(pl.String).fill_null("missing")
            + pl.lit(", sex ")
            + pl.col("sex").cast(pl.String).fill_null("null")
            + pl.when(pl.col("sex").is_in(list(SEXES)).fill_null(False))
            .then(pl.lit(""))
            .otherwise(
                pl.lit(" (as F ")
                + crcl_f.round(1).cast(pl.String).fill_null("missing")
                + pl.lit(", as M ")
                + crcl_m.round(1).cast(pl.String).fill_null("missing")
                + pl.lit(" mL/min)")
            )
        )
        date = pl.max_horizontal(pl.when(cr_in).then(cr_d), pl.when(wt_in).then(wt_d))
        as_f, as_m = truth_for(female), truth_for(male)
        variants = [as_f.alias(f"__{k}@F"), as_m.alias(f"__{k}@M")]
        # the leaf's own evidence for sex U/null: what both sexes agree on (contract 5.1)
        known = pl.col("sex").is_in(list(SEXES)).fill_null(False)
        truth = pl.when(known).then(truth_for(sex_factor)).otherwise(agree(as_f, as_m))
        # found: a dated value in its window, or an undated one (which may be the latest)
        return (
            _cols(k, truth, cr_in | wt_in | has_u.fill_null(False), crcl, date, detail) + variants
        )


class _EventLeaf(LeafTranslation):
    """A leaf over an event table: evaluated by that table's group-by (features.py)."""

    def register(self, c: Compiler, rule: Any, info: LeafInfo) -> None:
        c.table_leaves[next(iter(rule.tables()))].append((info.key, rule))

    def found(self, c: Compiler, rule: Any, k: str, suffix: str) -> pl.Expr:
        # a row that qualifies or could qualify (truth not false); an absent table: unknown
        return pl.col(f"__{k}").fill_null(True)

    def evidence(self, c: Compiler, rule: Any, k: str) -> list[pl.Expr]:
        if next(iter(rule.tables())) not in c.present:
            return _cols(k, NULL_BOOL, pl.lit(False), _NONE_F, _NONE_D, _NONE_S)
        return _cols(
            k,
            # no row at all for this patient-index (left join miss) means absent: false
            pl.when(pl.col(f"{k}:found").is_null())
            .then(pl.lit(False))
            .otherwise(pl.col(f"{k}:truth")),
            pl.col(f"{k}:found").fill_null(False),
            self.value(k),
            pl.col(f"{k}:date"),
            pl.col(f"{k}:detail"),
        )

    def value(self, k: str) -> pl.Expr:
        return _NONE_F


class _Diagnosis(_EventLeaf):
    def row_keys(self, rule: Any) -> frozenset[Any] | None:
        return frozenset([rule.codelist])


class _Medication(_EventLeaf):
    def row_keys(self, rule: Any) -> frozenset[Any] | None:
        return frozenset(rule.druglist.spellings)


class _Procedure(_EventLeaf):
    def row_keys(self, rule: Any) -> frozenset[Any] | None:
        return frozenset([rule.category])


class _Lesion(_EventLeaf):
    def register(self, c: Compiler, rule: Any, info: LeafInfo) -> None:
        super().register(c, rule, info)
        info.unit, info.threshold, info.op = "cm", rule.min_diameter_cm, ">="

    def value(self, k: str) -> pl.Expr:
        return pl.col(f"{k}:value")


class _Query(_EventLeaf):
    """A leaf evaluated from its query (``Records``): its features by queries.py."""

    def register(self, c: Compiler, rule: Any, info: LeafInfo) -> None:
        c.query_leaves.append((info.key, rule))
        cmp = rule.comparison
        if cmp is not None:
            info.unit, info.threshold, info.op = cmp.unit, cmp.value, cmp.op

    def found(self, c: Compiler, rule: Any, k: str, suffix: str) -> pl.Expr:
        # a sure or maybe row of its query (queries.py); an absent table: unknown, not missing
        if rule.query.table not in c.present:
            return pl.lit(True)
        return pl.col(f"__{k}_found")

    def evidence(self, c: Compiler, rule: Any, k: str) -> list[pl.Expr]:
        if rule.query.table not in c.present:
            return _cols(k, NULL_BOOL, pl.lit(False), _NONE_F, _NONE_D, _NONE_S)
        found = pl.col(f"{k}:found")
        truth = pl.when(found.is_null()).then(pl.lit(False)).otherwise(pl.col(f"{k}:truth"))
        if rule.query.pick.kind in ("max", "latest"):  # no row at all: no value, unknown
            truth = pl.when(found.is_null()).then(NULL_BOOL).otherwise(pl.col(f"{k}:truth"))
        if rule.query.pick.kind == "count":  # no row at all: a count of 0
            zero = pl.lit(compare(0, rule.comparison.op, rule.comparison.value))
            truth = pl.when(found.is_null()).then(zero).otherwise(pl.col(f"{k}:truth"))
        return _cols(
            k, truth, found.fill_null(False), pl.col(f"{k}:value"), pl.col(f"{k}:date"), _NONE_S
        )


#: Leaf node type -> its translation.
LEAVES: dict[type, LeafTranslation] = {
    Records: _Query(),
    Undecidable: _Undecidable(),
    Alive: _Alive(),
    Age: _Age(),
    Sex: _Sex(),
    Latest: _Latest(),
    CockcroftGault: _CockcroftGault(),
    Diagnosis: _Diagnosis(),
    Medication: _Medication(),
    Procedure: _Procedure(),
    Lesion: _Lesion(),
    Therapy: _EventLeaf(),
}


def _lookup(table: dict[type, Any], rule: Rule) -> Any:
    """The entry for ``rule``'s class (or its nearest base class that has one)."""
    for cls in type(rule).__mro__:
        if cls in table:
            return table[cls]
    return None


def translation(rule: Rule) -> LeafTranslation:
    """The leaf translation of ``rule``; a clear error for a rule type without one."""
    found = _lookup(LEAVES, rule)
    if found is None:
        raise TypeError(f"the polars engine has no translation for {type(rule).__name__} rules")
    return found


def _undated(column: str, table: str) -> pl.Expr:
    """The undated values of a test/item, or an empty (null) list when switched off."""
    if UNDATED_LATEST_ROWS:
        return pl.col(column)
    inner = pl.Float64 if table == "measurements" else pl.String
    return pl.lit(None, dtype=pl.List(inner))


def _worlds(k: str, out, found_out, low, high, found_in) -> list[pl.Expr]:
    """The latest leaf's truth with undated rows left out (``#out``) and with the smallest
    (``#lo``) or largest (``#hi``) undated value as the most recent."""
    return [
        out.cast(pl.Boolean).alias(f"__{k}#out"),
        found_out.cast(pl.Boolean).alias(f"__{k}_found#out"),
        low.cast(pl.Boolean).alias(f"__{k}#lo"),
        high.cast(pl.Boolean).alias(f"__{k}#hi"),
        found_in.cast(pl.Boolean).alias(f"__{k}_found#in"),
    ]


def _cols(k: str, truth, found, value, date, detail) -> list[pl.Expr]:
    return [
        truth.cast(pl.Boolean).alias(f"__{k}"),
        found.cast(pl.Boolean).alias(f"__{k}_found"),
        value.cast(pl.Float64).alias(f"__{k}_value"),
        date.cast(pl.Date).alias(f"__{k}_date"),
        detail.cast(pl.String).alias(f"__{k}_detail"),
    ]


__all__ = [
    "Compiler",
    "Compiled",
    "LEAVES",
    "LeafInfo",
    "LeafTranslation",
    "age_expr",
    "translation",
    "IDX",
    "PID",
]
