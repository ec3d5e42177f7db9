"""The reference engine: a plain-Python interpreter of the rule nodes, kept for the tests.

It is written from the contract (``shared/contract.md``, sections 2, 3 and 5) and the
docstrings of :mod:`feasibility.protocol`, not from the polars compiler, so the two engines
check each other: the spec tests (``tests/spec``) run both on tiny tables, and
``tests/test_reference_engine.py`` compares them on the committed sample. It is slow
(one Python loop per patient, index and criterion) and returns statuses only (no evidence
leaves), which the seam (:mod:`feasibility.engine.seam`) allows.

How a criterion is decided, in the contract's words:

- Each rule node is a three-valued proposition (``True``/``False``/``None`` = unknown) about
  one patient at one index date, combined with Kleene logic (``And``/``Or``/``Not``),
  ``AnyPresent`` (unknown only when every part is), ``When`` (applicability) and ``Ref``
  (another criterion's status).
- An inclusion passes when its rule is true; an exclusion passes when its rule is false.
  ``if_missing`` is the status when no part of the rule found a record (a record of the
  part's test, item, code list, drug list, category, lesion or therapy in its window).
  Parts that read no event table (the patients row, a reference, an undecidable fact) are
  neutral; a ``When`` whose condition is false is "not applicable", not "missing"; a part
  whose table or column is absent has unknown facts, so ``if_missing`` does not apply.
- Contract 5.1, "unknown only when the missing fact could change the answer": a patient
  whose sex is not F or M is screened as F and as M (a criterion referring to one that
  reads sex too, its references then read as F and as M); an event row without a date is
  placed on each date that matters (just before the index, on it, after it; never after
  its own end date). The criterion's status is the common status of every such world,
  else unknown (more than ``MAX_UNDATED`` relevant undated rows: unknown). (A therapy line without a start but ended before the index therefore
  started before the index: previously_treated passes.)
- Windows: ``index - days <= date <= index`` (``days=None``: any date on or before index);
  "most recent" is the latest record in the window; records on the same latest day that
  disagree leave the answer unknown.

The registry hands over normalised tables (``feasibility.registry``): codes without dots in
upper case, canonical drug names and lower-case routes, measurements in their canonical
unit with implausible values set aside, assessment values in lower case, lesion diameters
above 50 cm set to null, exact duplicate rows once. The engine reads those rows as they
are and never re-derives them.
"""

from __future__ import annotations

import datetime as dt
import itertools
import operator
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from feasibility.engine.index import IndexEvents
from feasibility.engine.seam import IDX, PID, EngineRun
from feasibility.errors import FeasibilityError
from feasibility.protocol import (
    GRADED_ITEMS,
    Age,
    Alive,
    And,
    AnyPresent,
    CategoryFilter,
    CockcroftGault,
    CodeFilter,
    Comparison,
    Criterion,
    DrugFilter,
    EndsAfter,
    Filter,
    FlagFilter,
    ItemFilter,
    MinValue,
    Not,
    Or,
    Protocol,
    Query,
    Ref,
    Rule,
    Sex,
    StartedBy,
    TestFilter,
    Undecidable,
    ValueSet,
    When,
    Window,
    columns_needed,
    whole_years,
)
from feasibility.protocol.formulas import CG_SEX_FACTOR, creatinine_clearance
from feasibility.schema import NON_SYSTEMIC_ROUTES, TABLES, canonical_drug, regimen_ingredients

Truth = bool | None
Row = dict[str, Any]

#: The date that places a row of each event table in time (contract section 1).
DATE_OF: dict[str, str] = {
    "diagnoses": "diagnosed_on",
    "measurements": "measured_on",
    "assessments": "assessed_on",
    "medications": "start_date",
    "procedures": "performed_on",
    "lesions": "imaged_on",
    "therapies": "start_date",
}
#: Tables whose rows also have an end date (a missing start is never after the end).
END_OF = {"medications": "end_date", "therapies": "end_date"}

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
}
STATUS = {True: "pass", False: "fail", None: "unknown"}
_DAY = dt.timedelta(days=1)
#: More undated rows than this in one criterion: the criterion is unknown rather than
#: trying every placement (3 ** n worlds).
MAX_UNDATED = 7


# ----------------------------------------------------------------------------- logic


def k_and(values: Iterable[Truth]) -> Truth:
    """Kleene AND: false if any part is false, else unknown if any is unknown, else true."""
    out: Truth = True
    for v in values:
        if v is False:
            return False
        if v is None:
            out = None
    return out


def k_or(values: Iterable[Truth]) -> Truth:
    """Kleene OR: true if any part is true, else unknown if any is unknown, else false."""
    out: Truth = False
    for v in values:
        if v is True:
            return True
        if v is None:
            out = None
    return out


def k_not(value: Truth) -> Truth:
    return None if value is None else not value


def any_present(values: Iterable[Truth]) -> Truth:
    """True if any part is true; false if some part is known and all known parts are false;
    unknown when every part is unknown."""
    known = [v for v in values if v is not None]
    if not known:
        return None
    return any(known)


def compare(value: Any, op: str, threshold: Any) -> Truth:
    if value is None:
        return None
    return _OPS[op](value, threshold)


def common(statuses: Iterable[Truth]) -> Truth:
    """The status every world agrees on, else unknown."""
    seen = set(statuses)
    return seen.pop() if len(seen) == 1 else None


def in_window(date: dt.date | None, window: Window, index: dt.date) -> Truth:
    if date is None:
        return None
    if date > index:
        return False
    return window.days is None or date >= index - dt.timedelta(days=window.days)


# ----------------------------------------------------------------------------- data


@dataclass
class Patient:
    """One patient's rows: the patients row and, per event table, its rows (each a dict)."""

    pid: str
    sex: str | None
    birth: dt.date | None
    death: dt.date | None
    rows: dict[str, list[Row]] = field(default_factory=lambda: defaultdict(list))
    _undated: dict[str, list[Row]] = field(default_factory=dict)

    def named(self, table: str, name: str) -> list[Row]:
        """The measurement or assessment rows of one test or item."""
        key = f"{table}:{name}"
        if key not in self._undated:
            column = _NAME_COLUMN[table]
            self._undated[key] = [r for r in self.rows.get(table, []) if r.get(column) == name]
        return self._undated[key]

    def undated(self, table: str) -> list[Row]:
        """The rows of ``table`` without a date (contract 5.1)."""
        if table not in self._undated:
            date = DATE_OF[table]
            self._undated[table] = [r for r in self.rows.get(table, []) if r.get(date) is None]
        return self._undated[table]


@dataclass
class Data:
    """The registry as the reference engine reads it (kept as the run's state)."""

    registry: Any
    present: set[str]
    absent_columns: set[tuple[str, str]]
    order: list[str]
    patients: dict[str, Patient]
    loaded: dict[str, set[str]] = field(default_factory=dict)

    def ensure(self, tables: set[str], names: dict[str, set[str]]) -> None:
        """Read the rows of ``tables`` not read yet; of measurements and assessments only
        the tests and items in ``names`` (the others are never looked at)."""
        for table in sorted(tables - {"patients"}):
            key = _NAME_COLUMN.get(table)
            wanted = names.get(table, set()) if key else {""}
            todo = wanted - self.loaded.get(table, set())
            if not todo:
                continue
            self.loaded.setdefault(table, set()).update(todo)
            if table not in self.present:
                continue
            lf = self.registry.tables[table]
            schema = lf.collect_schema()
            cols = [c for c in TABLES[table] if c in schema and c != "unit"]
            lf = lf.select([pl.col(c).cast(pl.String) if _stringy(schema[c]) else c for c in cols])
            if key:
                lf = lf.filter(pl.col(key).is_in(sorted(todo)))
            for row in lf.collect().iter_rows(named=True):
                p = self.patients.get(row["patient_id"])
                if p is not None:
                    p.rows[table].append(row)
                    p._undated.clear()


#: The column naming what a measurement or assessment row records.
_NAME_COLUMN = {"measurements": "test", "assessments": "item"}


def _stringy(dtype: pl.DataType) -> bool:
    return isinstance(dtype, pl.Categorical | pl.Enum)


def read_patients(registry: Any) -> Data:
    if not registry.has("patients"):
        raise FeasibilityError("registry has no patients table")
    missing = getattr(registry, "missing_columns", {}) or {}
    absent = {(t, c) for t, cols in missing.items() for c in cols}
    lf = registry.tables["patients"]
    schema = lf.collect_schema()
    cols = [c for c in ("patient_id", "sex", "birth_date", "death_date") if c in schema]
    for c in ("sex", "birth_date", "death_date"):
        if c not in schema:
            absent.add(("patients", c))
    df = lf.select([pl.col(c).cast(pl.String) if _stringy(schema[c]) else c for c in cols])
    order: list[str] = []
    patients: dict[str, Patient] = {}
    for row in df.collect().iter_rows(named=True):
        pid = row["patient_id"]
        if pid is None or pid in patients:
            continue
        order.append(pid)
        patients[pid] = Patient(pid, row.get("sex"), row.get("birth_date"), row.get("death_date"))
    present = {t for t in TABLES if registry.has(t)}
    return Data(registry, present, absent, order, patients)


# ----------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class Answer:
    """A node's truth and whether it found a record (for ``if_missing``): true or false
    for the parts that read an event table, None for the parts that do not (the patients
    row, another criterion, a fact no registry holds), which never make a rule "missing"."""

    truth: Truth
    found: bool | None


class World:
    """One patient at one index date, with one choice of sex and of a date for each
    undated row (contract 5.1): everything a rule node reads."""

    def __init__(
        self,
        data: Data,
        patient: Patient,
        index: dt.date,
        refer: Callable[[str, str | None], Truth],
        sex: str | None,
        placed: dict[int, dt.date],
    ) -> None:
        self.data = data
        self.p = patient
        self.index = index
        self.refer = refer
        self.sex = sex
        self.placed = placed

    # -- reading rows -------------------------------------------------------------------

    def usable(self, leaf: Rule) -> bool:
        """False when a table or column the leaf needs is absent (its facts unknown)."""
        if any(t not in self.data.present for t in leaf.tables()):
            return False
        return not (columns_needed(leaf) & self.data.absent_columns)

    def date(self, table: str, row: Row) -> dt.date | None:
        d = row.get(DATE_OF[table])
        if d is None:
            return self.placed.get(id(row))
        return d

    def rows(self, table: str) -> list[Row]:
        return self.p.rows.get(table, [])

    # -- nodes ----------------------------------------------------------------------------

    def eval(self, rule: Rule) -> Answer:
        fn = _NODES.get(type(rule))
        if fn is None and rule.query is not None:
            fn = _rows_rule  # a row-reading leaf: its query, interpreted generically
        if fn is None:
            raise FeasibilityError(f"reference engine: no translation for {type(rule).__name__}")
        return fn(self, rule)

    def age(self) -> int | None:
        b = self.p.birth
        if b is None or ("patients", "birth_date") in self.data.absent_columns or b > self.index:
            return None
        return whole_years(b, self.index)

    def selected(self, q: Query) -> Iterable[Row]:
        """The rows of the query's table that its selectors keep (a test, an item, a code
        list, a drug list, a category): the records of the leaf."""
        table = q.table
        named = [f.name for f in q.selectors if isinstance(f, TestFilter | ItemFilter)]
        rows = self.p.named(table, named[0]) if named else self.rows(table)
        for row in rows:
            if all(_match(f, self, table, row) is True for f in q.selectors):
                yield row

    def qualifies(self, q: Query, row: Row) -> Truth:
        """A selected row's conditions and window: true, false or unknown (a null field; a
        missing date, when the row is not placed)."""
        parts = [_match(f, self, q.table, row) for f in q.conditions]
        if q.window is not None:
            parts.append(in_window(self.date(q.table, row), q.window, self.index))
        return k_and(parts)

    def values(self, q: Query) -> Iterable[tuple[Row, Truth, Any]]:
        """(row, qualifies, value of the pick's column) of the selected rows with a value."""
        assert q.pick.of is not None
        for row in self.selected(q):
            v = row.get(q.pick.of)
            if v is not None:
                yield row, self.qualifies(q, row), v

    def latest(self, q: Query) -> tuple[list[Any] | None, list[Any]]:
        """The values on the latest day in the window (None: no record) and the values of
        rows that might qualify (a null filtered field) on that day or later.

        An undated row placed on the day of a dated one is taken as the later of them: the
        world where the dated row came later is the one where the undated row is placed
        before that day (or after the index), so every order is still tried, and one row
        is one value in every part of a criterion (ruling 1). Dated rows on the same day
        have no order: all their values are returned (ruling 6)."""
        best: dt.date | None = None
        values: list[Any] = []
        placed_on_best: list[Any] = []
        maybe: list[tuple[dt.date | None, Any]] = []
        for row, ok, v in self.values(q):
            d = self.date(q.table, row)
            if ok is None:
                maybe.append((d, v))
            if not ok:
                continue
            assert d is not None
            placed = row.get(DATE_OF[q.table]) is None
            if best is None or d > best:
                best, values, placed_on_best = d, [v], ([v] if placed else [])
            elif d == best:
                values.append(v)
                if placed:
                    placed_on_best.append(v)
        if placed_on_best:
            values = placed_on_best
        possible = [v for d, v in maybe if d is None or best is None or d >= best]
        return (values if best is not None else None), possible


def _alive(w: World, r: Alive) -> Answer:
    if not w.usable(r):
        return Answer(None, None)
    death, birth = w.p.death, w.p.birth
    if death is None:
        return Answer(True, None)
    if birth is not None and death < birth:
        return Answer(None, None)  # contract 5.2: an impossible death date decides nothing
    return Answer(death > w.index, None)


def _age(w: World, r: Age) -> Answer:
    return Answer(compare(w.age(), r.op, r.value), None)


def _sex(w: World, r: Sex) -> Answer:
    if w.sex not in ("F", "M") or ("patients", "sex") in w.data.absent_columns:
        return Answer(None, None)
    return Answer(w.sex in r.values, None)


def _rows_rule(w: World, r: Rule) -> Answer:
    """Any leaf stating its query (:mod:`feasibility.protocol.pieces`): the selected rows,
    their conditions and window, reduced by the pick (see ``Records``)."""
    if not w.usable(r):
        return Answer(None, True)
    q = r.query
    assert q is not None
    return _PICKS[q.pick.kind](w, q)


def _pick_any(w: World, q: Query) -> Answer:
    return _any_row([w.qualifies(q, row) for row in w.selected(q)])


def _pick_count(w: World, q: Query) -> Answer:
    """Between the rows that surely qualify and those that might: the common answer."""
    truths = [w.qualifies(q, row) for row in w.selected(q)]
    sure = sum(t is True for t in truths)
    could = sum(t is not False for t in truths)
    cmp = q.comparison
    assert cmp is not None
    answer = common(compare(n, cmp.op, cmp.value) for n in range(sure, could + 1))
    return Answer(answer, could > 0)


def _pick_max(w: World, q: Query) -> Answer:
    """The largest sure value, or a larger one that might qualify: the common answer."""
    sure: list[float] = []
    maybe: list[float] = []
    for _, ok, v in w.values(q):
        x = _number(q, v)
        if x is not None and ok is not False:
            (sure if ok else maybe).append(x)
    if not sure:
        return Answer(None, bool(maybe))
    top = max(sure)
    truths = [_value_truth(q, top)] + [_value_truth(q, x) for x in maybe if x > top]
    return Answer(common(truths), True)


def _pick_latest(w: World, q: Query) -> Answer:
    values, possible = w.latest(q)
    if values is None:
        return Answer(None, bool(possible))
    return Answer(common(_value_truth(q, v) for v in values + possible), True)


_PICKS: dict[str, Callable[[World, Query], Answer]] = {
    "any": _pick_any,
    "count": _pick_count,
    "max": _pick_max,
    "latest": _pick_latest,
}


def _number(q: Query, v: Any) -> float | None:
    """A picked value as a number (an assessment grade that is not a whole number: None)."""
    if q.table == "assessments":
        text = str(v).strip()
        return int(text) if text.isdigit() else None
    return float(v)


def _value_truth(q: Query, v: Any) -> Truth:
    """The query's test on one picked value: a value set, or its comparison (an assessment
    compares only graded items' whole-number grades)."""
    if isinstance(q.test, ValueSet):
        return str(v).strip().lower() in q.test.values
    cmp = q.test
    assert isinstance(cmp, Comparison)
    if q.table == "assessments" and not (q.names <= GRADED_ITEMS):
        return None
    return compare(_number(q, v), cmp.op, cmp.value)


def _match(f: Filter, w: World, table: str, row: Row) -> Truth:
    """One filter on one row (a null field it reads: unknown)."""
    return _FILTERS[type(f)](f, w, table, row)


def _select(f: Filter, row: Row) -> bool:
    """Whether a selector keeps a row, as far as the row's own key decides it (a drug list:
    the drug, whatever its route): which undated rows are worth placing."""
    if isinstance(f, DrugFilter):
        return _drug_in(row.get("drug"), f.druglist)
    return _FILTERS[type(f)](f, None, "", row) is True  # type: ignore[arg-type]


def _drug_filter(f: DrugFilter, w: World, table: str, row: Row) -> Truth:
    if f.on == "regimen":
        return any(d in f.druglist.drugs for d in regimen_ingredients(row.get("regimen")))
    if not _drug_in(row.get("drug"), f.druglist):
        return False
    return not (f.systemic_only and (row.get("route") or "").strip().lower() in NON_SYSTEMIC_ROUTES)


def _flag(f: FlagFilter, w: World, table: str, row: Row) -> Truth:
    v = row.get(f.flag)
    return None if v is None else v == f.value


def _ends_after(f: EndsAfter, w: World, table: str, row: Row) -> Truth:
    end = row.get("end_date")
    return end is None or end >= w.index - dt.timedelta(days=f.days)


#: Filter type -> its three-valued test on a row.
_FILTERS: dict[type, Callable[[Any, World, str, Row], Truth]] = {
    TestFilter: lambda f, w, t, row: row.get("test") == f.test,
    ItemFilter: lambda f, w, t, row: row.get("item") == f.item,
    CodeFilter: lambda f, w, t, row: (
        row.get("code") is not None and code_matches(row["code"], f.codelist)
    ),
    CategoryFilter: lambda f, w, t, row: row.get("category") == f.category,
    DrugFilter: _drug_filter,
    FlagFilter: _flag,
    MinValue: lambda f, w, t, row: compare(row.get(f.of), ">=", f.value),
    StartedBy: lambda f, w, t, row: _started(w.date(t, row), w.index, f.strictly),
    EndsAfter: _ends_after,
}


_CODE_MATCHES: dict[tuple[Any, str], bool] = {}


def code_matches(code: str, codelist: Any) -> bool:
    """Contract 2: ICD-10 codes match by prefix once the dot is removed (any case); a code
    list also has 3-character ranges (``C00``-``C96``) and excluded prefixes (``C44``)."""
    key = (codelist, code)  # a frozen CodeList: equal lists share answers
    hit = _CODE_MATCHES.get(key)
    if hit is None:
        c = code.replace(".", "").replace(" ", "").strip().upper()
        if any(c.startswith(e) for e in codelist.exclude):
            hit = False
        else:
            hit = any(c.startswith(p) for p in codelist.prefixes) or any(
                lo <= c[:3] <= hi for lo, hi in codelist.ranges
            )
        if len(_CODE_MATCHES) > 1_000_000:
            _CODE_MATCHES.clear()
        _CODE_MATCHES[key] = hit
    return hit


def _any_row(truths: list[Truth]) -> Answer:
    """A row-matching leaf: true if a row qualifies, false if none (absent is false)."""
    truth = k_or(truths)
    return Answer(truth, truth is not False)


def _started(start: dt.date | None, index: dt.date, strictly: bool) -> Truth:
    if start is None:
        return None
    return start < index if strictly else start <= index


def _drug_in(name: str | None, druglist: Any) -> bool:
    if name is None:
        return False
    canon = canonical_drug(name)
    canon = druglist.spellings.get(canon, canon)
    return canon in druglist.drugs


def _cockcroft_gault(w: World, r: CockcroftGault) -> Answer:
    if not w.usable(r):
        return Answer(None, True)
    creatinine_q, weight_q = r.inputs
    creatinine, _ = w.latest(creatinine_q)
    weight, _ = w.latest(weight_q)
    found = creatinine is not None or weight is not None
    age = w.age()
    sex = w.sex if ("patients", "sex") not in w.data.absent_columns else None
    if creatinine is None or weight is None or age is None or sex not in CG_SEX_FACTOR:
        return Answer(None, found)
    factor = CG_SEX_FACTOR[sex]
    truths = [
        compare(creatinine_clearance(age, kg, cr, factor), r.op, r.value)
        for cr in creatinine
        for kg in weight
    ]
    return Answer(common(truths), found)


def _combine(fn: Callable[[Iterable[Truth]], Truth]) -> Callable[[World, Any], Answer]:
    def run(w: World, r: Any) -> Answer:
        answers = [w.eval(p) for p in r.parts]
        return Answer(fn(a.truth for a in answers), _found(a.found for a in answers))

    return run


def _found(values: Iterable[bool | None]) -> bool | None:
    """A record found by any part; else no record, if some part reads an event table."""
    vals = list(values)
    if True in vals:
        return True
    return False if False in vals else None


def _not(w: World, r: Not) -> Answer:
    a = w.eval(r.part)
    return Answer(k_not(a.truth), a.found)


def _when(w: World, r: When) -> Answer:
    cond = w.eval(r.condition)
    then = w.eval(r.then)
    if cond.truth is False:  # not applicable: decided whatever the records
        return Answer(True, None)
    found = _found([cond.found, then.found])
    if cond.truth is None:
        return Answer(None, found)
    return Answer(then.truth, found)


def _undecidable(w: World, r: Undecidable) -> Answer:
    return Answer(None, None)


def _ref(w: World, r: Ref) -> Answer:
    return Answer(w.refer(r.criterion, w.sex), None)


_NODES: dict[type, Callable[[World, Any], Answer]] = {
    Alive: _alive,
    Age: _age,
    Sex: _sex,
    CockcroftGault: _cockcroft_gault,
    And: _combine(k_and),
    Or: _combine(k_or),
    AnyPresent: _combine(any_present),
    Not: _not,
    When: _when,
    Undecidable: _undecidable,
    Ref: _ref,
}


def _walk(rule: Rule) -> list[Rule]:
    return [rule, *(n for c in rule.children() for n in _walk(c))]


def _queries(leaf: Rule) -> tuple[Query, ...]:
    """The row-reading parts of a leaf: its query, or a formula's inputs."""
    q = leaf.query
    if q is not None:
        return (q,)
    return leaf.inputs if isinstance(leaf, CockcroftGault) else ()


def _relevant(leaf: Rule, table: str, row: Row) -> bool:
    """Could this row, dated, take part in the leaf's answer? (Which undated rows to place:
    those its selectors keep.)"""
    return any(
        q.table == table and all(_select(f, row) for f in q.selectors) for q in _queries(leaf)
    )


class CriterionPlan:
    """What a criterion needs: its nodes, the event tables it reads, whether it reads sex
    (itself or through a referenced criterion: ``reads_sex`` is completed by the engine)."""

    def __init__(self, crit: Criterion) -> None:
        self.crit = crit
        nodes = _walk(crit.rule_obj)
        self.leaves = [n for n in nodes if not n.children()]
        self.reads_sex = any(isinstance(n, Sex | CockcroftGault) for n in nodes)
        self.refs = {n.criterion for n in nodes if isinstance(n, Ref)}
        self.tables = {
            t for n in self.leaves for t in n.tables() if t in DATE_OF and not isinstance(n, Ref)
        }

    def undated(self, patient: Patient) -> list[tuple[str, Row]]:
        out = []
        for table in sorted(self.tables):
            for row in patient.undated(table):
                if any(
                    table in leaf.tables() and _relevant(leaf, table, row) for leaf in self.leaves
                ):
                    out.append((table, row))
        return out

    def status(
        self,
        data: Data,
        patient: Patient,
        index: dt.date,
        refer: Callable[[str, str | None], Truth],
        sex: str | None = None,
    ) -> Truth:
        """The criterion's status; ``sex`` "F" or "M": as if the patient had that sex
        (a referrer evaluated both ways reads its references in the same way)."""
        sexes: list[str | None] = [patient.sex if sex is None else sex]
        if sex is None and self.reads_sex and patient.sex not in ("F", "M"):
            sexes = ["F", "M"]  # contract 5.1: evaluated both ways
        undated = self.undated(patient)
        if len(undated) > MAX_UNDATED:
            return None
        choices = [_placements(index, table, row) for table, row in undated]
        worlds = []
        for sex in sexes:
            for dates in itertools.product(*choices):
                placed = {id(row): d for (_, row), d in zip(undated, dates, strict=True)}
                world = World(data, patient, index, refer, sex, placed)
                worlds.append(self._decide(world.eval(self.crit.rule_obj)))
        return common(worlds)

    def _decide(self, answer: Answer) -> Truth:
        if answer.found is False:
            return {"pass": True, "fail": False, "unknown": None}[self.crit.if_missing]
        if self.crit.kind == "exclusion":
            return k_not(answer.truth)
        return answer.truth


def _placements(index: dt.date, table: str, row: Row) -> list[dt.date]:
    """The dates worth trying for an undated row: just before the index, on it and after
    it, none after the row's own end date."""
    dates = [index - _DAY, index, index + _DAY]
    end = row.get(END_OF[table]) if table in END_OF else None
    if end is not None:
        dates = [min(d, end) for d in dates]
    return sorted(set(dates))


def _order(protocol: Protocol) -> list[Criterion]:
    """Criteria so that every referenced criterion comes before its referrers."""
    done: dict[str, Criterion] = {}
    by_id = {c.id: c for c in protocol.criteria}

    def visit(c: Criterion) -> None:
        if c.id in done:
            return
        for n in _walk(c.rule_obj):
            if isinstance(n, Ref):
                visit(by_id[n.criterion])
        done[c.id] = c

    for c in protocol.criteria:
        visit(c)
    return list(done.values())


class ReferenceEngine:
    """The plain-Python reference engine (see the module docstring)."""

    name = "reference"

    def run(
        self,
        registry: Any,
        protocol: Protocol,
        index: dt.date | IndexEvents,
        *,
        progress: bool = False,
        state: Data | None = None,
    ) -> EngineRun:
        t0 = time.perf_counter()
        data = state if state is not None else read_patients(registry)
        needed = {t for c in protocol.criteria for t in c.tables}
        names: dict[str, set[str]] = {"measurements": set(), "assessments": set()}
        for c in protocol.criteria:
            for n in _walk(c.rule_obj):
                for q in _queries(n):
                    if q.table in names:
                        names[q.table] |= q.names
        if isinstance(index, IndexEvents):
            needed.add(index.table)
        data.ensure(needed, names)
        pairs = self._pairs(data, index)
        plans = {c.id: CriterionPlan(c) for c in _order(protocol)}
        for plan in plans.values():  # in reference order: a referrer of a sex reader reads sex
            plan.reads_sex = plan.reads_sex or any(plans[r].reads_sex for r in plan.refs)
        columns: dict[str, list[Truth]] = {c.id: [] for c in protocol.criteria}
        for pid, day in pairs:
            patient = data.patients[pid]
            cache: dict[tuple[str, str | None], Truth] = {}

            def refer(cid: str, sex: str | None, patient=patient, day=day, cache=cache) -> Truth:
                if sex == patient.sex:
                    sex = None  # the patient's own sex: the criterion's own status
                if (cid, sex) not in cache:
                    cache[(cid, sex)] = plans[cid].status(data, patient, day, refer, sex)
                return cache[(cid, sex)]

            for cid, column in columns.items():
                column.append(refer(cid, None))
        frame = pl.DataFrame(
            {
                PID: pl.Series([p for p, _ in pairs], dtype=pl.String),
                IDX: pl.Series([d for _, d in pairs], dtype=pl.Date),
                **{cid: pl.Series(v, dtype=pl.Boolean) for cid, v in columns.items()},
            }
        )
        if progress:
            print(
                f"[screen] reference engine: {len(pairs):,} pairs in "
                f"{time.perf_counter() - t0:.1f}s",
                file=sys.stderr,
                flush=True,
            )
        ids = pl.DataFrame({PID: pl.Series(data.order, dtype=pl.String)})
        return EngineRun(pairs=frame, patient_ids=ids, leaves={}, state=data, ordered=True)

    @staticmethod
    def _pairs(data: Data, index: dt.date | IndexEvents) -> list[tuple[str, dt.date]]:
        if not isinstance(index, IndexEvents):
            return [(pid, index) for pid in data.order]
        if index.table not in data.present:
            return []
        # the index specification's own row filter (not rule logic)
        events = index.frame(data.registry.tables[index.table]).collect()
        found = {(p, d) for p, d in events.iter_rows() if p in data.patients}
        position = {pid: i for i, pid in enumerate(data.order)}
        return sorted(found, key=lambda pair: (position[pair[0]], pair[1]))


__all__ = ["ReferenceEngine", "any_present", "k_and", "k_not", "k_or", "whole_years"]
