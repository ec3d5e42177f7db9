"""The suite files: GX-loadable, complete meta, in sync with the contract constants and
the generator's plausible ranges; the reviewed copy (expectations/) and the package copy
identical; no criterion id typed anywhere (the link comes from each protocol's rules)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import great_expectations as gx
import pytest

from feasibility.plausibility import AGE_RANGE, PLAUSIBLE_RANGES
from feasibility.quality.suites import CATEGORIES, FRAMES, SEVERITIES, SUITE_DIR, load_checks
from feasibility.schema import ASSESSMENT_ITEMS, TABLES, TESTS

ROOT = Path(__file__).resolve().parents[1]
REVIEWED = ROOT / "expectations"
PROTOCOLS = sorted((ROOT / "feasibility" / "protocols").glob("*.yaml"))
SUITES = sorted(SUITE_DIR.glob("*.json"))


def _build_module():
    spec = importlib.util.spec_from_file_location("_build", REVIEWED / "_build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_one_suite_per_table_plus_inventory():
    assert {p.stem for p in SUITES} == set(TABLES) | {"registry"}


@pytest.mark.parametrize("path", SUITES, ids=lambda p: p.stem)
def test_suite_loads_in_gx(path):
    data = json.loads(path.read_text(encoding="utf-8"))
    suite = gx.ExpectationSuite(**data)
    assert suite.name == path.stem
    assert len(suite.expectations) == len(data["expectations"]) > 0


@pytest.mark.parametrize("path", SUITES, ids=lambda p: p.stem)
def test_suite_file_is_pretty_and_key_sorted(path):
    text = path.read_text(encoding="utf-8")
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def test_committed_suites_match_the_build_script():
    build = _build_module()
    for name in build.SUITES:
        text = build.render(name)
        for where in (REVIEWED, SUITE_DIR):
            committed = (where / f"{name}.json").read_text(encoding="utf-8")
            assert committed == text, f"run python expectations/_build.py ({where}/{name})"


def test_the_package_reads_its_own_copy_of_the_reviewed_suites():
    assert SUITE_DIR.parent.name == "quality" and SUITE_DIR.parent.parent.name == "feasibility"
    assert {p.name for p in REVIEWED.glob("*.json")} == {p.name for p in SUITES}


def test_no_criterion_id_is_typed_in_the_suites_or_their_builder():
    from feasibility.protocol import load_protocol

    ids = {c.id for p in PROTOCOLS for c in load_protocol(p).criteria}
    texts = [(REVIEWED / "_build.py").read_text(encoding="utf-8")]
    texts += [p.read_text(encoding="utf-8") for p in SUITES]
    from feasibility.schema import PROCEDURE_CATEGORIES

    vocabulary = set(TESTS) | set(ASSESSMENT_ITEMS) | set(PROCEDURE_CATEGORIES)
    for cid in ids - vocabulary:  # a criterion named like a test or category is fine
        for text in texts:
            assert f'"{cid}"' not in text, cid


def test_every_expectation_has_valid_meta():
    checks = load_checks()
    ids = [c.check for c in checks]
    assert len(ids) == len(set(ids)), "check ids must be unique"
    for c in checks:
        assert c.category in CATEGORIES, c.check
        assert c.severity in SEVERITIES, c.check
        assert c.frame in FRAMES, c.check
        assert c.affects and all(len(a) == 3 for a in c.affects), c.check
        assert c.rationale and "\n" not in c.rationale, c.check
        assert c.title and c.meta["tolerance_source"] and c.meta["severity_source"], c.check
        assert 0 <= c.meta["tolerance_pct"] <= 100, c.check
        mostly = c.kwargs.get("mostly")
        expected = None if c.meta["tolerance_pct"] == 0 else 1 - c.meta["tolerance_pct"] / 100
        assert mostly == (None if expected is None else pytest.approx(expected)), c.check
    raw = [e for p in SUITES for e in json.loads(p.read_text())["expectations"]]
    gx_sev = {"error": "critical", "warning": "warning", "info": "info"}
    for e in raw:
        assert e["severity"] == gx_sev[e["meta"]["severity"]]


def test_all_three_categories_are_used_with_all_severities():
    checks = load_checks()
    assert {c.category for c in checks} == set(CATEGORIES)
    assert {c.severity for c in checks} == set(SEVERITIES)


@pytest.mark.parametrize("path", PROTOCOLS, ids=lambda p: p.stem)
def test_every_criterion_of_every_protocol_is_reached_by_a_check(path):
    from feasibility.protocol import load_protocol
    from feasibility.quality.links import criteria_for, criterion_uses

    protocol = load_protocol(path)
    uses = criterion_uses(protocol)
    specific = [c for c in load_checks() if ("*", "*", None) not in c.affects]
    linked = {cid for c in specific for cid in criteria_for(c.affects, uses)}
    assert linked == {c.id for c in protocol.criteria}, sorted(
        {c.id for c in protocol.criteria} - linked
    )


def test_dqd_defaults_are_cited_where_used():
    checks = {c.check: c for c in load_checks()}
    for cid in ("measurements.measured_on.not_after_death", "therapies.end_date.not_before_start"):
        c = checks[cid]
        assert c.meta["tolerance_pct"] == 1 and "DataQualityDashboard" in c.meta["tolerance_source"]
    for cid in ("measurements.value.plausible[hemoglobin]", "assessments.sex.plausible"):
        c = checks[cid]
        assert c.meta["tolerance_pct"] == 5 and "Concept_Level" in c.meta["tolerance_source"]


def test_plausible_ranges_are_the_generators():
    by_test = {
        c.condition[1]: c
        for c in load_checks()
        if c.check.startswith("measurements.value.plausible[")
    }
    assert set(by_test) == set(TESTS)
    for test, (low, high) in PLAUSIBLE_RANGES.items():
        kw = by_test[test].kwargs
        assert (kw["min_value"], kw["max_value"]) == (low, high), test
        assert kw["column"] == "value_canonical"
    age = next(c for c in load_checks() if c.check == "patients.birth_date.age_range")
    assert (age.kwargs["min_value"], age.kwargs["max_value"]) == AGE_RANGE


def test_accepted_units_and_vocabularies_are_the_contracts():
    checks = {c.check: c for c in load_checks()}
    for name, test in TESTS.items():
        assert set(checks[f"measurements.unit.accepted[{name}]"].kwargs["value_set"]) == set(
            test.factors
        )
    for item, values in ASSESSMENT_ITEMS.items():
        assert set(checks[f"assessments.value.vocabulary[{item}]"].kwargs["value_set"]) == set(
            values
        )
    assert set(checks["measurements.test.vocabulary"].kwargs["value_set"]) == set(TESTS)
    assert set(checks["patients.sex.vocabulary"].kwargs["value_set"]) == {"F", "M", "U"}


def test_required_columns_and_types_cover_the_contract():
    checks = {c.check: c for c in load_checks()}
    for table, columns in TABLES.items():
        assert checks[f"{table}.columns"].kwargs["column_set"] == list(columns)
        for column in columns:
            assert f"{table}.{column}.type" in checks
