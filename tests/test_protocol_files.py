"""Protocol files: verbatim eligibility text, structure, and load-time errors."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml

from feasibility.errors import ProtocolError
from feasibility.protocol import (
    PROTOCOL_DIR,
    available_protocols,
    load_codelists,
    load_protocol,
    parse_protocol,
)

SHARED_SEED = Path(__file__).resolve().parents[2] / "shared" / "seeds" / "000_e90e6dcce70587ef.txt"
#: A copy of the seed kept with the protocol, so the check runs wherever shared/ is absent.
VENDORED_SEED = PROTOCOL_DIR / "sources" / "pomalidomide-ixazomib-dex.txt"
SEED = SHARED_SEED if SHARED_SEED.exists() else VENDORED_SEED
CONTRACT_IDS = [
    "alive_at_index", "myeloma_diagnosis", "previously_treated", "measurable_disease",
    "creatinine_clearance", "neutrophils", "platelets", "hemoglobin", "ecog", "pregnancy_test",
    "other_malignancy", "nursing", "concurrent_therapy", "peripheral_neuropathy", "major_surgery",
    "cyp_interacting_drugs", "cardiovascular", "qtc", "hiv", "hepatitis", "gi_absorption", "diarrhea",
]  # fmt: skip
POM = PROTOCOL_DIR / "pomalidomide-ixazomib-dex.yaml"


def _seed_lines() -> list[str]:
    text = SEED.read_text(encoding="utf-8")
    body = text[
        text.index("Inclusion Criteria") : text.index("Participating Mayo Clinic locations")
    ]
    lines = [re.sub(r"^\s*•\s*", "", ln).strip() for ln in body.splitlines()]
    return [ln for ln in lines if ln and ln not in ("Inclusion Criteria", "Exclusion Criteria")]


def test_vendored_seed_matches_shared_copy():
    if SHARED_SEED.exists():
        assert VENDORED_SEED.read_bytes() == SHARED_SEED.read_bytes()
    assert VENDORED_SEED.exists()


def test_every_eligibility_sentence_appears_verbatim_and_in_order():
    p = load_protocol("pomalidomide-ixazomib-dex")
    by_id = {c.id: c.source for c in p.criteria} | {a.id: a.text for a in p.assumptions}
    texts = [line.strip() for item in p.items for line in by_id[item]]
    position = 0
    for line in _seed_lines():
        assert line in texts, f"sentence not in the protocol file: {line!r}"
        found = texts.index(line, position) if line in texts[position:] else texts.index(line)
        assert found >= position, f"sentence out of order: {line!r}"
        position = found
    # and nothing that is not in the seed
    seed = set(_seed_lines())
    assert set(texts) <= seed


def test_contract_ids_steps_and_parts():
    p = load_protocol("pomalidomide-ixazomib-dex")
    assert list(p.steps) == CONTRACT_IDS
    assert set(p.criterion_ids) == set(CONTRACT_IDS) | {
        "extramedullary_disease",
        "plasma_cell_leukemia",
    }
    assert p.criterion("other_malignancy").kind == "exclusion"
    assert p.criterion("hemoglobin").threshold == ("hemoglobin", ">=", 8.0, "g/dL")
    assert ("measurements", "value", "anc") in p.criterion("neutrophils").reads
    assert len(p.fingerprint) == 64 and p.path == POM


def test_assumptions_have_rates_and_honest_sources():
    p = load_protocol("pomalidomide-ixazomib-dex")
    ids = {a.id for a in p.assumptions}
    assert {
        "informed_consent",
        "rems_enrolment",
        "drug_allergy",
        "comorbidity_judgement",
        "ecg_relevance",
    } <= ids
    for a in p.assumptions:
        assert 0 < a.pass_rate <= 1
        # issue 11 point 6: a published figure (cited with its year) or a team estimate
        src = a.source.lower()
        assert "estimate" in src or "published" in src or "counted once" in src


def test_load_by_path_and_unknown_id(tmp_path):
    assert load_protocol(POM).id == "pomalidomide-ixazomib-dex"
    assert load_protocol(str(POM)).id == "pomalidomide-ixazomib-dex"
    with pytest.raises(ProtocolError):
        load_protocol("no-such-protocol")
    assert "pomalidomide-ixazomib-dex" in available_protocols()


def test_codelists_live_in_data_files():
    codes, drugs = load_codelists()
    assert codes["myeloma"].matches("C90.00") and not codes["myeloma"].matches("C90.3")
    assert codes["other_malignancy"].matches("C4A.9") and not codes["other_malignancy"].matches(
        "C44.1"
    )
    assert drugs["cyp_interacting_drugs"].spellings["hypericum"] == "st. john's wort"
    assert len(drugs["cyp_interacting_drugs"].drugs) == 18


def _data() -> dict:
    return yaml.safe_load(POM.read_text(encoding="utf-8"))


def _item(data: dict, cid: str) -> dict:
    return next(i for i in data["eligibility"] if i["id"] == cid)


def _mutate(cid: str, rule: dict) -> dict:
    data = copy.deepcopy(_data())
    _item(data, cid)["rule"] = rule
    return data


@pytest.mark.parametrize(
    ("cid", "rule", "field"),
    [
        (
            "neutrophils",
            {"latest": {"test": "anc_count", "window": "30d", "op": ">=", "value": 1}},
            "rule.latest.test",
        ),
        (
            "neutrophils",
            {"latest": {"test": "anc", "window": "30d", "op": ">=", "value": 1, "unit": "cells"}},
            "rule.latest.unit",
        ),
        (
            "ecog",
            {"latest": {"item": "karnofsky", "window": "30d", "op": "<=", "value": 2}},
            "rule.latest.item",
        ),
        (
            "ecog",
            {"latest": {"item": "ecog", "window": "30 weeks", "op": "<=", "value": 2}},
            "rule.latest.window",
        ),
        (
            "ecog",
            {"latest": {"item": "ecog", "window": "-3d", "op": "<=", "value": 2}},
            "rule.latest.window",
        ),
        (
            "ecog",
            {"latest": {"item": "ecog", "window": "30d", "op": "=<", "value": 2}},
            "rule.latest.op",
        ),
        (
            "ecog",
            {"latest": {"item": "ecog", "window": "30d", "op": "<=", "value": "two"}},
            "rule.latest.value",
        ),
        ("hiv", {"diagnosis": {"codes": "hiv_list", "window": "ever"}}, "rule.diagnosis.codes"),
        (
            "cyp_interacting_drugs",
            {"medication": {"drugs": "cyp_drugs", "overlap_days": 7}},
            "rule.medication.drugs",
        ),
        (
            "measurable_disease",
            {"any": [{"criterion": "extramedullary_disease"}, {"criterion": "leukemia"}]},
            "rule",
        ),
        (
            "major_surgery",
            {"procedure": {"category": "surgery", "window": "14d"}},
            "rule.procedure.category",
        ),
        (
            "nursing",
            {"latest": {"item": "breastfeeding", "window": "90d", "in": ["maybe"]}},
            "rule.latest.in",
        ),
        ("nursing", {"lactation": {}}, "rule"),
    ],
)
def test_bad_protocol_fails_at_load_naming_criterion_and_field(cid, rule, field):
    with pytest.raises(ProtocolError) as exc:
        parse_protocol(_mutate(cid, rule))
    assert exc.value.criterion == cid
    assert exc.value.field == field
    assert cid in str(exc.value)


def test_duplicate_id_and_bad_steps():
    data = copy.deepcopy(_data())
    data["eligibility"].append(copy.deepcopy(_item(data, "qtc")))
    with pytest.raises(ProtocolError) as exc:
        parse_protocol(data)
    assert exc.value.criterion == "qtc" and exc.value.field == "id"
    data = copy.deepcopy(_data())
    data["steps"].append("karnofsky")
    with pytest.raises(ProtocolError) as exc:
        parse_protocol(data)
    assert exc.value.field == "steps"
    data = copy.deepcopy(_data())
    data["steps"].remove("qtc")
    with pytest.raises(ProtocolError, match="qtc"):
        parse_protocol(data)


def test_missing_if_missing_and_circular_reference():
    data = copy.deepcopy(_data())
    del _item(data, "qtc")["if_missing"]
    with pytest.raises(ProtocolError) as exc:
        parse_protocol(data)
    assert (exc.value.criterion, exc.value.field) == ("qtc", "if_missing")
    data = _mutate("extramedullary_disease", {"criterion": "measurable_disease"})
    with pytest.raises(ProtocolError, match="circular"):
        parse_protocol(data)


def test_threshold_in_other_unit_converts_to_canonical():
    data = _mutate(
        "hemoglobin",
        {"latest": {"test": "hemoglobin", "window": "30d", "op": ">=", "value": 80, "unit": "g/L"}},
    )
    p = parse_protocol(data)
    rule = p.criterion("hemoglobin").rule_obj
    assert rule.value == pytest.approx(8.0) and rule.unit == "g/dL"
    assert p.criterion("hemoglobin").threshold == ("hemoglobin", ">=", 80.0, "g/L")


def test_yaml_files_are_all_loadable():
    for pid in available_protocols():
        p = load_protocol(pid)
        assert p.steps and p.criteria
