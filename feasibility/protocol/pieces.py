"""The general pieces a row-reading rule is built from.

A rule leaf that reads an event table states what it asks as a :class:`Query`:

    rows of a table  ->  filters  ->  a window on the row's date  ->  a pick  ->  a comparison

- :class:`Rows` -- the rows of one table (``measurements``, ``diagnoses`` ...);
- filters -- which rows take part, each true, false or unknown on a row (a null field is
  unknown): :class:`CodeFilter` (an ICD-10 code list), :class:`TestFilter` (a measurement
  test), :class:`ItemFilter` (an assessment item), :class:`DrugFilter` (a drug list, on a
  medication's drug or a therapy line's regimen), :class:`CategoryFilter` (a procedure
  category), :class:`FlagFilter` (a Boolean column equal to a value), :class:`MinValue`
  (a numeric column at least a bound: a lesion's diameter, a line number) and the interval
  filters of exposures, :class:`StartedBy` and :class:`EndsAfter`;
- a :class:`~feasibility.protocol.windows.Window` on the row's date (``EVENT_DATE``);
  records after the index are never used;
- a :class:`Pick`: ``any`` (a qualifying row exists), ``count`` (how many), ``max`` (the
  largest value), ``latest`` (the value of the most recent row);
- the test of the picked value: a unit-aware :class:`~feasibility.protocol.compare.Comparison`
  or a :class:`ValueSet`.

The leaves of :mod:`feasibility.protocol.model` and :mod:`feasibility.protocol.domain`
state their decomposition as their ``query`` property (``Latest`` = rows(measurements) ->
test -> window -> latest -> comparison; ``Diagnosis`` = rows(diagnoses) -> code list ->
window -> any; ``Lesion`` = rows(lesions) -> MinValue(diameter) + FlagFilter(bone
contiguity) -> window -> any ...), and the :class:`~feasibility.protocol.model.Records`
node is a query written directly in a protocol (``records:``). The reference engine
interprets every query with one evaluator (:mod:`feasibility.engine.reference`).

*Selectors* are the filters that say which rows a leaf is about at all (a test, an item,
a code list, a drug list on the drug, a category): a row they reject is not a record of
the leaf. The other filters are *conditions* on a record (a record whose condition is
false is still a record: it was found, it does not qualify).
"""

from __future__ import annotations

from dataclasses import dataclass

from feasibility.protocol.codelists import CodeList, DrugList
from feasibility.protocol.compare import Comparison
from feasibility.protocol.windows import Window
from feasibility.schema import EVENT_DATE

#: The picks a query may make.
PICKS = ("any", "count", "max", "latest")

#: The numeric value a ``max`` or ``latest`` pick reads, per table (``value`` of a
#: measurement or a graded assessment, a lesion's diameter, a line's number).
VALUE_COLUMN: dict[str, str] = {
    "measurements": "value",
    "assessments": "value",
    "lesions": "longest_diameter_cm",
    "therapies": "line_number",
}

#: Tables with an end date beside the start date (an exposure).
END_DATE: dict[str, str] = {"medications": "end_date", "therapies": "end_date"}


# --------------------------------------------------------------------------- rows


@dataclass(frozen=True)
class Rows:
    """The rows of one event table; ``date`` is the column placing a row in time."""

    table: str

    def __post_init__(self) -> None:
        if self.table not in EVENT_DATE:
            raise ValueError(f"Rows: {self.table!r} is not an event table: {sorted(EVENT_DATE)}")

    @property
    def date(self) -> str:
        return EVENT_DATE[self.table]

    def describe(self) -> str:
        return self.table


# --------------------------------------------------------------------------- filters


class Filter:
    """A test on one row: true, false or unknown (a null field it reads)."""

    #: The column the filter reads.
    column: str = ""
    #: A selector says which rows a leaf is about (see the module docstring).
    selector: bool = False

    @property
    def name(self) -> str | None:
        """What a selector selects by (a test, an item, a list, a category), for reads."""
        return None

    def describe(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError


@dataclass(frozen=True)
class CodeFilter(Filter):
    """``code`` matches the ICD-10 code list (prefix after removing the dot)."""

    codelist: CodeList
    column = "code"
    selector = True

    @property
    def name(self) -> str:
        return self.codelist.name

    def describe(self) -> str:
        return f"code in {self.codelist.name}"


@dataclass(frozen=True)
class TestFilter(Filter):
    """A measurement of ``test``."""

    test: str
    column = "test"
    selector = True
    __test__ = False  # not a pytest test class

    @property
    def name(self) -> str:
        return self.test

    def describe(self) -> str:
        return self.test


@dataclass(frozen=True)
class ItemFilter(Filter):
    """An assessment of ``item``."""

    item: str
    column = "item"
    selector = True

    @property
    def name(self) -> str:
        return self.item

    def describe(self) -> str:
        return self.item


@dataclass(frozen=True)
class DrugFilter(Filter):
    """On ``drug`` (medications: the canonical name in the list; with ``systemic_only`` a
    topical, ophthalmic or otic route does not qualify, a null route does) or on
    ``regimen`` (therapies: the regimen contains a drug of the list). Only the drug-name
    form is a selector."""

    druglist: DrugList
    systemic_only: bool = False
    on: str = "drug"  # drug | regimen

    def __post_init__(self) -> None:
        if self.on not in ("drug", "regimen"):
            raise ValueError(f"DrugFilter: on is 'drug' or 'regimen', not {self.on!r}")

    @property
    def column(self) -> str:  # type: ignore[override]
        return self.on

    @property
    def selector(self) -> bool:  # type: ignore[override]
        return self.on == "drug"

    @property
    def name(self) -> str:
        return self.druglist.name

    def describe(self) -> str:
        s = "systemic " if self.systemic_only else ""
        return (
            f"{s}{self.druglist.name}" if self.on == "drug" else f"regimen of {self.druglist.name}"
        )


@dataclass(frozen=True)
class CategoryFilter(Filter):
    """A procedure of ``category``."""

    category: str
    column = "category"
    selector = True

    @property
    def name(self) -> str:
        return self.category

    def describe(self) -> str:
        return self.category


@dataclass(frozen=True)
class FlagFilter(Filter):
    """The Boolean ``column`` equals ``value`` (null: unknown)."""

    flag: str
    value: bool

    @property
    def column(self) -> str:  # type: ignore[override]
        return self.flag

    def describe(self) -> str:
        return f"{self.flag} {str(self.value).lower()}"


@dataclass(frozen=True)
class MinValue(Filter):
    """The numeric ``column`` is at least ``value`` (null: unknown); ``unit`` for the text."""

    of: str
    value: float
    unit: str | None = None

    @property
    def column(self) -> str:  # type: ignore[override]
        return self.of

    def describe(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        return f"{self.of} >= {self.value:g}{unit}"


@dataclass(frozen=True)
class StartedBy(Filter):
    """The row's start (its date) is on or before the index (``strictly``: before it).
    A missing start is unknown (an engine may place it, contract 5.1)."""

    strictly: bool = False
    column = "start_date"

    def describe(self) -> str:
        return "started " + ("before" if self.strictly else "on or before") + " index"


@dataclass(frozen=True)
class EndsAfter(Filter):
    """The row's end_date is null or on or after ``index - days`` (still going on in the
    ``days`` before the index; 0: ongoing at the index)."""

    days: int
    column = "end_date"

    def describe(self) -> str:
        if self.days == 0:
            return "not ended before index"
        return f"not ended before the {self.days} days before index"


# --------------------------------------------------------------------------- pick and test


@dataclass(frozen=True)
class Pick:
    """What is taken from the qualifying rows: ``any`` (true if one exists; none is false),
    ``count`` (their number; none is 0), ``max`` / ``latest`` (the largest value, the value
    on the most recent day, of column ``of``; no value is unknown)."""

    kind: str
    of: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in PICKS:
            raise ValueError(f"Pick: kind is one of {list(PICKS)}, not {self.kind!r}")
        if self.kind in ("max", "latest") and self.of is None:
            raise ValueError(f"Pick {self.kind}: name the column it reads ('of')")

    def describe(self) -> str:
        return {"any": "any", "count": "number of", "max": "largest", "latest": "most recent"}[
            self.kind
        ]


@dataclass(frozen=True)
class ValueSet:
    """The picked value (a categorical assessment) is one of ``values`` (lower case)."""

    values: tuple[str, ...]

    def describe(self) -> str:
        return f"in {list(self.values)}"


# --------------------------------------------------------------------------- the query


@dataclass(frozen=True)
class Query:
    """rows -> filters -> window -> pick -> test (see the module docstring). ``window``
    None: no bound on the row's date but the index (the interval filters say it); ``test``
    None: ``any``, or a ``max`` / ``latest`` value that is an input of a formula (the
    Cockcroft-Gault creatinine and weight)."""

    rows: Rows
    filters: tuple[Filter, ...]
    window: Window | None
    pick: Pick
    test: Comparison | ValueSet | None = None

    def __post_init__(self) -> None:
        if self.pick.kind == "any" and self.test is not None:
            raise ValueError("Query: pick 'any' has no test")
        if self.pick.kind == "count" and self.test is None:
            raise ValueError("Query: pick 'count' needs a comparison")

    @property
    def table(self) -> str:
        return self.rows.table

    @property
    def selectors(self) -> tuple[Filter, ...]:
        return tuple(f for f in self.filters if f.selector)

    @property
    def conditions(self) -> tuple[Filter, ...]:
        return tuple(f for f in self.filters if not f.selector)

    @property
    def names(self) -> set[str]:
        """The tests or items the query reads (measurements and assessments are read per
        test or item)."""
        return {f.name for f in self.filters if isinstance(f, TestFilter | ItemFilter)}

    @property
    def comparison(self) -> Comparison | None:
        return self.test if isinstance(self.test, Comparison) else None

    @property
    def measure(self) -> str | None:
        """What the query measures: the test or item selected (a value set's item too);
        else, for a comparison, the count or the value column (``longest_diameter_cm``)."""
        named = [f.name for f in self.selectors if isinstance(f, TestFilter | ItemFilter)]
        if named:
            return named[0]
        if self.comparison is None:
            return None
        if self.pick.kind == "count":
            return f"{self.table}_count"
        return self.pick.of

    def columns(self) -> set[tuple[str, str]]:
        """Every (table, column) the query reads: its filters', the date and the value."""
        out = {(self.table, f.column) for f in self.filters}
        out.add((self.table, self.rows.date))
        if self.pick.of is not None:
            out.add((self.table, self.pick.of))
        return out

    def describe(self) -> str:
        """E.g. ``number of procedures with radiotherapy within 365 days before index >= 2``,
        ``largest creatinine within 90 days before index > 2 mg/dL``."""
        window = f" {self.window.describe()}" if self.window is not None else ""
        test = "" if self.test is None else f" {self.test.describe()}"
        named = [f for f in self.selectors if isinstance(f, TestFilter | ItemFilter)]
        if self.pick.kind in ("max", "latest") and named:
            others = " and ".join(f.describe() for f in self.filters if f not in named)
            where = f" with {others}" if others else ""
            return f"{self.pick.describe()} {named[0].describe()}{where}{window}{test}"
        where = " and ".join(f.describe() for f in self.filters)
        what = f"{self.table}" + (f" with {where}" if where else "")
        if self.pick.kind in ("any", "count"):
            return f"{self.pick.describe()} {what}{window}{test}"
        return f"{self.pick.describe()} {self.pick.of} of {what}{window}{test}"


__all__ = [
    "END_DATE",
    "PICKS",
    "VALUE_COLUMN",
    "CategoryFilter",
    "CodeFilter",
    "DrugFilter",
    "EndsAfter",
    "Filter",
    "FlagFilter",
    "ItemFilter",
    "MinValue",
    "Pick",
    "Query",
    "Rows",
    "StartedBy",
    "TestFilter",
    "ValueSet",
]
