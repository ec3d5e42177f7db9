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
    Undecidable,
    When,
    Window,
    columns_needed,
)
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


def whole_years(birth: dt.date, on: dt.date) -> int:
    """Whole years from ``birth`` to ``on`` (a birthday counts on its day; 29 February is
    reached on 1 March in a common year)."""
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


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
        if fn is None:
            raise FeasibilityError(f"reference engine: no translation for {type(rule).__name__}")
        return fn(self, rule)

    def age(self) -> int | None:
        b = self.p.birth
        if b is None or ("patients", "birth_date") in self.data.absent_columns or b > self.index:
            return None
        return whole_years(b, self.index)

    def latest_values(self, table: str, name: str, window: Window) -> list[Any] | None:
        """The values recorded on the latest day in the window (None: no record)."""
        best: dt.date | None = None
        values: list[Any] = []
        for row in self.p.named(table, name):
            if row.get("value") is None:
                continue
            d = self.date(table, row)
            if not in_window(d, window, self.index):
                continue
            assert d is not None
            if best is None or d > best:
                best, values = d, [row["value"]]
            elif d == best:
                values.append(row["value"])
        return values if best is not None else None


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


def _latest(w: World, r: Latest) -> Answer:
    if not w.usable(r):
        return Answer(None, True)
    values = w.latest_values(r.table, r.name, r.window)
    if values is None:
        return Answer(None, False)
    truths: list[Truth] = []
    for v in values:
        if r.values is not None:
            truths.append(str(v).strip().lower() in r.values)
        elif r.table == "assessments":
            if r.name not in GRADED_ITEMS or not str(v).strip().isdigit():
                truths.append(None)
            else:
                truths.append(compare(int(str(v).strip()), r.op or ">=", r.value))
        else:
            truths.append(compare(float(v), r.op or ">=", r.value))
    return Answer(common(truths), True)


def _diagnosis(w: World, r: Diagnosis) -> Answer:
    if not w.usable(r):
        return Answer(None, True)
    truths = [
        in_window(w.date("diagnoses", row), r.window, w.index)
        for row in w.rows("diagnoses")
        if row.get("code") is not None and code_matches(row["code"], r.codelist)
    ]
    return _any_row(truths)


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


def _medication(w: World, r: Medication) -> Answer:
    if not w.usable(r):
        return Answer(None, True)
    truths = []
    for row in w.rows("medications"):
        if not _drug_in(row.get("drug"), r.druglist):
            continue
        if r.systemic_only and (row.get("route") or "").strip().lower() in NON_SYSTEMIC_ROUTES:
            continue
        end = row.get("end_date")
        started = _started(w.date("medications", row), w.index, r.started_before_index)
        overlaps: Truth = True
        if r.overlap_days is not None:
            overlaps = end is None or end >= w.index - dt.timedelta(days=r.overlap_days)
        truths.append(k_and([started, overlaps]))
    return _any_row(truths)


def _procedure(w: World, r: Procedure) -> Answer:
    if not w.usable(r):
        return Answer(None, True)
    truths = [
        in_window(w.date("procedures", row), r.window, w.index)
        for row in w.rows("procedures")
        if row.get("category") == r.category
    ]
    return _any_row(truths)


def _lesion(w: World, r: Lesion) -> Answer:
    if not w.usable(r):
        return Answer(None, True)
    truths = []
    for row in w.rows("lesions"):
        diameter = row.get("longest_diameter_cm")
        parts = [
            in_window(w.date("lesions", row), r.window, w.index),
            compare(diameter, ">=", r.min_diameter_cm),
        ]
        if r.bone_contiguous is not None:
            bc = row.get("bone_contiguous")
            parts.append(None if bc is None else bc == r.bone_contiguous)
        truths.append(k_and(parts))
    return _any_row(truths)


def _therapy(w: World, r: Therapy) -> Answer:
    if not w.usable(r):
        return Answer(None, True)
    truths = []
    for row in w.rows("therapies"):
        start, end = w.date("therapies", row), row.get("end_date")
        parts: list[Truth] = []
        if r.investigational:
            inv = row.get("investigational")
            parts.append(None if inv is None else inv is True)
        if r.min_line is not None:
            parts.append(compare(row.get("line_number"), ">=", r.min_line))
        if r.druglist is not None:
            drugs = regimen_ingredients(row.get("regimen"))
            parts.append(any(d in r.druglist.drugs for d in drugs))
        if r.started_before_index:
            parts.append(_started(start, w.index, True))
        if r.ongoing:
            parts.append(_started(start, w.index, False))
            parts.append(end is None or end >= w.index)
        if r.ended_within_days is not None:
            parts.append(end is None or end >= w.index - dt.timedelta(days=r.ended_within_days))
        truths.append(k_and(parts))
    return _any_row(truths)


def _cockcroft_gault(w: World, r: CockcroftGault) -> Answer:
    if not w.usable(r):
        return Answer(None, True)
    creatinine = w.latest_values("measurements", "creatinine", r.creatinine_window)
    weight = w.latest_values("measurements", "weight", r.weight_window)
    found = creatinine is not None or weight is not None
    age = w.age()
    sex = w.sex if ("patients", "sex") not in w.data.absent_columns else None
    if creatinine is None or weight is None or age is None or sex not in ("F", "M"):
        return Answer(None, found)
    factor = 0.85 if sex == "F" else 1.0
    truths = [
        compare((140 - age) * kg / (72 * cr) * factor, r.op, r.value)
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
    Latest: _latest,
    Diagnosis: _diagnosis,
    Medication: _medication,
    Procedure: _procedure,
    Lesion: _lesion,
    Therapy: _therapy,
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


def _relevant(leaf: Rule, table: str, row: Row) -> bool:
    """Could this row, dated, take part in the leaf's answer? (Which undated rows to place.)"""
    if isinstance(leaf, Latest):
        key = "test" if table == "measurements" else "item"
        return table == leaf.table and row.get(key) == leaf.name
    if isinstance(leaf, CockcroftGault):
        return table == "measurements" and row.get("test") in ("creatinine", "weight")
    if isinstance(leaf, Diagnosis):
        return row.get("code") is not None and code_matches(row["code"], leaf.codelist)
    if isinstance(leaf, Medication):
        return _drug_in(row.get("drug"), leaf.druglist)
    if isinstance(leaf, Procedure):
        return row.get("category") == leaf.category
    return isinstance(leaf, Lesion | Therapy)


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
                if isinstance(n, Latest):
                    names[n.table].add(n.name)
                elif isinstance(n, CockcroftGault):
                    names["measurements"] |= {"creatinine", "weight"}
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
