"""The rule model: windows, the generic rule nodes, criteria and the protocol.

A rule is a frozen node: a three-valued proposition about a patient at an index date
(true, false or unknown). Leaves read one table (a window on its dates, a filter on its
rows, a pick such as the most recent, a :class:`~feasibility.protocol.compare.Comparison`);
combinators (:class:`And`, :class:`Or`, :class:`AnyPresent`, :class:`Not`, :class:`When`)
join them under Kleene logic; :class:`Ref` is another criterion's status. The domain rules
(Cockcroft-Gault, lesion, therapy line) live in :mod:`feasibility.protocol.domain`.

Every node answers the same questions, so the operations on the model never ask a node
its type: :meth:`Rule.children` / :meth:`Rule.map_children` (the tree),
:meth:`Rule.tables` / :meth:`Rule.reads` / :meth:`Rule.columns` (the data a leaf needs),
:attr:`Rule.comparison` / :attr:`Rule.measure` (a thresholded leaf's threshold and what
it compares), :meth:`Rule.with_threshold` / :meth:`Rule.with_window` (relaxing, see
:mod:`feasibility.protocol.ops`).

A new rule type is one node class here (or in ``domain.py``), one parser entry
(:func:`feasibility.protocol.parse.rule_parser`) and one translation per engine.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from feasibility.protocol.assumptions import Assumption, ExpectedRange
from feasibility.protocol.codelists import CodeList, DrugList
from feasibility.protocol.compare import OPS, Comparison
from feasibility.protocol.formulas import age_in_years
from feasibility.protocol.pieces import (
    CategoryFilter,
    CodeFilter,
    DrugFilter,
    EndsAfter,
    Filter,
    ItemFilter,
    Pick,
    Query,
    Rows,
    StartedBy,
    TestFilter,
    ValueSet,
)
from feasibility.protocol.windows import Window

#: A field a leaf reads: (table, column, what it filters on -- a test, item, list -- or None).
Read = tuple[str, str, str | None]

#: The values of a criterion's ``if_missing``.
IF_MISSING = ("unknown", "pass", "fail")
#: The kinds of criterion (the ``section`` of a protocol item).
KINDS = ("inclusion", "exclusion")


# --------------------------------------------------------------------------- the node interface


class Rule:
    """Base class of the rule vocabulary. A rule is a three-valued proposition about a
    patient at an index date: true, false or unknown (data absent)."""

    @property
    def query(self) -> Query | None:
        """A row-reading leaf's decomposition into general pieces (rows, filters, window,
        pick, test: :mod:`feasibility.protocol.pieces`); None for other nodes."""
        return None

    def tables(self) -> set[str]:
        """Tables this rule reads directly (criterion references excluded): a row-reading
        leaf's query table."""
        q = self.query
        return set() if q is None else {q.table}

    def children(self) -> tuple[Rule, ...]:
        return ()

    def map_children(self, fn: Callable[[Rule], Rule]) -> Rule:
        """A copy with ``fn`` applied to every child (a leaf: itself)."""
        return self

    def describe(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def reads(self) -> list[Read]:
        """The fields whose values decide this leaf (the data-quality links use them): of a
        row-reading leaf, from its query -- the value it picks (named by its test or item)
        or its selectors' keys, then its conditions' columns."""
        q = self.query
        if q is None:
            return []
        named = next((f.name for f in q.selectors), None)
        out: list[Read] = [(q.table, f.column, f.name) for f in q.selectors]
        if q.pick.of is not None:
            out = [(q.table, q.pick.of, named)] + [r for r in out if r[2] != named]
        out += [(q.table, f.column, f.name) for f in q.conditions]
        return list(dict.fromkeys(out))

    def columns(self) -> set[tuple[str, str]]:
        """(table, column) pairs this leaf's answer depends on, optional columns included;
        an engine makes the leaf unknown when one is absent from a present table's file."""
        return {(table, column) for table, column, _ in self.reads()}

    @property
    def comparison(self) -> Comparison | None:
        """The threshold of a thresholded leaf (None: the leaf has none); of a row-reading
        leaf, its query's comparison."""
        q = self.query
        return None if q is None else q.comparison

    @property
    def measure(self) -> str | None:
        """What a thresholded leaf compares (a test or item, ``age``, ...): the name
        ``relax(measure=...)`` and ``deciding_values`` use. None for other nodes; of a
        row-reading leaf, its query's measure."""
        q = self.query
        return None if q is None else q.measure

    def with_threshold(self, value: float, unit: str | None = None) -> Rule:
        """A copy with the threshold set to ``value`` (stated in ``unit``, default the
        protocol's); a node without a threshold is returned as is."""
        return self

    def with_window(self, window: Window) -> Rule:
        """A copy looking back over ``window``; a node without a window is returned as is."""
        return self


# --------------------------------------------------------------------------- patient attributes


def whole_years(birth: dt.date, index: dt.date) -> int | None:
    """Age in whole years on ``index`` (the birthday itself counts); None for a birth after
    the index (contract 5.2: no age at all). The definition every engine implements."""
    if birth > index:
        return None
    return age_in_years((birth.year, birth.month, birth.day), (index.year, index.month, index.day))


@dataclass(frozen=True)
class Alive(Rule):
    """True when death_date is null or after index."""

    def tables(self) -> set[str]:
        return {"patients"}

    def describe(self) -> str:
        return "death_date is null or after index"

    def reads(self) -> list[Read]:
        return [("patients", "death_date", None)]


@dataclass(frozen=True)
class Age(Rule):
    """Age in whole years on the index date (:func:`whole_years`) compared with a threshold."""

    op: str
    value: float

    def __post_init__(self) -> None:
        _check_op(self, self.op)

    def tables(self) -> set[str]:
        return {"patients"}

    def describe(self) -> str:
        return f"age {self.op} {self.value:g} years"

    def reads(self) -> list[Read]:
        return [("patients", "birth_date", None)]

    @property
    def comparison(self) -> Comparison:
        return Comparison.plain(self.op, self.value, "years")

    @property
    def measure(self) -> str:
        return "age"

    def with_threshold(self, value: float, unit: str | None = None) -> Rule:
        return dataclasses.replace(self, value=float(value))


@dataclass(frozen=True)
class Sex(Rule):
    """True when sex is one of ``values``; U or null is unknown."""

    values: tuple[str, ...]

    def tables(self) -> set[str]:
        return {"patients"}

    def describe(self) -> str:
        return f"sex in {list(self.values)}"

    def reads(self) -> list[Read]:
        return [("patients", "sex", None)]


# --------------------------------------------------------------------------- table leaves


@dataclass(frozen=True)
class Latest(Rule):
    """The most recent measurement (``test``) or assessment (``item``) in the window compared
    with a threshold (``op``/``value``, converted to the canonical unit) or a value set (``values``).
    No record in the window is unknown.

    Invariant (checked on construction): either ``values`` is set and ``op``/``value`` are
    not (a value set), or ``op`` and ``value`` are (a threshold; ``stated_value`` and
    ``stated_unit`` default to ``value`` and ``unit``). :attr:`comparison` is None exactly
    for a value set."""

    table: str  # measurements | assessments
    name: str
    window: Window
    op: str | None = None
    value: float | None = None  # canonical unit
    unit: str | None = None  # canonical unit (measurements)
    stated_value: float | None = None
    stated_unit: str | None = None
    values: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.table not in ("measurements", "assessments"):
            raise ValueError(f"Latest reads measurements or assessments, not {self.table!r}")
        if self.values is not None:
            if self.op is not None or self.value is not None:
                raise ValueError(f"Latest {self.name}: a value set has no op/value")
            return
        _check_op(self, self.op)
        if self.value is None:
            raise ValueError(f"Latest {self.name}: a threshold needs a value")
        if self.stated_value is None:
            object.__setattr__(self, "stated_value", self.value)
        if self.stated_unit is None and self.unit is not None:
            object.__setattr__(self, "stated_unit", self.unit)

    @property
    def query(self) -> Query:
        """rows(measurements | assessments) -> test | item -> window -> latest value ->
        comparison (or value set)."""
        named: Filter = (
            TestFilter(self.name) if self.table == "measurements" else ItemFilter(self.name)
        )
        test = self.comparison if self.values is None else ValueSet(self.values)
        return Query(Rows(self.table), (named,), self.window, Pick("latest", "value"), test)

    def describe(self) -> str:
        what = f"most recent {self.name} {self.window.describe()}"
        cmp = self.comparison
        if cmp is None:
            return f"{what} in {list(self.values or ())}"
        return f"{what} {cmp.describe()}"

    @property
    def comparison(self) -> Comparison | None:
        if self.op is None or self.value is None:
            return None
        stated = self.value if self.stated_value is None else self.stated_value
        return Comparison(self.op, self.value, self.unit, stated, self.stated_unit)

    def with_threshold(self, value: float, unit: str | None = None) -> Rule:
        current = self.comparison
        if current is None:
            return self  # a value set has no threshold
        if self.table == "measurements":
            cmp = Comparison.measured(self.name, current.op, value, unit or self.stated_unit)
            return dataclasses.replace(
                self, value=cmp.value, stated_value=value, stated_unit=cmp.stated_unit
            )
        return dataclasses.replace(self, value=float(value), stated_value=float(value))

    def with_window(self, window: Window) -> Rule:
        return dataclasses.replace(self, window=window)


@dataclass(frozen=True)
class Diagnosis(Rule):
    """A diagnosis whose code matches a code list, dated in the window. Absent is false."""

    codelist: CodeList
    window: Window

    @property
    def query(self) -> Query:
        """rows(diagnoses) -> code list -> window -> any."""
        return Query(Rows("diagnoses"), (CodeFilter(self.codelist),), self.window, Pick("any"))

    def describe(self) -> str:
        return f"diagnosis in {self.codelist.name} {self.window.describe()}"

    def with_window(self, window: Window) -> Rule:
        return dataclasses.replace(self, window=window)


@dataclass(frozen=True)
class Medication(Rule):
    """An exposure to a listed drug with start_date <= index and end_date null or
    >= index - ``overlap_days`` (``None``: any exposure started on or before index, i.e.
    prior therapy ever); only systemic routes when ``systemic_only``. With
    ``started_before_index`` the start must be strictly before the index (in event mode
    indexed on a new line, the drugs started that day belong to it). Absent is false."""

    druglist: DrugList
    overlap_days: int | None
    systemic_only: bool = True
    started_before_index: bool = False

    @property
    def query(self) -> Query:
        """rows(medications) -> drug list (systemic) -> started by the index -> not ended
        before the overlap -> any."""
        filters: tuple[Filter, ...] = (
            DrugFilter(self.druglist, self.systemic_only),
            StartedBy(self.started_before_index),
        )
        if self.overlap_days is not None:
            filters += (EndsAfter(self.overlap_days),)
        return Query(Rows("medications"), filters, None, Pick("any"))

    def describe(self) -> str:
        s = "systemic " if self.systemic_only else ""
        started = "before" if self.started_before_index else "on or before"
        if self.overlap_days is None:
            return f"{s}exposure to {self.druglist.name} started {started} index"
        return (
            f"{s}exposure to {self.druglist.name} started {started} index, overlapping the "
            f"{self.overlap_days} days before index"
        )

    def reads(self) -> list[Read]:
        return [("medications", "drug", self.druglist.name)]

    def columns(self) -> set[tuple[str, str]]:
        out = super().columns() | {("medications", "start_date")}
        if self.overlap_days is not None:
            out.add(("medications", "end_date"))
        if self.systemic_only:
            out.add(("medications", "route"))
        return out

    def with_window(self, window: Window) -> Rule:
        return dataclasses.replace(self, overlap_days=window.days)


@dataclass(frozen=True)
class Procedure(Rule):
    """A procedure of ``category`` performed in the window. Absent is false."""

    category: str
    window: Window

    @property
    def query(self) -> Query:
        """rows(procedures) -> category -> window -> any."""
        return Query(Rows("procedures"), (CategoryFilter(self.category),), self.window, Pick("any"))

    def describe(self) -> str:
        return f"{self.category} {self.window.describe()}"

    def with_window(self, window: Window) -> Rule:
        return dataclasses.replace(self, window=window)


@dataclass(frozen=True)
class Records(Rule):
    """A rule written directly from the general pieces (``records:`` in a protocol): the
    rows of ``spec.table`` that pass every filter, dated in the window (records after the
    index are never used), reduced by the pick and tested:

    - ``any``: true if a qualifying row exists, false if none (absent is false);
    - ``count``: the number of qualifying rows compared with the threshold (none is 0);
    - ``max``: the largest value of the table's value column among qualifying rows
      (rows without a number are not used); no value is unknown;
    - ``latest``: the value on the most recent day in the window (several values that
      day that disagree: unknown); no value is unknown.

    Three-valued rows (contract 5.1): a row whose date is missing, or whose filtered field
    is null, might qualify. It makes the answer unknown exactly when it could change it:
    for ``any`` when no row surely qualifies; for ``count`` when the count with it differs
    in its comparison from the count without; for ``max`` when a possible value above the
    largest sure one would test differently (or no value is sure); for ``latest`` when a
    possible value, as the most recent one, would test differently. An undated row of an
    exposure table (medications, therapies) that ended before the index lay before it: it
    is dated by its end. Exact duplicate rows count once. A record is found
    (``if_missing``) when a row might qualify, its value tested or not."""

    spec: Query

    @property
    def query(self) -> Query:
        return self.spec

    def describe(self) -> str:
        return self.spec.describe()

    def columns(self) -> set[tuple[str, str]]:
        return self.spec.columns()

    def with_threshold(self, value: float, unit: str | None = None) -> Rule:
        q, cmp = self.spec, self.spec.comparison
        if cmp is None:
            return self
        tests = [f.name for f in q.selectors if isinstance(f, TestFilter)]
        if tests and q.pick.kind != "count":
            new = Comparison.measured(tests[0], cmp.op, value, unit or cmp.stated_unit)
        else:
            new = Comparison.plain(cmp.op, float(value), cmp.unit)
        return dataclasses.replace(self, spec=dataclasses.replace(q, test=new))

    def with_window(self, window: Window) -> Rule:
        return dataclasses.replace(self, spec=dataclasses.replace(self.spec, window=window))


# --------------------------------------------------------------------------- combinators


@dataclass(frozen=True)
class And(Rule):
    parts: tuple[Rule, ...]

    def children(self) -> tuple[Rule, ...]:
        return self.parts

    def map_children(self, fn: Callable[[Rule], Rule]) -> Rule:
        return And(tuple(fn(p) for p in self.parts))

    def describe(self) -> str:
        return "(" + " AND ".join(p.describe() for p in self.parts) + ")"


@dataclass(frozen=True)
class Or(Rule):
    parts: tuple[Rule, ...]

    def children(self) -> tuple[Rule, ...]:
        return self.parts

    def map_children(self, fn: Callable[[Rule], Rule]) -> Rule:
        return Or(tuple(fn(p) for p in self.parts))

    def describe(self) -> str:
        return "(" + " OR ".join(p.describe() for p in self.parts) + ")"


@dataclass(frozen=True)
class AnyPresent(Rule):
    """True if any part is true; false if at least one part is known and all known parts
    are false; unknown only when every part is unknown (contract: plasma cell leukemia,
    "fail if all present fail"). Differs from Kleene OR, where one unknown part keeps an
    otherwise-false OR unknown."""

    parts: tuple[Rule, ...]

    def children(self) -> tuple[Rule, ...]:
        return self.parts

    def map_children(self, fn: Callable[[Rule], Rule]) -> Rule:
        return AnyPresent(tuple(fn(p) for p in self.parts))

    def describe(self) -> str:
        return "(any present of: " + " | ".join(p.describe() for p in self.parts) + ")"


@dataclass(frozen=True)
class Not(Rule):
    part: Rule

    def children(self) -> tuple[Rule, ...]:
        return (self.part,)

    def map_children(self, fn: Callable[[Rule], Rule]) -> Rule:
        return Not(fn(self.part))

    def describe(self) -> str:
        return f"NOT {self.part.describe()}"


@dataclass(frozen=True)
class When(Rule):
    """Applicability: ``condition`` false -> true (not applicable); unknown -> unknown;
    true -> ``then``. Unlike Kleene implication, an unknown condition stays unknown even
    when ``then`` holds (contract: "sex F with none -> unknown")."""

    condition: Rule
    then: Rule

    def children(self) -> tuple[Rule, ...]:
        return (self.condition, self.then)

    def map_children(self, fn: Callable[[Rule], Rule]) -> Rule:
        return When(fn(self.condition), fn(self.then))

    def describe(self) -> str:
        return f"if {self.condition.describe()} then {self.then.describe()} (else not applicable)"


@dataclass(frozen=True)
class Undecidable(Rule):
    """A fact no registry holds (e.g. response to a past treatment): always unknown. Combined
    with a computable part it makes that part's true cases unknown instead of deciding
    them (``all: [exposure, undecidable]`` -> exposed: unknown, unexposed: false)."""

    reason: str

    def describe(self) -> str:
        return f"[not in the registry: {self.reason}]"


@dataclass(frozen=True)
class Ref(Rule):
    """The status of another criterion (pass = true)."""

    criterion: str

    def describe(self) -> str:
        return f"[{self.criterion}]"


def _check_op(node: Rule, op: str | None) -> None:
    if op not in OPS:
        raise ValueError(f"{type(node).__name__}: op must be one of {list(OPS)}, got {op!r}")


# --------------------------------------------------------------------------- walking a tree


def _walk(rule: Rule) -> list[Rule]:
    """Every node of a rule tree, depth first."""
    return [rule] + [n for c in rule.children() for n in _walk(c)]


def leaves(rule: Rule) -> list[Rule]:
    """Leaf rules in depth-first order (criterion references included as leaves)."""
    kids = rule.children()
    if not kids:
        return [rule]
    return [leaf for k in kids for leaf in leaves(k)]


def columns_needed(leaf: Rule) -> set[tuple[str, str]]:
    """(table, column) pairs a leaf's answer depends on (:meth:`Rule.columns`): optional
    columns included (a medication overlap needs end_date, systemic_only needs route, an
    ongoing therapy needs end_date). The engine makes a leaf unknown when one of them is
    absent from a present table's file (``Registry.missing_columns``)."""
    return leaf.columns()


def thresholded_leaves(rule: Rule) -> list[Rule]:
    """Leaves with a threshold (:attr:`Rule.comparison`), depth first."""
    return [leaf for leaf in leaves(rule) if leaf.comparison is not None]


def numeric_leaves(rule: Rule) -> list[Rule]:
    """Thresholded leaves on a measured value (a lab, an assessment grade, the
    Cockcroft-Gault clearance): those reading measurements or assessments."""
    return [
        leaf for leaf in thresholded_leaves(rule) if leaf.tables() & {"measurements", "assessments"}
    ]


# --------------------------------------------------------------------------- criteria


@dataclass(frozen=True)
class Criterion:
    """A computable criterion. ``rule`` is the proposition; for an exclusion the patient
    passes when the proposition is false. ``if_missing`` is the status when the patient has
    no record at all for any part of the rule (tables present)."""

    id: str
    kind: str  # inclusion | exclusion
    label: str
    source: tuple[str, ...]
    rule_obj: Rule
    if_missing: str
    notes: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"criterion {self.id}: kind is one of {list(KINDS)}")
        if self.if_missing not in IF_MISSING:
            raise ValueError(f"criterion {self.id}: if_missing is one of {list(IF_MISSING)}")

    @property
    def rule(self) -> str:
        """Human-readable rule."""
        verb = "pass when" if self.kind == "inclusion" else "fail when"
        return f"{verb} {self.rule_obj.describe()}; no data -> {self.if_missing}"

    @property
    def reads(self) -> list[Read]:
        out: list[Read] = []
        for leaf in leaves(self.rule_obj):
            for r in leaf.reads():
                if r not in out:
                    out.append(r)
        return out

    @property
    def tables(self) -> set[str]:
        out: set[str] = set()
        for leaf in leaves(self.rule_obj):
            out |= leaf.tables()
        return out

    @property
    def threshold(self) -> tuple[str, str, float, str | None] | None:
        """(test_or_item, op, value, unit) when the rule has exactly one numeric threshold
        (:func:`numeric_leaves`), as the protocol states it."""
        nums = numeric_leaves(self.rule_obj)
        if len(nums) != 1:
            return None
        leaf = nums[0]
        cmp = leaf.comparison
        assert cmp is not None and leaf.measure is not None  # a numeric leaf has both
        return (leaf.measure, cmp.op, cmp.stated_value, cmp.stated_unit)


# --------------------------------------------------------------------------- the protocol


@dataclass(frozen=True)
class Protocol:
    id: str
    title: str
    path: Path | None
    fingerprint: str
    criteria: tuple[Criterion, ...]
    steps: tuple[str, ...]
    assumptions: tuple[Assumption, ...]
    registration: str | None = None
    items: tuple[str, ...] = ()  # ids of criteria and assumptions in protocol order
    #: enrolment target of the trial at this site (the report's months-to-target)
    target_enrolment: int | None = None

    def criterion(self, cid: str) -> Criterion:
        for c in self.criteria:
            if c.id == cid:
                return c
        raise KeyError(f"protocol {self.id} has no criterion {cid!r}")

    @property
    def criterion_ids(self) -> list[str]:
        return [c.id for c in self.criteria]

    def assumption_rate(self, bound: str = "estimate") -> float:
        """Combined pass rate of the assumptions (product of effective rates; conditional
        rates multiply into the joint rate; ``same_as`` items count once)."""
        return math.prod(a.effective_rate(bound) for a in self.assumptions)

    def expected_range(self, eligible: int) -> ExpectedRange:
        """Expected enrolment among ``eligible`` patients after the assumptions, with the
        range their rate uncertainty gives (see :class:`ExpectedRange`)."""
        rates = {b: self.assumption_rate(b) for b in ("estimate", "low", "high")}
        return ExpectedRange(
            eligible,
            eligible * rates["estimate"],
            eligible * rates["low"],
            eligible * rates["high"],
            rates["estimate"],
            rates["low"],
            rates["high"],
        )

    def replace_criterion(self, crit: Criterion) -> Protocol:
        """A copy with one criterion replaced (used by relax)."""
        crits = tuple(crit if c.id == crit.id else c for c in self.criteria)
        return dataclasses.replace(self, criteria=crits, fingerprint=self.fingerprint + "+variant")
