"""Diagnoses and drugs through the OMOP vocabulary, on a small hand-built CDM database.

- ICD-10-CM code lists match a condition recorded with an ICD-10-CM source concept, and
  one recorded only as a standard SNOMED concept, through 'Maps to' from ICD-10-CM.
- A concept set with descendants uses concept_ancestor; without, only the concept.
- Clinical and branded drugs roll up to their RxNorm ingredient through concept_ancestor.
- Units: a UCUM unit outside the mapping is set aside, never guessed.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from feasibility.engine import screen
from feasibility.omop.conceptsets import set_code
from feasibility.protocol import load_protocol
from feasibility.registry import load_registry

INDEX = dt.date(2024, 6, 30)
D = dt.date(2024, 6, 1)

CONCEPTS = [
    # id, name, domain, vocabulary, class, standard, code
    (8507, "MALE", "Gender", "Gender", "Gender", "S", "M"),
    (8532, "FEMALE", "Gender", "Gender", "Gender", "S", "F"),
    (437233, "Multiple myeloma", "Condition", "SNOMED", "Clinical Finding", "S", "109989006"),
    (35206811, "Multiple myeloma not having achieved remission", "Condition", "ICD10CM",
     "ICD10 code", None, "C90.00"),
    (439777, "Anemia", "Condition", "SNOMED", "Clinical Finding", "S", "271737000"),
    (436659, "Iron deficiency anemia", "Condition", "SNOMED", "Clinical Finding", "S", "87522002"),
    (1750500, "clarithromycin", "Drug", "RxNorm", "Ingredient", "S", "21212"),
    (1750600, "clarithromycin 500 MG Oral Tablet", "Drug", "RxNorm", "Clinical Drug", "S", "197517"),
    (1750700, "clarithromycin 500 MG Oral Tablet [Biaxin]", "Drug", "RxNorm", "Branded Drug",
     "S", "207364"),
    (3000963, "Hemoglobin [Mass/volume] in Blood", "Measurement", "LOINC", "Lab Test", "S", "718-7"),
    (8713, "gram per deciliter", "Unit", "UCUM", "Unit", "S", "g/dL"),
    (8753, "millimole per liter", "Unit", "UCUM", "Unit", "S", "mmol/L"),
]  # fmt: skip


def _write(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    tables = {
        "person": pl.DataFrame(
            {
                "person_id": [1, 2, 3, 4],
                "gender_concept_id": [8507, 8532, 8507, 8532],
                "year_of_birth": [1950, 1960, 1970, 1980],
                "month_of_birth": [1, 2, 3, None],
                "day_of_birth": [5, 6, 7, None],
            }
        ),
        "condition_occurrence": pl.DataFrame(
            {
                "person_id": [1, 2, 3, 4],
                # 1: ICD-10-CM source concept; 2: SNOMED only (source not ICD-10);
                # 3: iron deficiency anaemia (a descendant of anaemia); 4: anaemia itself
                "condition_concept_id": [437233, 437233, 436659, 439777],
                "condition_source_concept_id": [35206811, 0, 0, 0],
                "condition_source_value": ["C90.00", "109989006.0", "87522002.0", "271737000.0"],
                "condition_start_date": [D, D, D, D],
            }
        ),
        "drug_exposure": pl.DataFrame(
            {
                "person_id": [1, 2, 3],
                "drug_concept_id": [1750600, 1750700, 1750500],
                "drug_exposure_start_date": [D, D, dt.date(2020, 1, 1)],
                "drug_exposure_end_date": [None, INDEX, dt.date(2020, 2, 1)],
                "route_concept_id": [0, 0, 0],
            },
            schema_overrides={"drug_exposure_end_date": pl.Date},
        ),
        "measurement": pl.DataFrame(
            {
                "person_id": [1, 2],
                "measurement_concept_id": [3000963, 3000963],
                "measurement_date": [D, D],
                "value_as_number": [11.5, 7.1],
                "unit_concept_id": [8713, 8753],
            }
        ),
        "concept": pl.DataFrame(
            CONCEPTS,
            schema=[
                "concept_id",
                "concept_name",
                "domain_id",
                "vocabulary_id",
                "concept_class_id",
                "standard_concept",
                "concept_code",
            ],
            orient="row",
        ),  # fmt: skip
        "concept_relationship": pl.DataFrame(
            {
                "concept_id_1": [35206811, 437233],
                "concept_id_2": [437233, 35206811],
                "relationship_id": ["Maps to", "Mapped from"],
            }
        ),
        "concept_ancestor": pl.DataFrame(
            {
                "ancestor_concept_id": [439777, 439777, 1750500, 1750500, 1750500],
                "descendant_concept_id": [439777, 436659, 1750500, 1750600, 1750700],
            }
        ),
    }
    for name, frame in tables.items():
        frame.write_parquet(root / f"{name}.parquet")
    return root


@pytest.fixture()
def registry(tmp_path: Path):
    return load_registry(_write(tmp_path / "cdm"))


def test_icd10_lists_match_source_concepts_and_maps_to(registry) -> None:
    dx = registry.tables["diagnoses"].collect()
    by_patient = dx.group_by("patient_id").agg(pl.col("code"))
    codes = dict(by_patient.iter_rows())
    assert "C9000" in codes["1"]  # from the ICD-10-CM source concept
    assert "C9000" in codes["2"]  # SNOMED only: through 'Maps to' from C90.00
    status = screen(registry, load_protocol("pomalidomide-ixazomib-dex"), INDEX).patient_status
    got = dict(status.select("patient_id", "myeloma_diagnosis").iter_rows())
    assert got == {"1": "pass", "2": "pass", "3": "fail", "4": "fail"}


def test_concept_sets_with_and_without_descendants(tmp_path: Path) -> None:
    codelists = tmp_path / "codelists"
    codelists.mkdir()
    (codelists / "sets.yaml").write_text(
        "anaemia_all:\n  concepts: [{id: 439777, descendants: true}]\n"
        "anaemia_exact:\n  concepts: [{id: 439777, descendants: false}]\n"
        "anaemia_not_iron:\n  concepts:\n    - {id: 439777}\n"
        "    - {id: 436659, exclude: true}\n",
        encoding="utf-8",
    )
    from feasibility.omop import load_omop

    reg = load_omop(_write(tmp_path / "cdm"), codelist_dir=codelists)
    dx = reg.tables["diagnoses"].collect()

    def patients(name: str) -> set[str]:
        return set(dx.filter(pl.col("code") == set_code(name))["patient_id"])

    assert patients("anaemia_all") == {"3", "4"}
    assert patients("anaemia_exact") == {"4"}
    assert patients("anaemia_not_iron") == {"4"}


def test_clinical_and_branded_drugs_roll_up_to_the_ingredient(registry) -> None:
    meds = registry.tables["medications"].collect()
    assert set(meds["drug"]) == {"clarithromycin"}
    status = screen(registry, load_protocol("pomalidomide-ixazomib-dex"), INDEX).patient_status
    got = dict(status.select("patient_id", "cyp_interacting_drugs").iter_rows())
    # 1: clinical drug, ongoing; 2: branded (Biaxin) ending on the index; 3: in 2020
    assert got == {"1": "fail", "2": "fail", "3": "pass", "4": "pass"}


def test_unit_outside_mapping_is_set_aside(registry) -> None:
    ms = registry.tables["measurements"].collect()
    assert ms.select("patient_id", "value").rows() == [("1", 11.5)]
    aside = registry.set_aside
    assert aside.filter(pl.col("problem") == "unit_outside_vocabulary")["rows"].sum() == 1


def test_birth_date_precision_and_sex(registry) -> None:
    patients = registry.tables["patients"].collect().sort("patient_id")
    assert patients["sex"].to_list() == ["M", "F", "M", "F"]
    assert patients["birth_date"].to_list()[3] == dt.date(1980, 7, 1)
    assert any("birth dates have only a year" in w for w in registry.warnings)
