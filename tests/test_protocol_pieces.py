"""The general rule pieces (``feasibility.protocol.pieces``): every row-reading leaf states
its decomposition as a query; ``records`` is a query written in the protocol; the model
operations (tables, reads, comparison, measure, relax) read the query."""

import pytest

from feasibility.protocol import (
    CategoryFilter,
    CodeFilter,
    DrugFilter,
    EndsAfter,
    FlagFilter,
    MinValue,
    Pick,
    ProtocolError,
    Records,
    StartedBy,
    TestFilter,
    ValueSet,
    Window,
    parse_rule,
    relax_rule,
)
from feasibility.protocol.formulas import age_in_years, creatinine_clearance


def test_latest_is_rows_test_window_latest_comparison() -> None:
    r = parse_rule({"latest": {"test": "hemoglobin", "window": "30d", "op": ">=", "value": 8}})
    q = r.query
    assert q.table == "measurements"
    assert q.filters == (TestFilter("hemoglobin"),)
    assert q.window == Window(30)
    assert q.pick == Pick("latest", "value")
    assert q.test == r.comparison
    assert (r.measure, r.reads()) == ("hemoglobin", [("measurements", "value", "hemoglobin")])
    r = parse_rule({"latest": {"item": "pregnancy_test", "window": "7d", "in": ["negative"]}})
    assert r.query.test == ValueSet(("negative",))
    assert r.measure == "pregnancy_test" and r.comparison is None


def test_event_leaves_are_any_over_filtered_rows() -> None:
    d = parse_rule({"diagnosis": {"codes": ["C90"], "window": "ever"}})
    assert isinstance(d.query.filters[0], CodeFilter) and d.query.pick == Pick("any")
    p = parse_rule({"procedure": {"category": "major_surgery", "window": "14d"}})
    assert p.query.filters == (CategoryFilter("major_surgery"),)
    m = parse_rule({"medication": {"drugs": "cyp_interacting_drugs", "overlap_days": 7}})
    assert [type(f) for f in m.query.filters] == [DrugFilter, StartedBy, EndsAfter]
    assert m.query.window is None
    les = parse_rule(
        {"lesion": {"window": "90d", "min_diameter_cm": 2.0, "bone_contiguous": False}}
    )
    assert les.query.filters == (
        MinValue("longest_diameter_cm", 2.0, "cm"),
        FlagFilter("bone_contiguous", False),
    )
    t = parse_rule({"therapy": {"ongoing": True, "investigational": True, "min_line": 2}})
    assert t.query.filters == (
        FlagFilter("investigational", True),
        MinValue("line_number", 2),
        StartedBy(False),
        EndsAfter(0),
    )
    for leaf in (d, p, m, les, t):
        assert leaf.tables() == {leaf.query.table}


def test_records_reads_relaxes_and_describes() -> None:
    r = parse_rule(
        {
            "records": {
                "table": "measurements",
                "where": {"test": "creatinine"},
                "window": "90d",
                "pick": "max",
                "op": ">",
                "value": 2.0,
                "unit": "mg/dL",
            }
        }
    )
    assert isinstance(r, Records)
    assert r.describe() == "largest creatinine within 90 days before index > 2 mg/dL"
    assert r.reads() == [("measurements", "value", "creatinine")]
    assert r.measure == "creatinine"
    relaxed = relax_rule(r, "c", threshold=3.0, window=Window(180))
    assert relaxed.comparison.value == 3.0 and relaxed.query.window == Window(180)
    in_umol = relax_rule(r, "c", threshold=265.2, unit="umol/L")
    assert in_umol.comparison.value == pytest.approx(3.0, rel=1e-3)
    count = parse_rule(
        {
            "records": {
                "table": "procedures",
                "where": {"category": "radiotherapy"},
                "window": "365d",
                "pick": "count",
                "op": ">=",
                "value": 2,
            }
        }
    )
    assert count.measure == "procedures_count"
    assert relax_rule(count, "c", threshold=1).comparison.value == 1.0


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"table": "procedure", "window": "1d"}, "rule.records.table", "event table"),
        ({"table": "measurements", "window": "1d"}, "rule.records.where.test", "need a test"),
        (
            {"table": "procedures", "where": {"test": "hemoglobin"}, "window": "1d"},
            "rule.records.where.test",
            "filters measurements",
        ),
        (
            {"table": "procedures", "window": "1d", "pick": "max", "op": ">", "value": 1},
            "rule.records.pick",
            "no value",
        ),
        (
            {"table": "procedures", "window": "1d", "op": ">", "value": 1},
            "rule.records.op",
            "no comparison",
        ),
        (
            {"table": "lesions", "window": "1d", "where": {"flag": {"site": True}}},
            "rule.records.where.flag",
            "bone_contiguous",
        ),
        ({"table": "procedures", "window": "soon"}, "rule.records.window", "malformed"),
        (
            {"table": "procedures", "window": "1d", "pick": "count", "op": ">=", "value": "2"},
            "rule.records.value",
            "number",
        ),
    ],
)
def test_records_errors_name_criterion_and_field(body: dict, field: str, words: str) -> None:
    with pytest.raises(ProtocolError, match=words) as info:
        parse_rule({"records": body}, "crit_x")
    assert info.value.field == field
    assert "crit_x" in str(info.value) and "\n" not in str(info.value)


def test_formulas_are_the_contract_s() -> None:
    assert age_in_years((2000, 2, 29), (2023, 2, 28)) == 22
    assert age_in_years((2000, 2, 29), (2023, 3, 1)) == 23
    assert age_in_years((1960, 6, 30), (2024, 6, 30)) == 64
    # (140 - 70) x 70 / (72 x 1.0) x 0.85
    assert creatinine_clearance(70, 70.0, 1.0, 0.85) == pytest.approx(57.847, abs=1e-3)


def test_records_data_quality_links() -> None:
    """A records criterion uses its filtered fields and its date, windowed."""
    from feasibility.protocol import parse_protocol
    from feasibility.quality.links import Use, criterion_uses

    rule = {
        "records": {
            "table": "measurements",
            "where": {"test": "creatinine"},
            "window": "90d",
            "pick": "max",
            "op": ">",
            "value": 2.0,
        }
    }
    item = {"id": "c", "section": "inclusion", "label": "c", "source": "c", "rule": rule}
    item["if_missing"] = "unknown"
    protocol = parse_protocol({"id": "p", "title": "p", "eligibility": [item], "steps": ["c"]})
    assert criterion_uses(protocol)["c"] == [
        Use("measurements", "value", "creatinine", 90, "latest"),
        Use("measurements", "measured_on", "creatinine", 90, "latest"),
    ]
