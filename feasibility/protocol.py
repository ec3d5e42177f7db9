"""Protocols as data: load a reviewed YAML protocol file into typed, validated rules.

A protocol file (``feasibility/protocols/<id>.yaml``) lists every sentence of a trial's
eligibility text in order under ``eligibility``. Each item is either a computable
*criterion* (it has a ``rule``) or an *assumption* (it has a ``pass_rate``): something no
registry can decide, applied by the report to expected counts only. ``steps`` gives the
funnel order. Rules use a small declarative vocabulary (see :func:`parse_rule`); code
lists live in ``feasibility/codelists/*.yaml``. Every problem is raised at load time as a
:class:`~feasibility.errors.ProtocolError` naming the criterion and the field, so a bad
file never reaches the engine.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from feasibility.errors import ProtocolError
from feasibility.plausibility import LESION_DIAMETER_RANGE
from feasibility.protocol_yaml import read_protocol_yaml
from feasibility.schema import (
    ASSESSMENT_ITEMS,
    DRUG_VOCABULARY_FILE,
    PROCEDURE_CATEGORIES,
    TESTS,
    canonical_drug,
)

PROTOCOL_DIR = Path(__file__).parent / "protocols"
CODELIST_DIR = Path(__file__).parent / "codelists"

OPS = (">=", ">", "<=", "<", "==", "!=")
#: Assessment items whose values are ordinal grades (compared numerically).
GRADED_ITEMS = frozenset({"ecog", "neuropathy_grade", "diarrhea_grade"})
IF_MISSING = ("unknown", "pass", "fail")
#: Ids a criterion or assumption may not take: columns and steps the outputs already use.
RESERVED_IDS = frozenset(
    {"patient_id", "eligible", "index_date", "index_event", "registry", "step", "_row"}
)
#: Criterion and assumption ids: a letter, then letters, digits or underscores (they become
#: column names in patient_status.csv).
ID_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
#: A protocol's own id: also the file name users type.
PROTOCOL_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
#: Bounds of an ``age`` rule's value (years) and of a therapy ``min_line``.
AGE_BOUNDS = (0.0, 130.0)
MAX_LINE = 100


# --------------------------------------------------------------------------- windows


@dataclass(frozen=True)
class Window:
    """``index - days <= date <= index``; ``days=None`` means any date on or before index."""

    days: int | None

    def describe(self) -> str:
        return (
            "on or before index" if self.days is None else f"within {self.days} days before index"
        )


_WINDOW_RE = re.compile(r"^\s*(\d+)\s*d(ays?)?\s*$")


#: Longest window (and overlap) in days a protocol may give: 100 years. Anything longer is
#: a typo (``ever`` says "any time"), and would overflow date arithmetic further on.
MAX_DAYS = 36_525


def _bounded_window(days: int, crit: str, fld: str) -> Window:
    if days > MAX_DAYS:
        raise ProtocolError(
            f"criterion {crit!r}, field {fld!r}: a window of {days} days is longer than 100 "
            f"years ({MAX_DAYS} days); use 'ever' for any time before index",
            criterion=crit,
            field=fld,
        )
    return Window(days)


def parse_window(value: Any, crit: str, fld: str) -> Window:
    """Accept ``30d``, ``30 days``, an integer number of days (at most 100 years), or ``ever``."""
    if isinstance(value, bool):
        raise ProtocolError(
            f"{crit}: {fld} must be like '30d' or 'ever', got {value!r}", criterion=crit, field=fld
        )
    if isinstance(value, int) and value >= 0:
        return _bounded_window(value, crit, fld)
    if isinstance(value, str):
        if value.strip().lower() == "ever":
            return Window(None)
        m = _WINDOW_RE.match(value)
        if m:
            return _bounded_window(int(m.group(1)), crit, fld)
    raise ProtocolError(
        f"{crit}: malformed {fld} {value!r} (expected e.g. '30d' or 'ever')",
        criterion=crit,
        field=fld,
    )


# --------------------------------------------------------------------------- code lists


@dataclass(frozen=True)
class CodeList:
    """ICD-10 prefixes (normalised: no dot, upper case), 3-character ranges and exclusions."""

    name: str
    label: str
    prefixes: tuple[str, ...]
    ranges: tuple[tuple[str, str], ...] = ()
    exclude: tuple[str, ...] = ()

    def matches(self, code: str) -> bool:
        """Pure-Python twin of the engine's matcher (used in docs and tests)."""
        c = code.replace(".", "").strip().upper()
        if any(c.startswith(e) for e in self.exclude):
            return False
        return any(c.startswith(p) for p in self.prefixes) or any(
            lo <= c[:3] <= hi for lo, hi in self.ranges
        )


@dataclass(frozen=True)
class DrugList:
    """Canonical drug names and every accepted spelling (lower case) mapped to its canonical name."""

    name: str
    label: str
    drugs: tuple[str, ...]
    spellings: dict[str, str] = field(hash=False, compare=False, default_factory=dict)


def _norm_code(c: Any) -> str:
    return str(c).replace(".", "").replace(" ", "").strip().upper()


def load_codelists(
    directory: Path = CODELIST_DIR,
) -> tuple[dict[str, CodeList], dict[str, DrugList]]:
    """Read ``icd10.yaml`` and ``drugs.yaml`` (and any other ``*.yaml``) from ``directory``;
    the drug-name vocabulary (``schema.DRUG_VOCABULARY_FILE``) is not a list and is skipped.
    A list's spellings are keyed both as written (lower case) and through
    ``canonical_drug``, the normaliser the engine applies to the registry's names."""
    codes: dict[str, CodeList] = {}
    drugs: dict[str, DrugList] = {}
    for path in sorted(directory.glob("*.yaml")):
        if path.name in (DRUG_VOCABULARY_FILE.name, "plausible_ranges.yaml"):
            continue  # reviewed vocabularies beside the lists, not lists
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for name, spec in data.items():
            if not isinstance(spec, dict):
                raise ProtocolError(
                    f"codelist {name!r} in {path.name} is not a mapping", field="codelist"
                )
            if "concepts" in spec:  # an OMOP concept set: see feasibility/omop/conceptsets.py
                from feasibility.omop.conceptsets import parse_concept_set, set_code

                try:
                    parse_concept_set(str(name), spec)
                except ValueError as exc:
                    raise ProtocolError(str(exc), field="codelist") from None
                codes[name] = CodeList(name, str(spec.get("label", name)), (set_code(str(name)),))
            elif "drugs" in spec:
                spellings: dict[str, str] = {}
                canon: list[str] = []
                for drug, meta in (spec["drugs"] or {}).items():
                    c = canonical_drug(str(drug))
                    canon.append(c)
                    spellings[str(drug).strip().lower()] = c
                    spellings[c] = c
                    for syn in (meta or {}).get("synonyms", []) or []:
                        spellings[str(syn).strip().lower()] = c
                        spellings[canonical_drug(str(syn))] = c
                drugs[name] = DrugList(name, str(spec.get("label", name)), tuple(canon), spellings)
            else:
                codes[name] = CodeList(
                    name,
                    str(spec.get("label", name)),
                    tuple(_norm_code(p) for p in spec.get("prefixes", []) or []),
                    tuple((_norm_code(a), _norm_code(b)) for a, b in spec.get("ranges", []) or []),
                    tuple(_norm_code(e) for e in spec.get("exclude", []) or []),
                )
    return codes, drugs


# --------------------------------------------------------------------------- rules


class Rule:
    """Base class of the rule vocabulary. A rule is a three-valued proposition about a
    patient at an index date: true, false or unknown (data absent)."""

    def tables(self) -> set[str]:
        """Tables this rule reads directly (criterion references excluded)."""
        return set()

    def children(self) -> tuple[Rule, ...]:
        return ()

    def describe(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def reads(self) -> list[tuple[str, str, str | None]]:
        return []


@dataclass(frozen=True)
class Alive(Rule):
    """True when death_date is null or after index."""

    def tables(self) -> set[str]:
        return {"patients"}

    def describe(self) -> str:
        return "death_date is null or after index"

    def reads(self):
        return [("patients", "death_date", None)]


@dataclass(frozen=True)
class Age(Rule):
    """Age in whole years on the index date compared with a threshold."""

    op: str
    value: float

    def tables(self) -> set[str]:
        return {"patients"}

    def describe(self) -> str:
        return f"age {self.op} {self.value:g} years"

    def reads(self):
        return [("patients", "birth_date", None)]


@dataclass(frozen=True)
class Sex(Rule):
    """True when sex is one of ``values``; U or null is unknown."""

    values: tuple[str, ...]

    def tables(self) -> set[str]:
        return {"patients"}

    def describe(self) -> str:
        return f"sex in {list(self.values)}"

    def reads(self):
        return [("patients", "sex", None)]


@dataclass(frozen=True)
class Latest(Rule):
    """The most recent measurement (``test``) or assessment (``item``) in the window compared
    with a threshold (``op``/``value``, converted to the canonical unit) or a value set (``values``).
    No record in the window is unknown."""

    table: str  # measurements | assessments
    name: str
    window: Window
    op: str | None = None
    value: float | None = None  # canonical unit
    unit: str | None = None  # canonical unit (measurements)
    stated_value: float | None = None
    stated_unit: str | None = None
    values: tuple[str, ...] | None = None

    def tables(self) -> set[str]:
        return {self.table}

    def describe(self) -> str:
        what = f"most recent {self.name} {self.window.describe()}"
        if self.values is not None:
            return f"{what} in {list(self.values)}"
        unit = f" {self.stated_unit}" if self.stated_unit else ""
        return f"{what} {self.op} {self.stated_value:g}{unit}"

    def reads(self):
        return [(self.table, "value", self.name)]


@dataclass(frozen=True)
class Diagnosis(Rule):
    """A diagnosis whose code matches a code list, dated in the window. Absent is false."""

    codelist: CodeList
    window: Window

    def tables(self) -> set[str]:
        return {"diagnoses"}

    def describe(self) -> str:
        return f"diagnosis in {self.codelist.name} {self.window.describe()}"

    def reads(self):
        return [("diagnoses", "code", self.codelist.name)]


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

    def tables(self) -> set[str]:
        return {"medications"}

    def describe(self) -> str:
        s = "systemic " if self.systemic_only else ""
        started = "before" if self.started_before_index else "on or before"
        if self.overlap_days is None:
            return f"{s}exposure to {self.druglist.name} started {started} index"
        return (
            f"{s}exposure to {self.druglist.name} started {started} index, overlapping the "
            f"{self.overlap_days} days before index"
        )

    def reads(self):
        return [("medications", "drug", self.druglist.name)]


@dataclass(frozen=True)
class Procedure(Rule):
    """A procedure of ``category`` performed in the window. Absent is false."""

    category: str
    window: Window

    def tables(self) -> set[str]:
        return {"procedures"}

    def describe(self) -> str:
        return f"{self.category} {self.window.describe()}"

    def reads(self):
        return [("procedures", "category", self.category)]


@dataclass(frozen=True)
class Lesion(Rule):
    """A lesion imaged in the window with longest_diameter_cm >= ``min_diameter_cm`` and
    (when set) bone_contiguous equal to ``bone_contiguous``. No lesion is false; a lesion with
    the deciding field null makes it unknown unless another lesion qualifies."""

    window: Window
    min_diameter_cm: float
    bone_contiguous: bool | None = None

    def tables(self) -> set[str]:
        return {"lesions"}

    def describe(self) -> str:
        bc = (
            ""
            if self.bone_contiguous is None
            else f", bone_contiguous {str(self.bone_contiguous).lower()}"
        )
        return f"lesion {self.window.describe()} with longest diameter >= {self.min_diameter_cm:g} cm{bc}"

    def reads(self):
        return [("lesions", "longest_diameter_cm", None), ("lesions", "bone_contiguous", None)]


@dataclass(frozen=True)
class Therapy(Rule):
    """A line of therapy. ``started_before_index``: start_date < index. ``ongoing``: start_date
    <= index and end_date null or >= index. ``investigational``: only investigational lines.
    ``min_line``: only lines with line_number >= this. ``drugs``: only lines whose regimen
    contains a drug of the list (``schema.regimen_ingredients``). ``ended_within_days``:
    end_date null or >= index - N (still given in the N days before index). Absent is false."""

    started_before_index: bool = False
    ongoing: bool = False
    investigational: bool = False
    min_line: int | None = None
    druglist: DrugList | None = None
    ended_within_days: int | None = None

    def tables(self) -> set[str]:
        return {"therapies"}

    def describe(self) -> str:
        parts = []
        if self.investigational:
            parts.append("investigational")
        parts.append("therapy line")
        if self.min_line is not None:
            parts.append(f"number >= {self.min_line}")
        if self.druglist is not None:
            parts.append(f"with {self.druglist.name}")
        if self.started_before_index:
            parts.append("started before index")
        if self.ongoing:
            parts.append("ongoing at index")
        if self.ended_within_days is not None:
            parts.append(f"given within {self.ended_within_days} days before index")
        return " ".join(parts)

    def reads(self):
        cols = [("therapies", "start_date", None)]
        if self.druglist is not None:
            cols.append(("therapies", "regimen", self.druglist.name))
        if self.ongoing or self.ended_within_days is not None:
            cols.append(("therapies", "end_date", None))
        if self.investigational:
            cols.append(("therapies", "investigational", None))
        return cols


@dataclass(frozen=True)
class CockcroftGault(Rule):
    """Creatinine clearance (mL/min) = (140 - age) x weight_kg / (72 x creatinine mg/dL),
    x 0.85 for women, from the most recent creatinine and weight in their windows.
    Sex U or null, or any missing input, is unknown."""

    op: str
    value: float
    creatinine_window: Window
    weight_window: Window

    def tables(self) -> set[str]:
        return {"patients", "measurements"}

    def describe(self) -> str:
        return (
            f"Cockcroft-Gault {self.op} {self.value:g} mL/min (creatinine "
            f"{self.creatinine_window.describe()}, weight {self.weight_window.describe()})"
        )

    def reads(self):
        return [
            ("patients", "sex", None),
            ("patients", "birth_date", None),
            ("measurements", "value", "creatinine"),
            ("measurements", "value", "weight"),
        ]


@dataclass(frozen=True)
class And(Rule):
    parts: tuple[Rule, ...]

    def children(self):
        return self.parts

    def describe(self) -> str:
        return "(" + " AND ".join(p.describe() for p in self.parts) + ")"


@dataclass(frozen=True)
class Or(Rule):
    parts: tuple[Rule, ...]

    def children(self):
        return self.parts

    def describe(self) -> str:
        return "(" + " OR ".join(p.describe() for p in self.parts) + ")"


@dataclass(frozen=True)
class AnyPresent(Rule):
    """True if any part is true; false if at least one part is known and all known parts
    are false; unknown only when every part is unknown (contract: plasma cell leukemia,
    "fail if all present fail"). Differs from Kleene OR, where one unknown part keeps an
    otherwise-false OR unknown."""

    parts: tuple[Rule, ...]

    def children(self):
        return self.parts

    def describe(self) -> str:
        return "(any present of: " + " | ".join(p.describe() for p in self.parts) + ")"


@dataclass(frozen=True)
class Not(Rule):
    part: Rule

    def children(self):
        return (self.part,)

    def describe(self) -> str:
        return f"NOT {self.part.describe()}"


@dataclass(frozen=True)
class When(Rule):
    """Applicability: ``condition`` false -> true (not applicable); unknown -> unknown;
    true -> ``then``. Unlike Kleene implication, an unknown condition stays unknown even
    when ``then`` holds (contract: "sex F with none -> unknown")."""

    condition: Rule
    then: Rule

    def children(self):
        return (self.condition, self.then)

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


def _walk(rule: Rule) -> list[Rule]:
    """Every node of a rule tree, depth first."""
    return [rule] + [n for c in rule.children() for n in _walk(c)]


def columns_needed(leaf: Rule) -> set[tuple[str, str]]:
    """(table, column) pairs a leaf's answer depends on, optional columns included (a
    medication overlap needs end_date, systemic_only needs route, an ongoing therapy
    needs end_date). The engine makes a leaf unknown when one of them is absent from a
    present table's file (``Registry.missing_columns``)."""
    out = {(table, column) for table, column, _ in leaf.reads()}
    if isinstance(leaf, Medication):
        out |= {("medications", "start_date")}
        if leaf.overlap_days is not None:
            out.add(("medications", "end_date"))
        if leaf.systemic_only:
            out.add(("medications", "route"))
    if isinstance(leaf, Therapy) and leaf.ongoing:
        out.add(("therapies", "end_date"))
    return out


def leaves(rule: Rule) -> list[Rule]:
    """Leaf rules in depth-first order (criterion references included as leaves)."""
    kids = rule.children()
    if not kids:
        return [rule]
    return [leaf for k in kids for leaf in leaves(k)]


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

    @property
    def rule(self) -> str:
        """Human-readable rule."""
        verb = "pass when" if self.kind == "inclusion" else "fail when"
        return f"{verb} {self.rule_obj.describe()}; no data -> {self.if_missing}"

    @property
    def reads(self) -> list[tuple[str, str, str | None]]:
        out: list[tuple[str, str, str | None]] = []
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
        """(test_or_item, op, value, unit) when the rule has exactly one numeric threshold."""
        nums = numeric_leaves(self.rule_obj)
        if len(nums) != 1:
            return None
        leaf = nums[0]
        if isinstance(leaf, CockcroftGault):
            return ("creatinine_clearance", leaf.op, leaf.value, "mL/min")
        assert isinstance(leaf, Latest)
        return (leaf.name, leaf.op or "", leaf.stated_value or 0.0, leaf.stated_unit)


def numeric_leaves(rule: Rule) -> list[Rule]:
    return [
        leaf
        for leaf in leaves(rule)
        if isinstance(leaf, CockcroftGault) or (isinstance(leaf, Latest) and leaf.op is not None)
    ]


@dataclass(frozen=True)
class AppliesTo:
    """The people an assumption concerns, as a share of the eligible patients (estimate and
    plausible range) with its source; everyone else passes it (rate 1)."""

    who: str
    share: float
    share_low: float
    share_high: float
    source: str


@dataclass(frozen=True)
class Assumption:
    """A sentence no registry can decide, with an estimated pass rate and where it comes from.

    ``pass_rate`` is the rate among the people it concerns, ``rate_low``/``rate_high`` its
    plausible range (default: the estimate itself). ``given``: the rate is conditional on
    passing that earlier assumption (e.g. willingness to give samples among patients who
    consent), so the product of the rates is the joint probability. ``applies_to``: only a
    share of the eligible patients is concerned (e.g. women of childbearing potential).
    ``same_as``: the same judgement as another assumption (its text kept in protocol
    order), counted once, there."""

    id: str
    section: str
    text: tuple[str, ...]
    pass_rate: float
    source: str
    rate_low: float | None = None
    rate_high: float | None = None
    given: str | None = None
    applies_to: AppliesTo | None = None
    same_as: str | None = None

    def effective_rate(self, bound: str = "estimate") -> float:
        """The pass rate over all eligible patients: ``1 - share * (1 - rate)`` when the
        assumption concerns a share of them; 1 when it is counted under another.
        ``bound``: ``estimate``, ``low`` (lowest rate, largest share) or ``high``."""
        if self.same_as is not None:
            return 1.0
        rate = {
            "estimate": self.pass_rate,
            "low": self.pass_rate if self.rate_low is None else self.rate_low,
            "high": self.pass_rate if self.rate_high is None else self.rate_high,
        }[bound]
        if self.applies_to is None:
            return rate
        a = self.applies_to
        share = {"estimate": a.share, "low": a.share_high, "high": a.share_low}[bound]
        return 1.0 - share * (1.0 - rate)


@dataclass(frozen=True)
class ExpectedRange:
    """Expected enrolment from ``eligible`` patients: the estimate and a low-high range from
    the assumptions' rate ranges (every rate at its low end, then every one at its high end:
    a deliberately wide, conservative range, not a confidence interval)."""

    eligible: int
    estimate: float
    low: float
    high: float
    rate: float
    rate_low: float
    rate_high: float

    def describe(self, digits: int = 1) -> str:
        return f"≈ {self.estimate:,.{digits}f} ({self.low:,.{digits}f}–{self.high:,.{digits}f})"


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


# --------------------------------------------------------------------------- parsing


class _Parser:
    def __init__(self, codes: dict[str, CodeList], drugs: dict[str, DrugList]):
        self.codes = codes
        self.drugs = drugs

    def err(self, crit: str, fld: str, msg: str) -> ProtocolError:
        return ProtocolError(f"criterion {crit!r}, field {fld!r}: {msg}", criterion=crit, field=fld)

    def op(self, spec: dict, crit: str, fld: str) -> str:
        op = spec.get("op")
        if op not in OPS:
            raise self.err(crit, f"{fld}.op", f"op must be one of {list(OPS)}, got {op!r}")
        return op

    def number(
        self,
        spec: dict,
        key: str,
        crit: str,
        fld: str,
        bounds: tuple[float, float] | None = None,
    ) -> float:
        """A finite number (YAML int or float; no bool, no .nan/.inf), inside ``bounds``."""
        v = spec.get(key)
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise self.err(crit, f"{fld}.{key}", f"expected a number, got {v!r}")
        try:
            value = float(v)
        except OverflowError:
            value = math.inf
        if not math.isfinite(value):
            raise self.err(crit, f"{fld}.{key}", f"expected a finite number, got {v!r}")
        if bounds is not None and not bounds[0] <= value <= bounds[1]:
            raise self.err(crit, f"{fld}.{key}", f"{v!r} is outside {bounds[0]:g}..{bounds[1]:g}")
        return value

    def flag(self, spec: dict, key: str, default: bool, crit: str, fld: str) -> bool:
        """A YAML boolean (true/false); a string such as "false" is refused, not truthy."""
        v = spec.get(key, default)
        if not isinstance(v, bool):
            raise self.err(crit, f"{fld}.{key}", f"expects true or false (unquoted), got {v!r}")
        return v

    def check_keys(self, spec: dict, allowed: set[str], crit: str, fld: str) -> None:
        extra = set(spec) - allowed
        if extra:
            raise self.err(
                crit, fld, f"unknown key(s) {sorted(map(str, extra))}; allowed {sorted(allowed)}"
            )

    def rule(self, spec: Any, crit: str, fld: str = "rule") -> Rule:
        if not isinstance(spec, dict) or len(spec) != 1:
            raise self.err(
                crit, fld, f"a rule is a mapping with exactly one key (its type), got {spec!r}"
            )
        ((kind, body),) = spec.items()
        f = f"{fld}.{kind}"
        if kind in ("all", "any", "any_present"):
            if not isinstance(body, list) or not body:
                raise self.err(crit, f, "expects a non-empty list of rules")
            parts = tuple(self.rule(b, crit, f"{f}[{i}]") for i, b in enumerate(body))
            return {"all": And, "any": Or, "any_present": AnyPresent}[kind](parts)
        if kind == "not":
            return Not(self.rule(body, crit, f))
        if kind == "when":
            if not isinstance(body, dict) or set(body) != {"condition", "then"}:
                raise self.err(crit, f, "expects keys 'condition' and 'then'")
            return When(
                self.rule(body["condition"], crit, f + ".condition"),
                self.rule(body["then"], crit, f + ".then"),
            )
        if kind == "criterion":
            if not isinstance(body, str):
                raise self.err(crit, f, "expects a criterion id")
            return Ref(body)
        if kind == "alive":
            return Alive()
        if kind == "undecidable":
            reason = (body or {}).get("reason") if isinstance(body, dict) else None
            if not isinstance(reason, str) or not reason.strip():
                raise self.err(crit, f + ".reason", "say which fact the registry does not hold")
            return Undecidable(reason.strip())
        body = body or {}
        if not isinstance(body, dict):
            raise self.err(crit, f, f"expects a mapping, got {body!r}")
        if kind == "age":
            self.check_keys(body, {"op", "value"}, crit, f)
            return Age(self.op(body, crit, f), self.number(body, "value", crit, f, AGE_BOUNDS))
        if kind == "sex":
            self.check_keys(body, {"in"}, crit, f)
            vals = body.get("in")
            if (
                not isinstance(vals, list)
                or not all(isinstance(v, str) for v in vals)
                or not set(vals) <= {"F", "M"}
            ):
                raise self.err(crit, f + ".in", f"expects a list of F/M, got {vals!r}")
            return Sex(tuple(vals))
        if kind == "latest":
            return self.latest(body, crit, f)
        if kind == "diagnosis":
            self.check_keys(body, {"codes", "window"}, crit, f)
            name = body.get("codes")
            if isinstance(name, list):
                inline = tuple(_norm_code(c) for c in name if isinstance(c, str))
                if not name or len(inline) != len(name) or not all(inline):
                    raise self.err(crit, f + ".codes", "expects non-empty ICD-10 code strings")
                cl = CodeList("inline", "inline", inline)
            elif isinstance(name, str) and name in self.codes:
                cl = self.codes[name]
            else:
                raise self.err(
                    crit, f + ".codes", f"unknown codelist {name!r}; known: {sorted(self.codes)}"
                )
            return Diagnosis(cl, parse_window(body.get("window"), crit, f + ".window"))
        if kind == "medication":
            self.check_keys(
                body, {"drugs", "overlap_days", "systemic_only", "started_before_index"}, crit, f
            )
            name = body.get("drugs")
            if not isinstance(name, str) or name not in self.drugs:
                raise self.err(
                    crit, f + ".drugs", f"unknown drug list {name!r}; known: {sorted(self.drugs)}"
                )
            od = body.get("overlap_days")
            if od == "ever":
                od = None
            elif isinstance(od, bool) or not isinstance(od, int) or not 0 <= od <= MAX_DAYS:
                raise self.err(
                    crit,
                    f + ".overlap_days",
                    f"expects a whole number of days from 0 to {MAX_DAYS} or 'ever', got {od!r}",
                )
            systemic = self.flag(body, "systemic_only", True, crit, f)
            started = self.flag(body, "started_before_index", False, crit, f)
            return Medication(self.drugs[name], od, systemic, started)
        if kind == "procedure":
            self.check_keys(body, {"category", "window"}, crit, f)
            cat = body.get("category")
            if not isinstance(cat, str) or cat not in PROCEDURE_CATEGORIES:
                raise self.err(crit, f + ".category", f"unknown procedure category {cat!r}")
            return Procedure(cat, parse_window(body.get("window"), crit, f + ".window"))
        if kind == "lesion":
            self.check_keys(body, {"window", "min_diameter_cm", "bone_contiguous"}, crit, f)
            bc = body.get("bone_contiguous")
            if bc is not None and not isinstance(bc, bool):
                raise self.err(crit, f + ".bone_contiguous", "expects true, false or absent")
            return Lesion(
                parse_window(body.get("window"), crit, f + ".window"),
                self.number(body, "min_diameter_cm", crit, f, LESION_DIAMETER_RANGE),
                bc,
            )
        if kind == "therapy":
            self.check_keys(
                body,
                {
                    "started_before_index",
                    "ongoing",
                    "investigational",
                    "min_line",
                    "drugs",
                    "ended_within_days",
                },
                crit,
                f,
            )
            ml = body.get("min_line")
            if ml is not None and (
                isinstance(ml, bool) or not isinstance(ml, int) or not 0 <= ml <= MAX_LINE
            ):
                raise self.err(
                    crit,
                    f + ".min_line",
                    f"expects a whole number from 0 to {MAX_LINE}, got {ml!r}",
                )
            dl = body.get("drugs")
            if dl is not None and (not isinstance(dl, str) or dl not in self.drugs):
                raise self.err(
                    crit, f + ".drugs", f"unknown drug list {dl!r}; known: {sorted(self.drugs)}"
                )
            ew = body.get("ended_within_days")
            if ew is not None and (
                isinstance(ew, bool) or not isinstance(ew, int) or not 0 <= ew <= MAX_DAYS
            ):
                raise self.err(
                    crit,
                    f + ".ended_within_days",
                    f"expects a whole number of days from 0 to {MAX_DAYS}, got {ew!r}",
                )
            t = Therapy(
                self.flag(body, "started_before_index", False, crit, f),
                self.flag(body, "ongoing", False, crit, f),
                self.flag(body, "investigational", False, crit, f),
                ml,
                None if dl is None else self.drugs[dl],
                ew,
            )
            if not (t.started_before_index or t.ongoing):
                raise self.err(crit, f, "set started_before_index or ongoing")
            return t
        if kind == "cockcroft_gault":
            self.check_keys(
                body, {"op", "value", "unit", "creatinine_window", "weight_window"}, crit, f
            )
            unit = body.get("unit", "mL/min")
            if unit != "mL/min":
                raise self.err(
                    crit, f + ".unit", f"Cockcroft-Gault is in mL/min, got unit {unit!r}"
                )
            return CockcroftGault(
                self.op(body, crit, f),
                self.number(body, "value", crit, f, (0.0, 1_000.0)),
                parse_window(body.get("creatinine_window"), crit, f + ".creatinine_window"),
                parse_window(body.get("weight_window"), crit, f + ".weight_window"),
            )
        raise self.err(crit, fld, f"unknown rule type {kind!r}")

    def latest(self, body: dict, crit: str, f: str) -> Latest:
        self.check_keys(body, {"test", "item", "window", "op", "value", "unit", "in"}, crit, f)
        window = parse_window(body.get("window"), crit, f + ".window")
        if ("test" in body) == ("item" in body):
            raise self.err(
                crit, f, "give exactly one of 'test' (measurement) or 'item' (assessment)"
            )
        if "test" in body:
            test = body["test"]
            if not isinstance(test, str) or test not in TESTS:
                raise self.err(crit, f + ".test", f"unknown test {test!r}; known: {sorted(TESTS)}")
            t = TESTS[test]
            unit = body.get("unit", t.canonical_unit)
            if not isinstance(unit, str) or unit not in t.factors:
                raise self.err(
                    crit,
                    f + ".unit",
                    f"unknown unit {unit!r} for {test}; accepted: {sorted(t.factors)}",
                )
            op = self.op(body, crit, f)
            stated = self.number(body, "value", crit, f)
            canonical = stated * t.factors[unit]
            if not math.isfinite(canonical):
                raise self.err(
                    crit,
                    f + ".value",
                    f"{stated!r} {unit} is not a finite value in {t.canonical_unit}",
                )
            return Latest(
                "measurements",
                test,
                window,
                op,
                canonical,
                t.canonical_unit,
                stated,
                unit,
            )
        item = body["item"]
        if not isinstance(item, str) or item not in ASSESSMENT_ITEMS:
            raise self.err(
                crit, f + ".item", f"unknown item {item!r}; known: {sorted(ASSESSMENT_ITEMS)}"
            )
        if "unit" in body:
            raise self.err(crit, f + ".unit", "assessments have no unit")
        if "in" in body:
            vals = body["in"]
            if not isinstance(vals, list) or not vals:
                raise self.err(crit, f + ".in", "expects a non-empty list of values")
            vals = [str(v).strip().lower() for v in vals]
            bad = [v for v in vals if v not in ASSESSMENT_ITEMS[item]]
            if bad:
                raise self.err(
                    crit,
                    f + ".in",
                    f"values {bad} not allowed for {item}: {list(ASSESSMENT_ITEMS[item])}",
                )
            return Latest("assessments", item, window, values=tuple(vals))
        if item not in GRADED_ITEMS:
            raise self.err(crit, f + ".op", f"{item} is categorical: use 'in' instead of op/value")
        op = self.op(body, crit, f)
        v = self.number(body, "value", crit, f, (0.0, 10.0))
        return Latest("assessments", item, window, op, v, None, v, None)


def _rate(value: Any, cid: str, fld: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ProtocolError(
            f"assumption {cid!r}, field {fld!r}: a number in [0, 1], got {value!r}",
            criterion=cid,
            field=fld,
        )
    return float(value)


_ASSUMPTION_KEYS = {
    "id",
    "section",
    "text",
    "pass_rate",
    "rate_low",
    "rate_high",
    "rate_source",
    "given",
    "applies_to",
    "same_as",
    "notes",
}


def _assumption(item: dict, cid: str, section: str, earlier: list[Assumption]) -> Assumption:
    """Parse an assumption item (see :class:`Assumption`); references must name an earlier
    assumption, and a rate range must contain its estimate."""
    extra = set(item) - _ASSUMPTION_KEYS
    if extra:
        raise ProtocolError(
            f"assumption {cid!r}: unknown key(s) {sorted(extra)}", criterion=cid, field="rule"
        )
    known = {a.id: a for a in earlier}
    text = _as_lines(item.get("text"), cid, "text")
    same_as = item.get("same_as")
    if same_as is not None:
        if same_as not in known or known[same_as].same_as is not None:
            raise ProtocolError(
                f"assumption {cid!r}, field 'same_as': names no earlier counted assumption "
                f"({same_as!r})",
                criterion=cid,
                field="same_as",
            )
        if "pass_rate" in item:
            raise ProtocolError(
                f"assumption {cid!r}: same_as is counted under {same_as!r}; give no pass_rate",
                criterion=cid,
                field="pass_rate",
            )
        ref = known[same_as]
        return Assumption(
            cid, section, text, ref.pass_rate, f"counted once under {same_as}", same_as=same_as
        )
    rate = _rate(item.get("pass_rate"), cid, "pass_rate")
    low = _rate(item.get("rate_low", rate), cid, "rate_low")
    high = _rate(item.get("rate_high", rate), cid, "rate_high")
    if not low <= rate <= high:
        raise ProtocolError(
            f"assumption {cid!r}: rate_low <= pass_rate <= rate_high, got {low}, {rate}, {high}",
            criterion=cid,
            field="rate_low",
        )
    src = item.get("rate_source")
    if not isinstance(src, str) or not src:
        raise ProtocolError(
            f"assumption {cid!r}, field 'rate_source': required",
            criterion=cid,
            field="rate_source",
        )
    given = item.get("given")
    if given is not None and given not in known:
        raise ProtocolError(
            f"assumption {cid!r}, field 'given': names no earlier assumption ({given!r})",
            criterion=cid,
            field="given",
        )
    applies = item.get("applies_to")
    applies_to = None
    if applies is not None:
        if not isinstance(applies, dict) or not isinstance(applies.get("who"), str):
            raise ProtocolError(
                f"assumption {cid!r}, field 'applies_to': a mapping with who, share, "
                "share_low, share_high, source",
                criterion=cid,
                field="applies_to",
            )
        share = _rate(applies.get("share"), cid, "applies_to.share")
        s_low = _rate(applies.get("share_low", share), cid, "applies_to.share_low")
        s_high = _rate(applies.get("share_high", share), cid, "applies_to.share_high")
        s_src = applies.get("source")
        if not s_low <= share <= s_high or not isinstance(s_src, str) or not s_src:
            raise ProtocolError(
                f"assumption {cid!r}, field 'applies_to': share_low <= share <= share_high "
                "and a source are required",
                criterion=cid,
                field="applies_to",
            )
        applies_to = AppliesTo(applies["who"], share, s_low, s_high, s_src)
    return Assumption(cid, section, text, rate, src, low, high, given, applies_to)


def _as_lines(v: Any, crit: str, fld: str) -> tuple[str, ...]:
    if isinstance(v, str) and v.strip():
        return (v,)
    if isinstance(v, list) and v and all(isinstance(x, str) for x in v):
        return tuple(v)
    raise ProtocolError(
        f"criterion {crit!r}, field {fld!r}: expected text or a list of lines",
        criterion=crit,
        field=fld,
    )


def parse_protocol(
    data: dict,
    *,
    path: Path | None = None,
    fingerprint: str = "",
    codelist_dir: Path = CODELIST_DIR,
) -> Protocol:
    """Validate a protocol mapping (as read from YAML) and build a :class:`Protocol`."""
    if not isinstance(data, dict):
        raise ProtocolError(
            "a protocol file is a mapping with id, title, eligibility, steps", field="file"
        )
    for key in ("id", "title", "eligibility", "steps"):
        if key not in data:
            raise ProtocolError(f"protocol file lacks {key!r}", field=key)
    if not isinstance(data["id"], str) or not PROTOCOL_ID_PATTERN.match(data["id"]):
        raise ProtocolError(
            f"field 'id': {str(data['id'])[:40]!r} is not a valid protocol id (letters, digits, "
            "'.', '_' or '-'; at most 100 characters)",
            field="id",
        )
    if not isinstance(data["title"], str) or not data["title"].strip():
        raise ProtocolError("field 'title': expected a line of text", field="title")
    if len(data["title"]) > 1000:
        raise ProtocolError("field 'title': longer than 1000 characters", field="title")
    if not isinstance(data["eligibility"], list | None):
        raise ProtocolError("field 'eligibility': expected a list of items", field="eligibility")
    codes, drugs = load_codelists(codelist_dir)
    parser = _Parser(codes, drugs)
    criteria: list[Criterion] = []
    assumptions: list[Assumption] = []
    seen: set[str] = set()
    items: list[str] = []
    for n, item in enumerate(data["eligibility"] or []):
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            raise ProtocolError(f"eligibility item #{n + 1} has no id", field="id")
        cid = item["id"]
        if not ID_PATTERN.match(cid):
            raise ProtocolError(
                f"eligibility item #{n + 1}, field 'id': {cid[:40]!r} is not a valid id (a "
                "letter, then letters, digits or _; at most 64 characters)",
                criterion=cid[:64],
                field="id",
            )
        if cid in RESERVED_IDS:
            raise ProtocolError(
                f"criterion {cid!r}, field 'id': {cid!r} is reserved (the outputs use it: "
                f"{', '.join(sorted(RESERVED_IDS))}); choose another id",
                criterion=cid,
                field="id",
            )
        if cid in seen:
            raise ProtocolError(f"duplicate id {cid!r}", criterion=cid, field="id")
        seen.add(cid)
        items.append(cid)
        section = item.get("section")
        if section not in ("inclusion", "exclusion"):
            raise ProtocolError(
                f"criterion {cid!r}, field 'section': inclusion or exclusion, got {section!r}",
                criterion=cid,
                field="section",
            )
        if "rule" in item and "pass_rate" in item:
            raise ProtocolError(
                f"criterion {cid!r}: an item has either rule or pass_rate",
                criterion=cid,
                field="rule",
            )
        if "rule" in item:
            im = item.get("if_missing")
            if im not in IF_MISSING:
                raise ProtocolError(
                    f"criterion {cid!r}, field 'if_missing': one of {list(IF_MISSING)}, got {im!r}",
                    criterion=cid,
                    field="if_missing",
                )
            label = item.get("label")
            if not isinstance(label, str) or not label:
                raise ProtocolError(
                    f"criterion {cid!r}, field 'label': required", criterion=cid, field="label"
                )
            rule_obj = parser.rule(item["rule"], cid)
            if section == "exclusion" and any(isinstance(r, When) for r in _walk(rule_obj)):
                raise ProtocolError(
                    f"criterion {cid!r}, field 'rule': 'when' (not applicable -> pass) only fits "
                    "inclusion criteria; for an exclusion write all: [condition, rule]",
                    criterion=cid,
                    field="rule",
                )
            criteria.append(
                Criterion(
                    cid,
                    section,
                    label,
                    _as_lines(item.get("source"), cid, "source"),
                    rule_obj,
                    im,
                    item.get("notes"),
                )
            )
        elif "pass_rate" in item or "same_as" in item:
            assumptions.append(_assumption(item, cid, section, assumptions))
        else:
            raise ProtocolError(
                f"item {cid!r} has neither rule nor pass_rate", criterion=cid, field="rule"
            )
    ids = {c.id for c in criteria}
    # references must name criteria and must not form cycles
    graph = {
        c.id: [leaf.criterion for leaf in leaves(c.rule_obj) if isinstance(leaf, Ref)]
        for c in criteria
    }
    for cid, refs in graph.items():
        for r in refs:
            if r not in ids:
                raise ProtocolError(
                    f"criterion {cid!r}, field 'rule': unknown criterion {r!r} in combination",
                    criterion=cid,
                    field="rule",
                )
    _check_acyclic(graph)
    steps = data["steps"]
    if not isinstance(steps, list) or not steps:
        raise ProtocolError("steps must be a non-empty list of criterion ids", field="steps")
    for s in steps:
        if not isinstance(s, str) or s not in ids:
            raise ProtocolError(f"steps: unknown criterion {s!r}", criterion=str(s), field="steps")
    if len(set(steps)) != len(steps):
        raise ProtocolError("steps: duplicate criterion", field="steps")
    reachable: set[str] = set()
    stack = list(steps)
    while stack:
        s = stack.pop()
        if s not in reachable:
            reachable.add(s)
            stack.extend(graph[s])
    for c in criteria:
        if c.id not in reachable:
            raise ProtocolError(
                f"criterion {c.id!r} is neither a step nor part of one",
                criterion=c.id,
                field="steps",
            )
    target = data.get("target_enrolment")
    if target is not None and (
        isinstance(target, bool) or not isinstance(target, int) or not 1 <= target <= 100_000
    ):
        raise ProtocolError(
            f"target_enrolment expects a whole number of patients from 1 to 100000, got {target!r}",
            field="target_enrolment",
        )
    return Protocol(
        id=str(data["id"]),
        title=str(data["title"]),
        path=path,
        fingerprint=fingerprint,
        criteria=tuple(criteria),
        steps=tuple(steps),
        assumptions=tuple(assumptions),
        registration=data.get("registration"),
        items=tuple(items),
        target_enrolment=target,
    )


def _check_acyclic(graph: dict[str, list[str]]) -> None:
    state: dict[str, int] = {}

    def visit(n: str) -> None:
        if state.get(n) == 1:
            raise ProtocolError(
                f"criterion {n!r}, field 'rule': circular criterion reference",
                criterion=n,
                field="rule",
            )
        if state.get(n) == 2:
            return
        state[n] = 1
        for m in graph[n]:
            visit(m)
        state[n] = 2

    for n in graph:
        visit(n)


def available_protocols() -> list[str]:
    """Ids of the protocol files shipped with the package."""
    return sorted(p.stem for p in PROTOCOL_DIR.glob("*.yaml"))


def load_protocol(ref: str | Path) -> Protocol:
    """Load a protocol by id (a file in ``feasibility/protocols``) or by path.

    The file is read by :func:`feasibility.protocol_yaml.read_protocol_yaml`: a small UTF-8
    YAML file without aliases; anything else is a :class:`ProtocolError`."""
    path = Path(ref)
    if not (path.suffix in (".yaml", ".yml") and path.exists()):
        candidate = PROTOCOL_DIR / f"{ref}.yaml"
        if candidate.exists():
            path = candidate
        elif path.exists():
            pass
        else:
            raise ProtocolError(
                f"no protocol {str(ref)!r}: not a file and not one of {available_protocols()}",
                field="id",
            )
    data, raw = read_protocol_yaml(path)
    return parse_protocol(data, path=path, fingerprint=hashlib.sha256(raw).hexdigest())
