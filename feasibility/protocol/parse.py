"""Parsing a rule: one parser entry per rule type, keyed by its YAML key.

A rule in a protocol file is a mapping with exactly one key, its type (``latest``,
``all``, ``cockcroft_gault`` ...), whose body the entry registered for that key reads
into a node of :mod:`feasibility.protocol.model`. Entries register themselves with
:func:`rule_parser`; the domain rules register theirs in :mod:`feasibility.protocol.domain`.
A new rule type is one node class and one entry::

    @rule_parser("age", keys={"op", "value"})
    def _age(p: RuleParser, body: dict, crit: str, f: str) -> Rule:
        return Age(fields.op(body, crit, f), fields.number(body, "value", crit, f, AGE_BOUNDS))

Every problem is a :class:`~feasibility.errors.ProtocolError` naming the criterion and
the field (``rule.all[1].latest.value``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from feasibility.errors import ProtocolError
from feasibility.protocol import fields
from feasibility.protocol.codelists import CodeList, DrugList, _norm_code
from feasibility.protocol.compare import Comparison
from feasibility.protocol.fields import err
from feasibility.protocol.model import (
    Age,
    Alive,
    And,
    AnyPresent,
    Diagnosis,
    Latest,
    Medication,
    Not,
    Or,
    Procedure,
    Records,
    Ref,
    Rule,
    Sex,
    Undecidable,
    When,
)
from feasibility.protocol.pieces import (
    PICKS,
    VALUE_COLUMN,
    CategoryFilter,
    CodeFilter,
    DrugFilter,
    Filter,
    FlagFilter,
    ItemFilter,
    MinValue,
    Pick,
    Query,
    Rows,
    TestFilter,
)
from feasibility.protocol.windows import MAX_DAYS, parse_window
from feasibility.schema import ASSESSMENT_ITEMS, EVENT_DATE, PROCEDURE_CATEGORIES, TESTS

#: Assessment items whose values are ordinal grades (compared numerically).
GRADED_ITEMS = frozenset({"ecog", "neuropathy_grade", "diarrhea_grade"})
#: Bounds of an ``age`` rule's value (years).
AGE_BOUNDS = (0.0, 130.0)
#: Bounds of a graded assessment's threshold.
GRADE_BOUNDS = (0.0, 10.0)

ParseFn = Callable[["RuleParser", Any, str, str], Rule]


@dataclass(frozen=True)
class RuleEntry:
    """How to read the body of one rule type. ``mapping``: the body is a mapping (absent
    reads as ``{}``) whose keys must be among ``keys`` (None: the entry checks them)."""

    key: str
    parse: ParseFn
    mapping: bool = True
    keys: frozenset[str] | None = None


#: YAML key of a rule type -> its entry, in registration order.
RULE_PARSERS: dict[str, RuleEntry] = {}


def rule_parser(
    key: str, *, mapping: bool = True, keys: set[str] | None = None
) -> Callable[[ParseFn], ParseFn]:
    """Register ``fn(parser, body, criterion id, field path) -> Rule`` as the entry for the
    rule type ``key`` (see :class:`RuleEntry`)."""

    def register(fn: ParseFn) -> ParseFn:
        if key in RULE_PARSERS:
            raise ValueError(f"rule type {key!r} is registered twice")
        RULE_PARSERS[key] = RuleEntry(key, fn, mapping, None if keys is None else frozenset(keys))
        return fn

    return register


class RuleParser:
    """Reads rules against the code lists and drug lists of one protocol load."""

    def __init__(self, codes: dict[str, CodeList], drugs: dict[str, DrugList]):
        self.codes = codes
        self.drugs = drugs

    def rule(self, spec: Any, crit: str, fld: str = "rule") -> Rule:
        if not isinstance(spec, dict) or len(spec) != 1:
            raise err(
                crit, fld, f"a rule is a mapping with exactly one key (its type), got {spec!r}"
            )
        ((kind, body),) = spec.items()
        f = f"{fld}.{kind}"
        entry = RULE_PARSERS.get(kind)
        if entry is None or entry.mapping:
            body = body or {}
            if not isinstance(body, dict):
                raise err(crit, f, f"expects a mapping, got {body!r}")
        if entry is None:
            raise err(crit, fld, f"unknown rule type {kind!r}")
        if entry.keys is not None:
            fields.check_keys(body, set(entry.keys), crit, f)
        return entry.parse(self, body, crit, f)

    def druglist(self, name: Any, crit: str, fld: str) -> DrugList:
        if not isinstance(name, str) or name not in self.drugs:
            raise err(crit, fld, f"unknown drug list {name!r}; known: {sorted(self.drugs)}")
        return self.drugs[name]


def parse_rule(
    spec: Any,
    crit: str = "rule",
    *,
    codes: dict[str, CodeList] | None = None,
    drugs: dict[str, DrugList] | None = None,
) -> Rule:
    """One rule (a mapping as read from YAML) of criterion ``crit``, against the given code
    and drug lists (default: the package's, ``load_codelists()``)."""
    if codes is None or drugs is None:
        from feasibility.protocol.codelists import load_codelists

        loaded = load_codelists()
        codes = loaded[0] if codes is None else codes
        drugs = loaded[1] if drugs is None else drugs
    return RuleParser(codes, drugs).rule(spec, crit)


# --------------------------------------------------------------------------- combinators


def _parts(p: RuleParser, body: Any, crit: str, f: str) -> tuple[Rule, ...]:
    if not isinstance(body, list) or not body:
        raise err(crit, f, "expects a non-empty list of rules")
    return tuple(p.rule(b, crit, f"{f}[{i}]") for i, b in enumerate(body))


@rule_parser("all", mapping=False)
def _all(p: RuleParser, body: Any, crit: str, f: str) -> Rule:
    return And(_parts(p, body, crit, f))


@rule_parser("any", mapping=False)
def _any(p: RuleParser, body: Any, crit: str, f: str) -> Rule:
    return Or(_parts(p, body, crit, f))


@rule_parser("any_present", mapping=False)
def _any_present(p: RuleParser, body: Any, crit: str, f: str) -> Rule:
    return AnyPresent(_parts(p, body, crit, f))


@rule_parser("not", mapping=False)
def _not(p: RuleParser, body: Any, crit: str, f: str) -> Rule:
    return Not(p.rule(body, crit, f))


@rule_parser("when", mapping=False)
def _when(p: RuleParser, body: Any, crit: str, f: str) -> Rule:
    if not isinstance(body, dict) or set(body) != {"condition", "then"}:
        raise err(crit, f, "expects keys 'condition' and 'then'")
    return When(
        p.rule(body["condition"], crit, f + ".condition"),
        p.rule(body["then"], crit, f + ".then"),
    )


@rule_parser("criterion", mapping=False)
def _criterion(p: RuleParser, body: Any, crit: str, f: str) -> Rule:
    if not isinstance(body, str):
        raise err(crit, f, "expects a criterion id")
    return Ref(body)


@rule_parser("undecidable", mapping=False)
def _undecidable(p: RuleParser, body: Any, crit: str, f: str) -> Rule:
    reason = (body or {}).get("reason") if isinstance(body, dict) else None
    if not isinstance(reason, str) or not reason.strip():
        raise err(crit, f + ".reason", "say which fact the registry does not hold")
    return Undecidable(reason.strip())


# --------------------------------------------------------------------------- patient attributes


@rule_parser("alive", mapping=False)
def _alive(p: RuleParser, body: Any, crit: str, f: str) -> Rule:
    return Alive()


@rule_parser("age", keys={"op", "value"})
def _age(p: RuleParser, body: dict, crit: str, f: str) -> Rule:
    return Age(fields.op(body, crit, f), fields.number(body, "value", crit, f, AGE_BOUNDS))


@rule_parser("sex", keys={"in"})
def _sex(p: RuleParser, body: dict, crit: str, f: str) -> Rule:
    vals = body.get("in")
    if (
        not isinstance(vals, list)
        or not all(isinstance(v, str) for v in vals)
        or not set(vals) <= {"F", "M"}
    ):
        raise err(crit, f + ".in", f"expects a list of F/M, got {vals!r}")
    return Sex(tuple(vals))


# --------------------------------------------------------------------------- table leaves


@rule_parser("latest", keys={"test", "item", "window", "op", "value", "unit", "in"})
def _latest(p: RuleParser, body: dict, crit: str, f: str) -> Rule:
    window = parse_window(body.get("window"), crit, f + ".window")
    if ("test" in body) == ("item" in body):
        raise err(crit, f, "give exactly one of 'test' (measurement) or 'item' (assessment)")
    if "test" in body:
        test = body["test"]
        if not isinstance(test, str) or test not in TESTS:
            raise err(crit, f + ".test", f"unknown test {test!r}; known: {sorted(TESTS)}")
        t = TESTS[test]
        unit = body.get("unit", t.canonical_unit)
        if not isinstance(unit, str) or unit not in t.factors:
            raise err(
                crit,
                f + ".unit",
                f"unknown unit {unit!r} for {test}; accepted: {sorted(t.factors)}",
            )
        op = fields.op(body, crit, f)
        stated = fields.number(body, "value", crit, f)
        cmp = Comparison.measured(test, op, stated, unit)
        if not math.isfinite(cmp.value):
            raise err(
                crit, f + ".value", f"{stated!r} {unit} is not a finite value in {t.canonical_unit}"
            )
        return Latest("measurements", test, window, op, cmp.value, cmp.unit, stated, unit)
    item = body["item"]
    if not isinstance(item, str) or item not in ASSESSMENT_ITEMS:
        raise err(crit, f + ".item", f"unknown item {item!r}; known: {sorted(ASSESSMENT_ITEMS)}")
    if "unit" in body:
        raise err(crit, f + ".unit", "assessments have no unit")
    if "in" in body:
        vals = body["in"]
        if not isinstance(vals, list) or not vals:
            raise err(crit, f + ".in", "expects a non-empty list of values")
        vals = [str(v).strip().lower() for v in vals]
        bad = [v for v in vals if v not in ASSESSMENT_ITEMS[item]]
        if bad:
            raise err(
                crit,
                f + ".in",
                f"values {bad} not allowed for {item}: {list(ASSESSMENT_ITEMS[item])}",
            )
        return Latest("assessments", item, window, values=tuple(vals))
    if item not in GRADED_ITEMS:
        raise err(crit, f + ".op", f"{item} is categorical: use 'in' instead of op/value")
    op = fields.op(body, crit, f)
    v = fields.number(body, "value", crit, f, GRADE_BOUNDS)
    return Latest("assessments", item, window, op, v, None, v, None)


@rule_parser("diagnosis", keys={"codes", "window"})
def _diagnosis(p: RuleParser, body: dict, crit: str, f: str) -> Rule:
    return Diagnosis(
        _codelist(p, body, crit, f), parse_window(body.get("window"), crit, f + ".window")
    )


def _codelist(p: RuleParser, body: dict, crit: str, f: str) -> CodeList:
    """``codes``: a code list's name or a list of ICD-10 codes."""
    name = body.get("codes")
    if isinstance(name, list):
        inline = tuple(_norm_code(c) for c in name if isinstance(c, str))
        if not name or len(inline) != len(name) or not all(inline):
            raise err(crit, f + ".codes", "expects non-empty ICD-10 code strings")
        return CodeList("inline", "inline", inline)
    if isinstance(name, str) and name in p.codes:
        return p.codes[name]
    raise err(crit, f + ".codes", f"unknown codelist {name!r}; known: {sorted(p.codes)}")


@rule_parser("medication", keys={"drugs", "overlap_days", "systemic_only", "started_before_index"})
def _medication(p: RuleParser, body: dict, crit: str, f: str) -> Rule:
    druglist = p.druglist(body.get("drugs"), crit, f + ".drugs")
    od = body.get("overlap_days")
    if od == "ever":
        od = None
    elif isinstance(od, bool) or not isinstance(od, int) or not 0 <= od <= MAX_DAYS:
        raise err(
            crit,
            f + ".overlap_days",
            f"expects a whole number of days from 0 to {MAX_DAYS} or 'ever', got {od!r}",
        )
    systemic = fields.flag(body, "systemic_only", True, crit, f)
    started = fields.flag(body, "started_before_index", False, crit, f)
    return Medication(druglist, od, systemic, started)


@rule_parser("procedure", keys={"category", "window"})
def _procedure(p: RuleParser, body: dict, crit: str, f: str) -> Rule:
    cat = body.get("category")
    if not isinstance(cat, str) or cat not in PROCEDURE_CATEGORIES:
        raise err(crit, f + ".category", f"unknown procedure category {cat!r}")
    return Procedure(cat, parse_window(body.get("window"), crit, f + ".window"))


# --------------------------------------------------------------------------- records

#: ``where`` keys of a ``records`` rule and the tables each applies to.
RECORD_FILTERS: dict[str, tuple[str, ...]] = {
    "test": ("measurements",),
    "item": ("assessments",),
    "codes": ("diagnoses",),
    "drugs": ("medications", "therapies"),
    "systemic_only": ("medications",),
    "category": ("procedures",),
    "flag": ("lesions", "therapies"),
    "min": ("lesions", "therapies"),
}
#: Boolean columns a ``flag`` filter may test, numeric columns a ``min`` filter may bound.
FLAG_COLUMNS = {"lesions": ("bone_contiguous",), "therapies": ("investigational",)}
MIN_COLUMNS = {"lesions": ("longest_diameter_cm",), "therapies": ("line_number",)}
#: Bounds of a ``count`` threshold.
COUNT_BOUNDS = (0.0, 100_000.0)


@rule_parser("records", keys={"table", "where", "window", "pick", "op", "value", "unit"})
def _records(p: RuleParser, body: dict, crit: str, f: str) -> Rule:
    table = body.get("table")
    if not isinstance(table, str) or table not in EVENT_DATE:
        raise err(crit, f + ".table", f"expects an event table {sorted(EVENT_DATE)}, got {table!r}")
    pick = body.get("pick", "any")
    if pick not in PICKS:
        raise err(crit, f + ".pick", f"expects one of {list(PICKS)}, got {pick!r}")
    if pick in ("max", "latest") and table not in VALUE_COLUMN:
        raise err(
            crit, f + ".pick", f"{table} have no value to take the {pick} of; use any or count"
        )
    where = body.get("where") or {}
    if not isinstance(where, dict):
        raise err(crit, f + ".where", f"expects a mapping of filters, got {where!r}")
    filters = _record_filters(p, table, where, crit, f + ".where")
    if table in ("measurements", "assessments") and not any(
        isinstance(x, TestFilter | ItemFilter) for x in filters
    ):
        what = "test" if table == "measurements" else "item"
        raise err(crit, f"{f}.where.{what}", f"{table} records need a {what}")
    window = parse_window(body.get("window"), crit, f + ".window")
    of = VALUE_COLUMN.get(table) if pick in ("max", "latest") else None
    return Records(
        Query(
            Rows(table),
            filters,
            window,
            Pick(pick, of),
            _record_test(body, table, pick, filters, crit, f),
        )
    )


def _record_filters(
    p: RuleParser, table: str, where: dict, crit: str, f: str
) -> tuple[Filter, ...]:
    fields.check_keys(where, set(RECORD_FILTERS), crit, f)
    for key in where:
        if table not in RECORD_FILTERS[key]:
            raise err(crit, f"{f}.{key}", f"filters {'/'.join(RECORD_FILTERS[key])}, not {table}")
    out: list[Filter] = []
    if "test" in where:
        test = where["test"]
        if not isinstance(test, str) or test not in TESTS:
            raise err(crit, f + ".test", f"unknown test {test!r}; known: {sorted(TESTS)}")
        out.append(TestFilter(test))
    if "item" in where:
        item = where["item"]
        if not isinstance(item, str) or item not in ASSESSMENT_ITEMS:
            raise err(
                crit, f + ".item", f"unknown item {item!r}; known: {sorted(ASSESSMENT_ITEMS)}"
            )
        out.append(ItemFilter(item))
    if "codes" in where:
        out.append(CodeFilter(_codelist(p, where, crit, f)))
    if "drugs" in where:
        druglist = p.druglist(where["drugs"], crit, f + ".drugs")
        if table == "medications":
            out.append(DrugFilter(druglist, fields.flag(where, "systemic_only", True, crit, f)))
        else:
            out.append(DrugFilter(druglist, on="regimen"))
    elif "systemic_only" in where:
        raise err(crit, f + ".systemic_only", "goes with drugs")
    if "category" in where:
        cat = where["category"]
        if not isinstance(cat, str) or cat not in PROCEDURE_CATEGORIES:
            raise err(crit, f + ".category", f"unknown procedure category {cat!r}")
        out.append(CategoryFilter(cat))
    for column, value in _mapping(where, "flag", crit, f).items():
        if column not in FLAG_COLUMNS[table]:
            raise err(
                crit, f"{f}.flag", f"{table} flags are {list(FLAG_COLUMNS[table])}, not {column!r}"
            )
        if not isinstance(value, bool):
            raise err(crit, f"{f}.flag.{column}", f"expects true or false, got {value!r}")
        out.append(FlagFilter(column, value))
    for column in _mapping(where, "min", crit, f):
        if column not in MIN_COLUMNS[table]:
            raise err(
                crit, f"{f}.min", f"{table} bounds are {list(MIN_COLUMNS[table])}, not {column!r}"
            )
        unit = "cm" if column == "longest_diameter_cm" else None
        out.append(MinValue(column, fields.number(where["min"], column, crit, f + ".min"), unit))
    return tuple(out)


def _mapping(where: dict, key: str, crit: str, f: str) -> dict:
    value = where.get(key) or {}
    if not isinstance(value, dict):
        raise err(crit, f"{f}.{key}", f"expects a mapping column: value, got {value!r}")
    return value


def _record_test(
    body: dict, table: str, pick: str, filters: tuple[Filter, ...], crit: str, f: str
) -> Comparison | None:
    """The comparison of a ``records`` rule: none for ``any``; a whole count; a value,
    converted from ``unit`` to a test's canonical unit."""
    if pick == "any":
        for key in ("op", "value", "unit"):
            if key in body:
                raise err(crit, f"{f}.{key}", "pick any has no comparison")
        return None
    op = fields.op(body, crit, f)
    if pick == "count":
        if "unit" in body:
            raise err(crit, f + ".unit", "a count has no unit")
        value = fields.number(body, "value", crit, f, COUNT_BOUNDS)
        return Comparison.plain(op, value)
    if op in ("==", "!=") and pick == "max":
        raise err(crit, f + ".op", "the largest value is compared with >=, >, <= or <")
    tests = [x.name for x in filters if isinstance(x, TestFilter)]
    if tests:
        t = TESTS[tests[0]]
        unit = body.get("unit", t.canonical_unit)
        if not isinstance(unit, str) or unit not in t.factors:
            raise err(
                crit,
                f + ".unit",
                f"unknown unit {unit!r} for {tests[0]}; accepted: {sorted(t.factors)}",
            )
        stated = fields.number(body, "value", crit, f)
        cmp = Comparison.measured(tests[0], op, stated, unit)
        if not math.isfinite(cmp.value):
            raise err(
                crit, f + ".value", f"{stated!r} {unit} is not a finite value in {t.canonical_unit}"
            )
        return cmp
    items = [x.name for x in filters if isinstance(x, ItemFilter)]
    if items and items[0] not in GRADED_ITEMS:
        raise err(crit, f + ".op", f"{items[0]} is categorical: take any or count of it")
    unit = {"lesions": "cm"}.get(table)
    if "unit" in body and body["unit"] != unit:
        raise err(
            crit, f + ".unit", f"{table} values are in {unit or 'no unit'}, got {body['unit']!r}"
        )
    return Comparison.plain(op, fields.number(body, "value", crit, f), unit)


__all__ = [
    "AGE_BOUNDS",
    "GRADED_ITEMS",
    "RULE_PARSERS",
    "ProtocolError",
    "RuleEntry",
    "RuleParser",
    "parse_rule",
    "rule_parser",
]
