"""The domain rules, each one node and its parser entry in one place: the Cockcroft-Gault
creatinine clearance (a formula over two latest measurements, age and sex), a lesion
(diameter and bone contiguity) and a line of therapy.

They answer the node interface of :class:`~feasibility.protocol.model.Rule` like the
generic nodes, so the model operations (relax, deciding values, data-quality links)
need nothing special for them; each engine translates them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from feasibility.plausibility import LESION_DIAMETER_RANGE
from feasibility.protocol import fields
from feasibility.protocol.codelists import DrugList
from feasibility.protocol.compare import Comparison
from feasibility.protocol.fields import err
from feasibility.protocol.formulas import CG_AGE_FROM, CG_DIVISOR, CG_SEX_FACTOR
from feasibility.protocol.model import Read, Rule, _check_op
from feasibility.protocol.parse import RuleParser, rule_parser
from feasibility.protocol.pieces import (
    DrugFilter,
    EndsAfter,
    Filter,
    FlagFilter,
    MinValue,
    Pick,
    Query,
    Rows,
    StartedBy,
    TestFilter,
)
from feasibility.protocol.windows import MAX_DAYS, Window, parse_window

#: Bounds of a therapy ``min_line``.
MAX_LINE = 100
#: Bounds of a Cockcroft-Gault threshold (mL/min).
CLEARANCE_BOUNDS = (0.0, 1_000.0)

# --------------------------------------------------------------------------- Cockcroft-Gault


@dataclass(frozen=True)
class CockcroftGault(Rule):
    """Creatinine clearance (mL/min) = (140 - age) x weight_kg / (72 x creatinine mg/dL),
    x 0.85 for women, from the most recent creatinine and weight in their windows.
    Sex U or null, or any missing input, is unknown."""

    op: str
    value: float
    creatinine_window: Window
    weight_window: Window

    #: The formula's constants (:mod:`feasibility.protocol.formulas`, which every engine
    #: uses): (140 - age) x kg / (72 x mg/dL), x 0.85 if F.
    AGE_FROM = CG_AGE_FROM
    DIVISOR = CG_DIVISOR
    FEMALE_FACTOR = CG_SEX_FACTOR["F"]

    def __post_init__(self) -> None:
        _check_op(self, self.op)

    @property
    def inputs(self) -> tuple[Query, Query]:
        """Its row-reading parts: the latest creatinine and the latest weight in their
        windows (values for the formula, no test of their own); with age and sex from the
        patients row."""
        return (
            Query(
                Rows("measurements"),
                (TestFilter("creatinine"),),
                self.creatinine_window,
                Pick("latest", "value"),
            ),
            Query(
                Rows("measurements"),
                (TestFilter("weight"),),
                self.weight_window,
                Pick("latest", "value"),
            ),
        )

    def tables(self) -> set[str]:
        return {"patients", "measurements"}

    def describe(self) -> str:
        return (
            f"Cockcroft-Gault {self.op} {self.value:g} mL/min (creatinine "
            f"{self.creatinine_window.describe()}, weight {self.weight_window.describe()})"
        )

    def reads(self) -> list[Read]:
        return [
            ("patients", "sex", None),
            ("patients", "birth_date", None),
            ("measurements", "value", "creatinine"),
            ("measurements", "value", "weight"),
        ]

    @property
    def comparison(self) -> Comparison:
        return Comparison.plain(self.op, self.value, "mL/min")

    @property
    def measure(self) -> str:
        return "creatinine_clearance"

    def with_threshold(self, value: float, unit: str | None = None) -> Rule:
        return dataclasses.replace(self, value=float(value))

    def with_window(self, window: Window) -> Rule:
        return dataclasses.replace(self, creatinine_window=window)


@rule_parser("cockcroft_gault", keys={"op", "value", "unit", "creatinine_window", "weight_window"})
def _cockcroft_gault(p: RuleParser, body: dict, crit: str, f: str) -> Rule:
    unit = body.get("unit", "mL/min")
    if unit != "mL/min":
        raise err(crit, f + ".unit", f"Cockcroft-Gault is in mL/min, got unit {unit!r}")
    return CockcroftGault(
        fields.op(body, crit, f),
        fields.number(body, "value", crit, f, CLEARANCE_BOUNDS),
        parse_window(body.get("creatinine_window"), crit, f + ".creatinine_window"),
        parse_window(body.get("weight_window"), crit, f + ".weight_window"),
    )


# --------------------------------------------------------------------------- lesion


@dataclass(frozen=True)
class Lesion(Rule):
    """A lesion imaged in the window with longest_diameter_cm >= ``min_diameter_cm`` and
    (when set) bone_contiguous equal to ``bone_contiguous``. No lesion is false; a lesion with
    the deciding field null makes it unknown unless another lesion qualifies."""

    window: Window
    min_diameter_cm: float
    bone_contiguous: bool | None = None

    @property
    def query(self) -> Query:
        """rows(lesions) -> MinValue(longest_diameter_cm) [+ FlagFilter(bone_contiguous)]
        -> window -> any."""
        filters: tuple[Filter, ...] = (MinValue("longest_diameter_cm", self.min_diameter_cm, "cm"),)
        if self.bone_contiguous is not None:
            filters += (FlagFilter("bone_contiguous", self.bone_contiguous),)
        return Query(Rows("lesions"), filters, self.window, Pick("any"))

    def describe(self) -> str:
        bc = (
            ""
            if self.bone_contiguous is None
            else f", bone_contiguous {str(self.bone_contiguous).lower()}"
        )
        return f"lesion {self.window.describe()} with longest diameter >= {self.min_diameter_cm:g} cm{bc}"

    def reads(self) -> list[Read]:
        return [("lesions", "longest_diameter_cm", None), ("lesions", "bone_contiguous", None)]

    @property
    def comparison(self) -> Comparison:
        return Comparison.plain(">=", self.min_diameter_cm, "cm")

    @property
    def measure(self) -> str:
        return "longest_diameter_cm"

    def with_threshold(self, value: float, unit: str | None = None) -> Rule:
        return dataclasses.replace(self, min_diameter_cm=float(value))

    def with_window(self, window: Window) -> Rule:
        return dataclasses.replace(self, window=window)


@rule_parser("lesion", keys={"window", "min_diameter_cm", "bone_contiguous"})
def _lesion(p: RuleParser, body: dict, crit: str, f: str) -> Rule:
    bc = body.get("bone_contiguous")
    if bc is not None and not isinstance(bc, bool):
        raise err(crit, f + ".bone_contiguous", "expects true, false or absent")
    return Lesion(
        parse_window(body.get("window"), crit, f + ".window"),
        fields.number(body, "min_diameter_cm", crit, f, LESION_DIAMETER_RANGE),
        bc,
    )


# --------------------------------------------------------------------------- therapy line


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

    @property
    def query(self) -> Query:
        """rows(therapies) -> [investigational] [MinValue(line_number)] [regimen drug list]
        [started before index] [ongoing: started by and not ended before the index]
        [not ended before the N days] -> any (no window on the start beyond the index)."""
        filters: list[Filter] = []
        if self.investigational:
            filters.append(FlagFilter("investigational", True))
        if self.min_line is not None:
            filters.append(MinValue("line_number", self.min_line))
        if self.druglist is not None:
            filters.append(DrugFilter(self.druglist, on="regimen"))
        if self.started_before_index:
            filters.append(StartedBy(strictly=True))
        if self.ongoing:
            filters += [StartedBy(strictly=False), EndsAfter(0)]
        if self.ended_within_days is not None:
            filters.append(EndsAfter(self.ended_within_days))
        return Query(Rows("therapies"), tuple(filters), None, Pick("any"))

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

    def reads(self) -> list[Read]:
        cols: list[Read] = [("therapies", "start_date", None)]
        if self.druglist is not None:
            cols.append(("therapies", "regimen", self.druglist.name))
        if self.ongoing or self.ended_within_days is not None:
            cols.append(("therapies", "end_date", None))
        if self.investigational:
            cols.append(("therapies", "investigational", None))
        return cols


_THERAPY_KEYS = {
    "started_before_index",
    "ongoing",
    "investigational",
    "min_line",
    "drugs",
    "ended_within_days",
}


@rule_parser("therapy", keys=_THERAPY_KEYS)
def _therapy(p: RuleParser, body: dict, crit: str, f: str) -> Rule:
    ml = fields.whole(body, "min_line", crit, f, MAX_LINE, "whole number")
    dl = body.get("drugs")
    druglist = None if dl is None else p.druglist(dl, crit, f + ".drugs")
    ew = fields.whole(body, "ended_within_days", crit, f, MAX_DAYS, "whole number of days")
    t = Therapy(
        fields.flag(body, "started_before_index", False, crit, f),
        fields.flag(body, "ongoing", False, crit, f),
        fields.flag(body, "investigational", False, crit, f),
        ml,
        druglist,
        ew,
    )
    if not (t.started_before_index or t.ongoing):
        raise err(crit, f, "set started_before_index or ongoing")
    return t
