"""Per-criterion data quality for the screened population, checked against exact counts on
a hand-made registry of 12 patients (index 2024-06-30, and event mode), and the link from
fields to criteria derived from any protocol file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from feasibility.engine import IndexEvents, screen
from feasibility.protocol import load_protocol
from feasibility.quality import criterion_readiness, validate_registry
from feasibility.quality.links import criteria_for, criterion_uses
from feasibility.registry import load_registry

INDEX = dt.date(2024, 6, 30)
TODAY = dt.date(2025, 1, 1)
IDS = [f"P{i:02d}" for i in range(1, 13)]

PATIENTS = "patient_id,sex,birth_date,race,ethnicity,site,death_date\n" + "".join(
    f"{p},{'F' if i % 2 else 'M'},1950-01-01,,,A,{'2024-01-01' if p == 'P12' else ''}\n"
    for i, p in enumerate(IDS)
)
MEASUREMENTS = """patient_id,test,value,unit,measured_on
P01,hemoglobin,10,g/dL,2024-06-20
P02,hemoglobin,7,g/dL,2024-05-31
P03,hemoglobin,6,mmol/L,2024-06-25
P05,hemoglobin,11,g/dL,2024-01-01
"""
ASSESSMENTS = """patient_id,item,value,assessed_on
P01,ecog,1,2024-06-10
P02,ecog,9,2024-06-10
"""
MEDICATIONS = """patient_id,drug,route,start_date,end_date
P01,ciprofloxacin,oral,2024-06-01,
P02,carbamazepin,oral,2024-06-01,
P03,aspirin,oral,2024-01-01,
"""
DIAGNOSES = (
    "patient_id,code,diagnosed_on\n"
    + "".join(f"{p},C90.0,2020-01-01\n" for p in IDS[:6])
    # P12 died 2024-01-01: both rows are dated after death (flagged)
    + "P12,C90.0,2024-02-01\nP12,E11.9,2024-02-01\n"
)
THERAPIES = """patient_id,line_number,regimen,start_date,end_date,investigational
P01,1,VRd,2020-01-01,2021-01-01,false
P01,2,KPd,2024-03-01,,false
P02,1,VRd,2023-01-01,2024-04-01,false
P02,2,Dara-Pd,2024-05-01,,false
"""


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    root: Path = tmp_path_factory.mktemp("criteria")
    for name, text in (
        ("patients", PATIENTS),
        ("measurements", MEASUREMENTS),
        ("assessments", ASSESSMENTS),
        ("medications", MEDICATIONS),
        ("diagnoses", DIAGNOSES),
        ("therapies", THERAPIES),
        ("procedures", "patient_id,category,performed_on\n"),
    ):
        (root / f"{name}.csv").write_text(text, encoding="utf-8")
    return load_registry(root)


@pytest.fixture(scope="module")
def protocol():
    return load_protocol("pomalidomide-ixazomib-dex")


@pytest.fixture(scope="module")
def validation(registry):
    return validate_registry(registry, index_date=INDEX, today=TODAY)


@pytest.fixture(scope="module")
def table(registry, protocol, validation):
    result = screen(registry, protocol, index_date=INDEX)
    return criterion_readiness(protocol, validation, result)


def _row(table: pl.DataFrame, cid: str) -> dict:
    return table.filter(pl.col("criterion") == cid).row(0, named=True)


def test_hemoglobin_unknowns_are_explained_exactly(table):
    hb = _row(table, "hemoglobin")
    # P01, P02 decided; P03 in an unaccepted unit (set aside); nine without one in 30 days
    assert (hb["screened"], hb["decided"], hb["unknown"]) == (12, 2, 10)
    assert hb["unknown_set_aside"] == 1
    assert hb["unknown_not_in_window"] == 9
    assert hb["unknown_structurally_absent"] == 0 and hb["unknown_other"] == 0
    assert hb["ready_pct"] == pytest.approx(100 * 2 / 12)
    assert hb["could_flip"] == 1  # P03's unconvertible value in the window
    assert hb["badge"] == "partly"


def test_a_closed_world_criterion_on_a_field_never_recorded_is_structurally_missing(table):
    nursing = _row(table, "nursing")
    assert nursing["closed_world"] and nursing["decided"] == 12  # no record passes ...
    assert nursing["with_record"] == 0 and nursing["with_record_pct"] == 0.0
    assert "assessments.value[breastfeeding]" in nursing["structurally_absent"]
    assert nursing["badge"] == "structurally missing"  # ... but it is not "ready"


def test_vocabulary_set_aside_and_near_miss_count_as_flippable(table):
    ecog = _row(table, "ecog")
    assert (ecog["decided"], ecog["unknown_set_aside"], ecog["unknown_not_in_window"]) == (1, 1, 10)
    assert ecog["could_flip"] == 1  # P02's ecog 9
    cyp = _row(table, "cyp_interacting_drugs")
    assert cyp["decided"] == 12 and cyp["unknown"] == 0
    assert cyp["with_record"] == 3  # P01-P03 have a medication record
    assert cyp["could_flip"] == 1  # P02's "carbamazepin" nearly spells a listed drug
    assert cyp["badge"] == "partly"  # 25% with any record, 8% with a defect


def test_ready_badge_and_patient_attributes(table):
    myeloma = _row(table, "myeloma_diagnosis")
    # P12's myeloma row dated after death could flip it; its diabetes row could not
    assert (myeloma["decided"], myeloma["with_record"], myeloma["could_flip"]) == (12, 7, 1)
    assert myeloma["badge"] == "partly"
    other = _row(table, "other_malignancy")  # reads C00-C96: neither of P12's rows
    assert (other["with_record"], other["could_flip"], other["badge"]) == (7, 0, "ready")
    alive = _row(table, "alive_at_index")
    assert alive["decided"] == 12 and alive["with_record"] is None  # null death_date = alive
    assert alive["badge"] == "ready"


def test_event_mode_counts_patients_with_an_index_event_at_their_index(
    registry, protocol, validation
):
    events = IndexEvents("therapies", where="line_number >= 2", start=dt.date(2024, 1, 1))
    result = screen(registry, protocol, events)
    table = criterion_readiness(protocol, validation, result)
    hb = _row(table, "hemoglobin")
    # only P01 (index 2024-03-01) and P02 (2024-05-01) are screened; their hemoglobin
    # values lie after their index, so neither is decided
    assert (hb["screened"], hb["decided"], hb["unknown_not_in_window"]) == (2, 0, 2)
    cyp = _row(table, "cyp_interacting_drugs")
    assert cyp["screened"] == 2 and cyp["with_record"] == 0  # started after the index


def test_findings_name_the_criteria_of_the_protocol_given(validation):
    second = load_protocol("isatuximab-pomalidomide-dex")
    linked = validation.for_protocol(second).summary
    near = linked.filter(pl.col("check") == "medications.drug.near_miss").row(0, named=True)
    # every criterion of the corrected ICARIA-MM file that reads medications.drug
    assert set(near["criteria"].split(";")) == {
        "prior_lenalidomide",
        "prior_proteasome_inhibitor",
        "prior_pomalidomide",
        "prior_anti_cd38_refractory",
        "anti_myeloma_treatment",
    }
    codes = linked.filter(pl.col("check") == "diagnoses.code.icd10_pattern").row(0, named=True)
    assert "myocardial_infarction" in codes["criteria"].split(";")


def test_any_protocol_file_links_by_its_own_ids(tmp_path, protocol):
    src = Path(protocol.path).read_text(encoding="utf-8")
    text = src.replace("id: hemoglobin", "id: hb_floor").replace(
        "  - hemoglobin\n", "  - hb_floor\n"
    )
    assert text != src
    renamed = tmp_path / "renamed.yaml"
    renamed.write_text(text, encoding="utf-8")
    other = load_protocol(renamed)
    ids = [c.id for c in other.criteria]
    uses = criterion_uses(other)
    assert criteria_for([("measurements", "value", "hemoglobin")], uses) == ["hb_floor"]
    assert criteria_for([("measurements", "value", "anc")], uses) == ["neutrophils"]
    assert set(criteria_for([("*", "*", None)], uses)) == set(ids)
