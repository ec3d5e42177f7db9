"""The vocabulary as reviewed data (issue 12 point 5): lab tests and assessment items.

The shipped files load and the historical names (``schema.TESTS``, ``ASSESSMENT_ITEMS``,
``plausibility.PLAUSIBLE_RANGES``) are views of them; a malformed file fails with one line
naming the file, the entry and the field; and adding a lab test is one entry: a copy of
``lab_tests.yaml`` with one more test, named by ``FEASIBILITY_VOCAB_DIR``, is enough for a
protocol to use the test and for ``feasibility screen`` to convert, set aside and screen it.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from feasibility import plausibility, schema, vocab
from feasibility.vocab import VocabularyError, load_assessment_items, load_lab_tests

ROOT = Path(__file__).resolve().parents[1]
OMOP_MAPPING = ROOT / "feasibility" / "omop" / "mapping.yaml"


def test_the_shipped_files_are_the_vocabulary_in_use():
    assert os.environ.get(vocab.ENV_DIR) is None  # the suite runs on the shipped files
    assert vocab.LAB_TESTS == load_lab_tests(vocab.VOCAB_DIR / vocab.LAB_TESTS_NAME)
    assert list(schema.TESTS) == list(vocab.LAB_TESTS)
    for name, test in vocab.LAB_TESTS.items():
        assert schema.TESTS[name].canonical_unit == test.canonical_unit
        assert list(schema.TESTS[name].factors.items()) == list(test.units.items())
        assert plausibility.PLAUSIBLE_RANGES[name] == (test.low, test.high)
        low, high, unit, source = plausibility.FIELD_RANGES[("measurements", name)]
        assert (low, high, unit, source) == (
            test.low,
            test.high,
            test.canonical_unit,
            test.range_source,
        )
    assert schema.ASSESSMENT_ITEMS == {n: i.values for n, i in vocab.ASSESSMENT_ITEMS.items()}
    assert schema.GRADED_ITEMS == {"ecog", "neuropathy_grade", "diarrhea_grade"}
    # "a/b" factors are computed as Python computes a / b (bit-identical to 1 / 88.4)
    assert schema.TESTS["creatinine"].factors["umol/L"] == 1 / 88.4


def test_the_protocol_parser_grades_the_items_the_vocabulary_grades():
    from feasibility import protocol

    assert protocol.GRADED_ITEMS == schema.GRADED_ITEMS


def test_every_test_has_a_sourced_range_and_every_loinc_code_is_well_formed():
    for test in vocab.LAB_TESTS.values():
        assert test.range_source and test.label
        assert test.units[test.canonical_unit] == 1.0
    codes = [c.code for t in vocab.LAB_TESTS.values() for c in t.loinc]
    assert len(codes) == len(set(codes))
    assert "718-7" in {c.code for c in vocab.LAB_TESTS["hemoglobin"].loinc}


def test_the_omop_mapping_reads_its_loinc_codes_from_the_vocabulary():
    """omop/mapping.yaml keeps only OMOP facts (concept_ids, local concepts, UCUM units)."""
    from feasibility.omop.mapping import load_mapping, parse_mapping

    data = yaml.safe_load(OMOP_MAPPING.read_text(encoding="utf-8"))
    for section in ("measurements", "assessments"):
        for name, spec in data[section].items():
            vocabularies = {c["vocabulary"] for c in spec.get("concepts") or []}
            assert "LOINC" not in vocabularies, (section, name)
    mapping = load_mapping()
    for t in mapping.tests:
        loinc = [r.code for r in t.concepts if r.vocabulary == "LOINC"]
        assert loinc == [c.code for c in vocab.LAB_TESTS[t.test].loinc], t.test
    for i in mapping.items:
        loinc = [r.code for r in i.concepts if r.vocabulary == "LOINC"]
        assert loinc == [c.code for c in vocab.ASSESSMENT_ITEMS[i.item].loinc], i.item
    hemoglobin = next(t for t in mapping.tests if t.test == "hemoglobin")
    assert hemoglobin.concepts[0] == type(hemoglobin.concepts[0])("LOINC", "718-7", 3000963)
    # a concept_id for a code the vocabulary does not list, or a LOINC concept kept here: refused
    wrong = {"measurements": {"hemoglobin": {"loinc_ids": {"2345-7": 1}}}}
    with pytest.raises(ValueError, match="hemoglobin.loinc_ids: 2345-7 is not a LOINC code"):
        parse_mapping(wrong)
    kept = {"assessments": {"ecog": {"concepts": [{"vocabulary": "LOINC", "code": "89247-1"}]}}}
    with pytest.raises(ValueError, match="ecog.concepts: LOINC 89247-1 belongs in"):
        parse_mapping(kept)


# --- validation: one line naming file, entry and field ----------------------------------

GOOD_TEST = {
    "label": "Total bilirubin",
    "canonical_unit": "mg/dL",
    "units": {"mg/dL": 1, "umol/L": "1/17.1"},
    "plausible": {"low": 0.0, "high": 50.0, "source": "team judgement"},
    "loinc": [{"code": "1975-2", "name": "Bilirubin.total [Mass/volume]", "confirmed": False}],
}


def _write_tests(tmp_path: Path, entry: dict, name: str = "bilirubin") -> Path:
    path = tmp_path / "lab_tests.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "tests": {name: entry}}), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("change", "where", "words"),
    [
        ({"canonical_unit": " "}, "tests.bilirubin.canonical_unit", "non-empty text"),
        ({"units": {"mg/dL": 1, "umol/L": "a/b"}}, "tests.bilirubin.units.umol/L", "factor"),
        ({"units": {"mg/dL": 1, "umol/L": -2}}, "tests.bilirubin.units.umol/L", "positive"),
        ({"units": {"umol/L": 17.1}}, "tests.bilirubin.units", "canonical unit"),
        ({"plausible": {"low": 5, "high": 1, "source": "x"}}, "tests.bilirubin.plausible", "above"),
        ({"plausible": {"low": 0, "high": 1}}, "tests.bilirubin.plausible.source", "missing"),
        ({"plausible": {"low": "0", "high": 1, "source": "x"}}, "plausible.low", "number"),
        ({"loinc": [{"code": "1975", "name": "x"}]}, "tests.bilirubin.loinc[0].code", "LOINC"),
        ({"unit": "mg/dL"}, "tests.bilirubin.unit", "unknown field"),
    ],
)
def test_a_malformed_lab_test_names_file_entry_and_field(tmp_path, change, where, words):
    entry = GOOD_TEST | change
    with pytest.raises(VocabularyError) as err:
        load_lab_tests(_write_tests(tmp_path, entry))
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("lab_tests.yaml: ") and where in message and words in message


def test_a_bad_test_name_and_a_duplicate_loinc_code_are_refused(tmp_path):
    with pytest.raises(VocabularyError, match=r"tests\.Bilirubin: name"):
        load_lab_tests(_write_tests(tmp_path, GOOD_TEST, name="Bilirubin"))
    path = tmp_path / "lab_tests.yaml"
    path.write_text(
        yaml.safe_dump({"tests": {"a": GOOD_TEST, "b": GOOD_TEST}}, allow_unicode=True),
        encoding="utf-8",
    )
    with pytest.raises(VocabularyError, match=r"tests\.b\.loinc\[0\]\.code: 1975-2 .* tests\.a"):
        load_lab_tests(path)


@pytest.mark.parametrize(
    ("entry", "where", "words"),
    [
        ({"values": [0, 1]}, "items.karnofsky.values[0]", "quoted"),
        ({"values": ["Yes", "no"]}, "items.karnofsky.values[0]", "lower case"),
        ({"values": ["yes", "yes"]}, "items.karnofsky.values[1]", "twice"),
        ({"values": ["yes", "no"], "graded": True}, "items.karnofsky.values", "whole numbers"),
        ({"values": []}, "items.karnofsky.values", "non-empty"),
        ({"values": ["0"], "graded": "yes"}, "items.karnofsky.graded", "true or false"),
    ],
)
def test_a_malformed_item_names_file_entry_and_field(tmp_path, entry, where, words):
    path = tmp_path / "assessment_items.yaml"
    path.write_text(yaml.safe_dump({"items": {"karnofsky": entry}}), encoding="utf-8")
    with pytest.raises(VocabularyError) as err:
        load_assessment_items(path)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("assessment_items.yaml: ") and where in message and words in message


def test_a_file_that_is_not_a_vocabulary_says_so(tmp_path):
    path = tmp_path / "lab_tests.yaml"
    path.write_text("tests: [creatinine]\n", encoding="utf-8")
    with pytest.raises(VocabularyError, match="lab_tests.yaml: tests: expected a non-empty"):
        load_lab_tests(path)
    path.write_text("tests: {a: 1\n", encoding="utf-8")
    with pytest.raises(VocabularyError, match="lab_tests.yaml: not valid YAML"):
        load_lab_tests(path)
    path.write_text("version: 1\ntest: {}\n", encoding="utf-8")
    with pytest.raises(VocabularyError, match="lab_tests.yaml: test: unknown key"):
        load_lab_tests(path)


# --- adding a lab test is one entry, end to end -------------------------------------------

NEW_ENTRY = """
  bilirubin:
    label: Total bilirubin in serum or plasma
    canonical_unit: mg/dL
    units: {mg/dL: 1, umol/L: 1/17.1, µmol/L: 1/17.1}
    plausible:
      low: 0.0
      high: 50.0
      source: Team judgement for this test (reference 0.1-1.2 mg/dL; 50 mg/dL is beyond any report).
    loinc:
      - {code: 1975-2, name: "Bilirubin.total [Mass/volume] in Serum or Plasma", confirmed: false}
"""

PROTOCOL = """
id: bilirubin-demo
title: A protocol reading a lab test that is only in the site's vocabulary copy
eligibility:
  - id: adult
    section: inclusion
    label: Aged 18 or older
    source: "Adults."
    rule: {age: {op: ">=", value: 18}}
    if_missing: unknown
  - id: bilirubin
    section: inclusion
    label: Total bilirubin <= 1.5 mg/dL
    source: "Total bilirubin of at most 1.5 mg/dL within 30 days."
    rule: {latest: {test: bilirubin, window: 30d, op: "<=", value: 1.5, unit: mg/dL}}
    if_missing: unknown
steps: [adult, bilirubin]
"""

# patient -> measurements (test, value, unit, date) and the expected bilirubin status
CASES = {
    "P1": ([("bilirubin", "1.0", "mg/dL", "2024-06-20")], "pass"),
    "P2": ([("bilirubin", "34.2", "umol/L", "2024-06-20")], "fail"),  # 2.0 mg/dL
    "P3": ([("bilirubin", "17.1", "\u00b5mol/L", "2024-06-25")], "pass"),  # 1.0 mg/dL
    "P4": ([("bilirubin", "500", "mg/dL", "2024-06-20")], "unknown"),  # implausible: set aside
    "P5": ([("bilirubin", "1.0", "mmol/L", "2024-06-20")], "unknown"),  # unit not accepted
    "P6": ([("creatinine", "1.0", "mg/dL", "2024-06-20")], "unknown"),  # no bilirubin
    "P7": (  # the latest in the window decides: 2.0 then 1.2
        [("bilirubin", "2.0", "mg/dL", "2024-06-10"), ("bilirubin", "1.2", "mg/dL", "2024-06-28")],
        "pass",
    ),
    "P8": ([("bilirubin", "1.0", "mg/dL", "2024-04-01")], "unknown"),  # outside the window
}


def _registry(root: Path) -> Path:
    data = root / "registry"
    data.mkdir()
    with open(data / "patients.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["patient_id", "sex", "birth_date", "race", "ethnicity", "site", "death_date"])
        for pid in CASES:
            w.writerow([pid, "F", "1960-01-01", "", "", "S01", ""])
    with open(data / "measurements.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["patient_id", "test", "value", "unit", "measured_on"])
        for pid, (rows, _) in CASES.items():
            for test, value, unit, day in rows:
                w.writerow([pid, test, value, unit, day])
    return data


def _screen(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    protocol = tmp_path / "bilirubin-demo.yaml"
    protocol.write_text(PROTOCOL, encoding="utf-8")
    data = tmp_path / "registry"
    if not data.exists():
        _registry(tmp_path)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "feasibility.cli",
            "screen",
            "--data",
            str(data),
            "--protocol",
            str(protocol),
            "--out",
            str(tmp_path / "out"),
            "--index-date",
            "2024-06-30",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )


def test_adding_a_lab_test_is_one_entry(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != vocab.ENV_DIR}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)

    # with the shipped vocabulary the protocol is refused: bilirubin is not a known test
    refused = _screen(tmp_path, env)
    assert refused.returncode != 0
    assert "unknown test 'bilirubin'" in refused.stderr

    # the site's copy of lab_tests.yaml: the shipped file plus ONE entry
    site = tmp_path / "site-vocab"
    site.mkdir()
    shipped = (vocab.VOCAB_DIR / vocab.LAB_TESTS_NAME).read_text(encoding="utf-8")
    (site / vocab.LAB_TESTS_NAME).write_text(shipped.rstrip("\n") + "\n" + NEW_ENTRY, "utf-8")
    env[vocab.ENV_DIR] = str(site)

    done = _screen(tmp_path, env)
    assert done.returncode == 0, done.stderr
    with open(tmp_path / "out" / "patient_status.csv", encoding="utf-8") as f:
        status = {row["patient_id"]: row for row in csv.DictReader(f)}
    assert {pid: status[pid]["bilirubin"] for pid in CASES} == {
        pid: expected for pid, (_, expected) in CASES.items()
    }
    assert status["P1"]["eligible"] == "pass" and status["P2"]["eligible"] == "fail"

    # the other tests are untouched and the loader reads the new one like any other
    check = subprocess.run(
        [
            sys.executable,
            "-c",
            "from feasibility import plausibility, schema;"
            "from feasibility.omop.mapping import load_mapping;"
            "print(list(schema.TESTS)[-2:], schema.TESTS['bilirubin'].factors['umol/L'] == 1 / 17.1,"
            " plausibility.PLAUSIBLE_RANGES['bilirubin'],"
            " [r.code for t in load_mapping().tests if t.test == 'bilirubin' for r in t.concepts])",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert check.stdout.strip() == "['qtc', 'bilirubin'] True (0.0, 50.0) ['1975-2']", check.stderr
