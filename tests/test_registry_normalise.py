"""Normalisation from contract section 1: drug names, ICD-10 codes, booleans, vocabularies,
exact duplicates; and value-level problems set aside and counted, never guessed."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from _registry_helpers import csv_table, write_registry

from feasibility.registry import load_registry
from feasibility.schema import ASSESSMENT_ITEMS, canonical_drug, normalize_icd10


def _table(tmp_path: Path, name: str, csv: str, **more: str) -> tuple[pl.DataFrame, object]:
    reg = load_registry(write_registry(tmp_path / "r", {name: csv, **more}))
    return reg.tables[name].collect().sort("_row"), reg


def _meds(tmp_path: Path, *drugs: str, routes: list[str] | None = None):
    routes = routes or [""] * len(drugs)
    rows = [f'P1,"{d}",{r},2024-01-01,' for d, r in zip(drugs, routes, strict=True)]
    return _table(
        tmp_path, "medications", csv_table("patient_id,drug,route,start_date,end_date", *rows)
    )


# --- drugs --------------------------------------------------------------------------------

SYNONYMS = [
    ("rifampicin", "rifampin"),
    ("Rifampicin", "rifampin"),
    ("rifampin", "rifampin"),
    ("st. john's wort", "st. john's wort"),
    ("St Johns Wort", "st. john's wort"),
    ("st johns wort", "st. john's wort"),
    ("hypericum", "st. john's wort"),
    ("HYPERICUM", "st. john's wort"),
    ("ginkgo", "ginkgo biloba"),
    ("Ginkgo Biloba", "ginkgo biloba"),
    ("gingko biloba", "ginkgo biloba"),
    ("  Ciprofloxacin  ", "ciprofloxacin"),
    ("CLARITHROMYCIN", "clarithromycin"),
    ("dexamethasone", "dexamethasone"),
]


def test_every_drug_synonym_case_and_trim(tmp_path: Path) -> None:
    out, _ = _meds(tmp_path, *(s for s, _ in SYNONYMS))
    assert out["drug"].to_list() == [c for _, c in SYNONYMS]
    assert out["source_drug"].to_list() == [s for s, _ in SYNONYMS]
    # the loader and schema.canonical_drug agree
    assert out["drug"].to_list() == [canonical_drug(s) for s, _ in SYNONYMS]


def test_near_synonyms_are_not_guessed(tmp_path: Path) -> None:
    out, _ = _meds(tmp_path, "rifampicine", "st john wort", "gingko")
    assert out["drug"].to_list() == ["rifampicine", "st john wort", "gingko"]


@pytest.mark.parametrize(
    ("route", "normalised", "systemic"),
    [
        ("", None, True),
        ("oral", "oral", True),
        ("IV", "iv", True),
        ("topical", "topical", False),
        (" Topical ", "topical", False),
        ("OPHTHALMIC", "ophthalmic", False),
        ("otic", "otic", False),
        ("transdermal", "transdermal", True),
    ],
)
def test_routes_and_systemic(
    tmp_path: Path, route: str, normalised: str | None, systemic: bool
) -> None:
    out, _ = _meds(tmp_path, "phenytoin", routes=[route])
    assert out["route"].to_list() == [normalised]
    assert out["systemic"].to_list() == [systemic]


# --- ICD-10 -------------------------------------------------------------------------------

CODES = ["C90.0", "c90.0", "C900", " c90.1 ", "Z22.51", "z2251", "B18. 2", "i48"]


def test_icd10_without_dot_upper_case(tmp_path: Path) -> None:
    rows = [f"P1,{c},2024-01-01" for c in CODES]
    out, _ = _table(tmp_path, "diagnoses", csv_table("patient_id,code,diagnosed_on", *rows))
    assert out["code"].to_list() == [
        "C900",
        "C900",
        "C900",
        "C901",
        "Z2251",
        "Z2251",
        "B182",
        "I48",
    ]
    assert out["code"].to_list() == [normalize_icd10(c) for c in CODES]
    assert out["source_code"].to_list() == CODES


def test_icd10_forms_of_one_code_are_not_exact_duplicates(tmp_path: Path) -> None:
    """C90.0 and C900 on one day normalise alike but are different rows as written: both kept."""
    rows = ["P1,C90.0,2024-01-01", "P1,C900,2024-01-01"]
    out, _ = _table(tmp_path, "diagnoses", csv_table("patient_id,code,diagnosed_on", *rows))
    assert out.height == 2


# --- booleans and integers ----------------------------------------------------------------

BOOLEANS = [
    ("true", True),
    ("TRUE", True),
    ("True", True),
    ("false", False),
    ("FALSE", False),
    ("1", True),
    ("0", False),
    ("yes", True),
    ("No", False),
    ("t", True),
    ("F", False),
    (" yes ", True),
    ("", None),
]


@pytest.mark.parametrize(("written", "parsed"), BOOLEANS)
def test_boolean_spellings(tmp_path: Path, written: str, parsed: bool | None) -> None:
    lesions = csv_table(
        "patient_id,imaged_on,site,longest_diameter_cm,bone_contiguous",
        f'P1,2024-01-01,liver,2.0,"{written}"',
    )
    therapies = csv_table(
        "patient_id,line_number,regimen,start_date,end_date,investigational",
        f'P1,2,KRd,2024-01-01,,"{written}"',
    )
    reg = load_registry(
        write_registry(tmp_path / "r", {"lesions": lesions, "therapies": therapies})
    )
    assert reg.tables["lesions"].collect()["bone_contiguous"].to_list() == [parsed]
    assert reg.tables["therapies"].collect()["investigational"].to_list() == [parsed]


def test_parquet_booleans_and_integers_typed_or_as_numbers(tmp_path: Path) -> None:
    lesions = pl.DataFrame(
        {
            "patient_id": ["P1", "P1"],
            "imaged_on": ["2024-01-01", "2024-01-02"],
            "site": ["a", "b"],
            "longest_diameter_cm": [2, 3],  # integers accepted as numbers
            "bone_contiguous": [1, 0],  # 1/0 integers accepted as booleans
        }
    )
    therapies = pl.DataFrame(
        {
            "patient_id": ["P1", "P1"],
            "line_number": [1.0, 2.0],  # whole floats accepted as integers
            "regimen": ["VRd", "KRd"],
            "start_date": ["2023-01-01", "2024-01-01"],
            "end_date": [None, None],
            "investigational": [False, True],
        }
    )
    reg = load_registry(
        write_registry(tmp_path / "r", {"lesions": lesions, "therapies": therapies}, "parquet")
    )
    les = reg.tables["lesions"].collect()
    assert les["bone_contiguous"].to_list() == [True, False]
    assert les["longest_diameter_cm"].dtype == pl.Float64
    th = reg.tables["therapies"].collect()
    assert th["line_number"].to_list() == [1, 2] and th["line_number"].dtype == pl.Int64
    assert th["end_date"].dtype == pl.Date


# --- patients' sex -------------------------------------------------------------------------


def test_sex_codes_trimmed_upper_cased_others_set_aside(tmp_path: Path) -> None:
    patients = csv_table(
        "patient_id,sex,birth_date",
        "P1,F,1960-01-01",
        "P2, m ,1960-01-01",
        "P3,u,1960-01-01",
        "P4,X,1960-01-01",
        "P5,female,1960-01-01",
        "P6,,1960-01-01",
    )
    out, reg = _table(tmp_path, "patients", patients)
    assert out["sex"].to_list() == ["F", "M", "U", None, None, None]
    assert out.height == 6, "a patient is never dropped for a bad sex code"
    record = reg.set_aside.row(0, named=True)
    assert reg.set_aside.height == 1
    assert (record["table"], record["column"], record["problem"]) == (
        "patients",
        "sex",
        "sex_outside_vocabulary",
    )
    assert record["rows"] == 2 and record["example_rows"] == "4, 5"
    assert record["example_values"] == "X, female"


# --- assessments ---------------------------------------------------------------------------


def test_every_assessment_value_in_vocabulary_is_kept(tmp_path: Path) -> None:
    rows = [
        f"P1,{item},{value},2024-01-01"
        for item, values in ASSESSMENT_ITEMS.items()
        for value in values
    ]
    out, reg = _table(
        tmp_path, "assessments", csv_table("patient_id,item,value,assessed_on", *rows)
    )
    assert out.height == len(rows)
    assert reg.set_aside.is_empty()


def test_assessments_case_insensitive_and_trimmed(tmp_path: Path) -> None:
    rows = [
        "P1,ECOG, 1 ,2024-01-01",
        "P1,Pregnancy_Test,NEGATIVE,2024-01-01",
        "P1,breastfeeding,Yes,2024-01-01",
    ]
    out, _ = _table(tmp_path, "assessments", csv_table("patient_id,item,value,assessed_on", *rows))
    assert out["item"].cast(pl.String).to_list() == ["ecog", "pregnancy_test", "breastfeeding"]
    assert out["value"].cast(pl.String).to_list() == ["1", "negative", "yes"]


def test_assessment_grades_compare_in_numeric_order(tmp_path: Path) -> None:
    rows = [f"P1,diarrhea_grade,{g},2024-01-0{g + 1}" for g in range(6)]
    out, _ = _table(tmp_path, "assessments", csv_table("patient_id,item,value,assessed_on", *rows))
    assert out.filter(pl.col("value") >= "2")["value"].cast(pl.String).to_list() == [
        "2",
        "3",
        "4",
        "5",
    ]


@pytest.mark.parametrize(
    ("item", "value"),
    [
        ("ecog", "5"),
        ("ecog", "yes"),
        ("ecog", "2.0"),
        ("neuropathy_grade", "5"),
        ("diarrhea_grade", "6"),
        ("neuropathy_pain", "maybe"),
        ("childbearing_potential", "1"),
        ("pregnancy_test", "yes"),
        ("breastfeeding", "negative"),
    ],
)
def test_assessment_value_outside_its_vocabulary_is_set_aside(
    tmp_path: Path, item: str, value: str
) -> None:
    rows = ["P1,ecog,1,2024-01-01", f"P1,{item},{value},2024-01-02"]
    out, reg = _table(
        tmp_path, "assessments", csv_table("patient_id,item,value,assessed_on", *rows)
    )
    assert out["_row"].to_list() == [1]
    record = reg.set_aside.row(0, named=True)
    assert (record["column"], record["problem"], record["rows"]) == (
        "value",
        "value_outside_vocabulary",
        1,
    )
    assert record["example_rows"] == "2" and record["example_values"] == f"{item}: {value}"


def test_unknown_assessment_item_is_set_aside(tmp_path: Path) -> None:
    rows = [
        "P1,karnofsky,80,2024-01-01",
        "P1,ecog,1,2024-01-01",
        "P1,karnofsky,70,2024-01-02",
        "P1,,1,2024-01-03",
    ]
    out, reg = _table(
        tmp_path, "assessments", csv_table("patient_id,item,value,assessed_on", *rows)
    )
    assert out["_row"].to_list() == [2]
    got = {r["problem"]: r for r in reg.set_aside.iter_rows(named=True)}
    assert got["unknown_item"]["rows"] == 2 and got["unknown_item"]["example_rows"] == "1, 3"
    assert got["unknown_item"]["example_values"] == "karnofsky"
    assert got["missing_value"]["column"] == "item" and got["missing_value"]["example_rows"] == "4"


# --- procedures ----------------------------------------------------------------------------


def test_procedure_categories(tmp_path: Path) -> None:
    rows = [
        "P1,major_surgery,2024-01-01",
        "P1, Radiotherapy ,2024-01-01",
        "P1,BONE_MARROW_BIOPSY,2024-01-01",
        "P1,other,2024-01-01",
        "P1,minor surgery,2024-01-01",
        "P1,surgery,2024-01-01",
    ]
    out, reg = _table(tmp_path, "procedures", csv_table("patient_id,category,performed_on", *rows))
    assert out["category"].to_list() == [
        "major_surgery",
        "radiotherapy",
        "bone_marrow_biopsy",
        "other",
    ]
    record = reg.set_aside.row(0, named=True)
    assert (record["table"], record["column"], record["problem"]) == (
        "procedures",
        "category",
        "category_outside_vocabulary",
    )
    assert record["rows"] == 2 and record["example_rows"] == "5, 6"


# --- duplicates ----------------------------------------------------------------------------


def test_exact_duplicates_removed_first_row_kept(tmp_path: Path) -> None:
    rows = [
        "P1,anc,1500,/uL,2024-01-01",
        "P1,anc,1500,/uL,2024-01-01",
        "P1,anc,1500,/uL,2024-01-01",
        "P1,anc,1500,/uL,2024-01-02",  # another day: kept
        "P1,anc,1501,/uL,2024-01-01",  # another value: kept
        "P1,anc,1.5,10^9/L,2024-01-01",  # same amount in another unit: kept
        "P2,anc,1500,/uL,2024-01-01",  # another patient: kept
    ]
    out, reg = _table(
        tmp_path, "measurements", csv_table("patient_id,test,value,unit,measured_on", *rows)
    )
    assert out["_row"].to_list() == [1, 4, 5, 6, 7]
    assert reg.raw["measurements"].collect().height == 7, "raw keeps duplicates"
    assert reg.set_aside.is_empty(), "duplicates are not value problems"


@pytest.mark.parametrize(
    ("name", "csv"),
    [
        (
            "patients",
            csv_table(
                "patient_id,sex,birth_date", "P1,F,1960-01-01", "P1,F,1960-01-01", "P2,F,1960-01-02"
            ),
        ),
        (
            "diagnoses",
            csv_table(
                "patient_id,code,diagnosed_on",
                "P1,C90.0,2024-01-01",
                "P1,C90.0,2024-01-01",
                "P1,C90.1,2024-01-01",
            ),
        ),
        (
            "assessments",
            csv_table(
                "patient_id,item,value,assessed_on",
                "P1,ecog,1,2024-01-01",
                "P1,ecog,1,2024-01-01",
                "P1,ecog,2,2024-01-01",
            ),
        ),
        (
            "medications",
            csv_table(
                "patient_id,drug,route,start_date,end_date",
                "P1,aspirin,,2024-01-01,",
                "P1,aspirin,,2024-01-01,",
                "P1,aspirin,,2024-01-01,2024-02-01",
            ),
        ),
        (
            "procedures",
            csv_table(
                "patient_id,category,performed_on",
                "P1,other,2024-01-01",
                "P1,other,2024-01-01",
                "P1,other,2024-01-02",
            ),
        ),
        (
            "lesions",
            csv_table(
                "patient_id,imaged_on,site,longest_diameter_cm,bone_contiguous",
                "P1,2024-01-01,a,2.0,false",
                "P1,2024-01-01,a,2.0,false",
                "P1,2024-01-01,a,2.0,true",
            ),
        ),
        (
            "therapies",
            csv_table(
                "patient_id,line_number,regimen,start_date,end_date,investigational",
                "P1,1,VRd,2024-01-01,,false",
                "P1,1,VRd,2024-01-01,,false",
                "P1,2,VRd,2024-01-01,,false",
            ),
        ),
    ],
)
def test_exact_duplicates_removed_in_every_table(tmp_path: Path, name: str, csv: str) -> None:
    out, _ = _table(tmp_path, name, csv)
    assert out["_row"].to_list() == [1, 3]


def test_duplicates_ignore_extra_columns(tmp_path: Path) -> None:
    csv = csv_table(
        "patient_id,code,diagnosed_on,note", "P1,C90.0,2024-01-01,a", "P1,C90.0,2024-01-01,b"
    )
    out, _ = _table(tmp_path, "diagnoses", csv)
    assert out["_row"].to_list() == [1]


def test_orphans_and_dates_before_birth_are_kept(tmp_path: Path) -> None:
    """Those are for data-quality validation to report, not for the loader to drop."""
    csv = csv_table("patient_id,code,diagnosed_on", "P999,C90.0,2024-01-01", "P1,C90.0,1900-01-01")
    out, _ = _table(tmp_path, "diagnoses", csv)
    assert out.height == 2
