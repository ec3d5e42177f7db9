"""The rule model as a package: one parser entry per node, invariants, the unit-aware
comparison, and the model operations (relax, deciding measure)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pytest

from feasibility.errors import ProtocolError
from feasibility.protocol import (
    OPS,
    RULE_PARSERS,
    Age,
    And,
    CockcroftGault,
    Comparison,
    Latest,
    Lesion,
    Medication,
    Rule,
    UnitError,
    Window,
    compare,
    deciding_measure,
    load_protocol,
    parse_rule,
    relax_rule,
    rule_parser,
    thresholded_leaves,
    whole_years,
)
from feasibility.protocol import model as model_module
from feasibility.protocol.domain import Therapy

DOCS = Path(__file__).resolve().parents[1] / "docs" / "SCREENING.md"

#: One small rule per YAML key, and the node class it must give.
EXAMPLES: dict[str, tuple[object, str]] = {
    "all": ([{"alive": None}, {"age": {"op": ">=", "value": 18}}], "And"),
    "any": ([{"alive": None}], "Or"),
    "any_present": ([{"alive": None}], "AnyPresent"),
    "not": ({"alive": None}, "Not"),
    "when": ({"condition": {"sex": {"in": ["F"]}}, "then": {"alive": None}}, "When"),
    "criterion": ("ecog", "Ref"),
    "undecidable": ({"reason": "response to past therapy"}, "Undecidable"),
    "alive": (None, "Alive"),
    "age": ({"op": ">=", "value": 18}, "Age"),
    "sex": ({"in": ["F"]}, "Sex"),
    "latest": ({"test": "hemoglobin", "window": "30d", "op": ">=", "value": 8}, "Latest"),
    "diagnosis": ({"codes": ["C90.0"], "window": "ever"}, "Diagnosis"),
    "medication": ({"drugs": "cyp_interacting_drugs", "overlap_days": 14}, "Medication"),
    "procedure": ({"category": "major_surgery", "window": "14d"}, "Procedure"),
    "lesion": ({"window": "28d", "min_diameter_cm": 2.0}, "Lesion"),
    "therapy": ({"started_before_index": True}, "Therapy"),
    "records": (
        {
            "table": "procedures",
            "where": {"category": "radiotherapy"},
            "window": "365d",
            "pick": "count",
            "op": ">=",
            "value": 2,
        },
        "Records",
    ),
    "cockcroft_gault": (
        {"op": ">=", "value": 30, "creatinine_window": "28d", "weight_window": "90d"},
        "CockcroftGault",
    ),
}


def _node_classes() -> set[type]:
    out: set[type] = set()
    todo = list(Rule.__subclasses__())
    while todo:
        cls = todo.pop()
        out.add(cls)
        todo += cls.__subclasses__()
    return {c for c in out if c.__module__.startswith("feasibility.protocol")}


def test_one_parser_entry_per_rule_type() -> None:
    assert set(RULE_PARSERS) == set(EXAMPLES)
    made = {type(parse_rule({key: body})).__name__ for key, (body, _) in EXAMPLES.items()}
    assert made == {name for _, name in EXAMPLES.values()}
    # every node class of the package is made by some entry
    assert {c.__name__ for c in _node_classes()} == made


def test_every_rule_type_is_documented() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for key in RULE_PARSERS:
        assert f"`{key}:" in text or f"`{key}: " in text, key


def test_parser_errors_name_the_field() -> None:
    with pytest.raises(ProtocolError, match=r"field 'rule': unknown rule type 'bogus'"):
        parse_rule({"bogus": {}}, "x")
    with pytest.raises(ProtocolError, match=r"field 'rule.bogus': expects a mapping, got 5"):
        parse_rule({"bogus": 5}, "x")
    with pytest.raises(ProtocolError, match=r"field 'rule.all\[1\].age.op'"):
        parse_rule({"all": [{"alive": None}, {"age": {"op": "=>", "value": 3}}]}, "x")
    with pytest.raises(ProtocolError, match=r"unknown key\(s\) \['valu'\]"):
        parse_rule({"age": {"op": ">=", "valu": 3}}, "x")


def test_a_new_rule_type_is_one_node_and_one_entry() -> None:
    @dataclass(frozen=True)
    class Weekday(Rule):
        day: int

        def describe(self) -> str:
            return f"index on weekday {self.day}"

    @rule_parser("weekday", keys={"day"})
    def _weekday(p, body, crit, f):  # type: ignore[no-untyped-def]
        return Weekday(int(body["day"]))

    try:
        rule = parse_rule({"all": [{"alive": None}, {"weekday": {"day": 2}}]}, "x")
        assert rule == And((parse_rule({"alive": None}), Weekday(2)))
        with pytest.raises(ProtocolError, match="unknown key"):
            parse_rule({"weekday": {"day": 2, "hour": 3}}, "x")
        with pytest.raises(ValueError, match="registered twice"):
            rule_parser("weekday")(_weekday)
    finally:
        del RULE_PARSERS["weekday"]


def test_latest_invariant_is_explicit() -> None:
    w = Window(30)
    with pytest.raises(ValueError, match="op must be one of"):
        Latest("measurements", "hemoglobin", w)  # neither a threshold nor a value set
    with pytest.raises(ValueError, match="a value set has no op/value"):
        Latest("assessments", "pregnancy_test", w, ">=", 1.0, values=("negative",))
    leaf = Latest("measurements", "hemoglobin", w, ">=", 8.0, "g/dL")
    assert (leaf.stated_value, leaf.stated_unit) == (8.0, "g/dL")
    assert leaf.comparison == Comparison(">=", 8.0, "g/dL", 8.0, "g/dL")
    assert Latest("assessments", "pregnancy_test", w, values=("negative",)).comparison is None
    with pytest.raises(ValueError):
        Age("=>", 18.0)


def test_comparison_is_unit_aware() -> None:
    cmp = Comparison.measured("hemoglobin", ">=", 80, "g/L")
    assert (cmp.value, cmp.unit, cmp.stated_value, cmp.stated_unit) == (8.0, "g/dL", 80, "g/L")
    assert cmp.describe() == ">= 80 g/L"
    assert cmp.test(8.0) and not cmp.test(7.9)
    assert Comparison.measured("weight", "<", 100).unit == "kg"
    with pytest.raises(UnitError, match="unit 'mmol/L' not accepted for hemoglobin"):
        Comparison.measured("hemoglobin", ">=", 5, "mmol/L")
    results = [compare(2.0, op, 2.0) for op in OPS]
    assert results == [True, False, True, False, True, False]


def test_thresholded_leaves_and_their_measures() -> None:
    proto = load_protocol("pomalidomide-ixazomib-dex")
    measures = {
        deciding_measure(leaf) for c in proto.criteria for leaf in thresholded_leaves(c.rule_obj)
    }
    assert {"creatinine_clearance", "hemoglobin", "ecog", "longest_diameter_cm"} <= measures
    assert deciding_measure(Age(">=", 18.0)) == "age"
    assert deciding_measure(Therapy(started_before_index=True)) == "therapy"


def test_relax_is_a_model_operation() -> None:
    proto = load_protocol("pomalidomide-ixazomib-dex")
    hb = proto.criterion("hemoglobin").rule_obj
    relaxed = relax_rule(hb, "hemoglobin", threshold=75, unit="g/L")
    leaf = thresholded_leaves(relaxed)[0]
    assert isinstance(leaf, Latest)
    assert (leaf.value, leaf.stated_value, leaf.stated_unit) == (7.5, 75, "g/L")
    with pytest.raises(ValueError, match="hemoglobin: unit 'mmol/L' not accepted"):
        relax_rule(hb, "hemoglobin", threshold=5, unit="mmol/L")
    crcl = proto.criterion("creatinine_clearance").rule_obj
    out = relax_rule(crcl, "creatinine_clearance", threshold=25, measure="creatinine_clearance")
    cg = [x for x in thresholded_leaves(out) if isinstance(x, CockcroftGault)]
    assert [x.value for x in cg] == [25.0]
    # a window goes to every leaf with one; a medication's window is its overlap
    med = proto.criterion("cyp_interacting_drugs").rule_obj
    meds = [
        x
        for x in model_module.leaves(relax_rule(med, "c", window=Window(30)))
        if isinstance(x, Medication)
    ]
    assert meds and all(m.overlap_days == 30 for m in meds)
    lesion = Lesion(Window(28), 2.0)
    assert relax_rule(lesion, "l", threshold=3) == dataclasses.replace(lesion, min_diameter_cm=3.0)


def test_whole_years() -> None:
    born = dt.date(2000, 2, 29)
    assert whole_years(born, dt.date(2018, 2, 28)) == 17
    assert whole_years(born, dt.date(2018, 3, 1)) == 18
    assert whole_years(dt.date(2000, 5, 1), dt.date(2018, 5, 1)) == 18
    assert whole_years(dt.date(2020, 1, 2), dt.date(2020, 1, 1)) is None
