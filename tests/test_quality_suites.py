"""The suite files: GX-loadable, complete meta, in sync with the contract constants,
the generator's plausible ranges and the protocol's criterion ids."""

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
PROTOCOL_FILE = ROOT / "feasibility" / "protocols" / "pomalidomide-ixazomib-dex.yaml"
SUITES = sorted(SUITE_DIR.glob("*.json"))


def _build_module():
    spec = importlib.util.spec_from_file_location("_build", SUITE_DIR / "_build.py")
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
        committed = (SUITE_DIR / f"{name}.json").read_text(encoding="utf-8")
        assert committed == build.render(name), f"run python expectations/_build.py ({name})"


def test_every_expectation_has_valid_meta():
    checks = load_checks()
    ids = [c.check for c in checks]
    assert len(ids) == len(set(ids)), "check ids must be unique"
    for c in checks:
        assert c.category in CATEGORIES, c.check
        assert c.severity in SEVERITIES, c.check
        assert c.frame in FRAMES, c.check
        assert isinstance(c.criteria, tuple) and all(isinstance(x, str) for x in c.criteria)
        assert c.rationale and "\n" not in c.rationale, c.check
    raw = [e for p in SUITES for e in json.loads(p.read_text())["expectations"]]
    gx_sev = {"error": "critical", "warning": "warning", "info": "info"}
    for e in raw:
        assert e["severity"] == gx_sev[e["meta"]["severity"]]


def test_all_three_categories_are_used_with_all_severities():
    checks = load_checks()
    assert {c.category for c in checks} == set(CATEGORIES)
    assert {c.severity for c in checks} == set(SEVERITIES)


def test_criteria_listed_exist_in_the_protocol():
    from feasibility.protocol import load_protocol

    assert PROTOCOL_FILE.exists()
    ids = set(load_protocol(PROTOCOL_FILE).criterion_ids)
    listed = {x for c in load_checks() for x in c.criteria}
    assert listed, "the suites list criteria"
    assert listed <= ids, sorted(listed - ids)
    # every computable criterion is covered by at least one check
    assert ids <= listed, sorted(ids - listed)


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
