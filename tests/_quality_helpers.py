"""Helpers for the data-quality tests: a generated registry and the defect-class -> check map."""

from __future__ import annotations

import polars as pl

from feasibility.schema import EVENT_DATE, INTERVALS


#: Which check flags each planted defect class (ARCHITECTURE.md defect classes), as a
#: function of the manifest row's table and column.
def check_for(defect: str, table: str, column: str) -> str | None:
    """The check id expected to flag a manifest row; None when matched by prefix."""
    if defect == "missing_value":
        return f"{table}.{column}.not_null"
    if defect == "duplicate_row":
        return f"{table}.row.not_duplicate"
    if defect == "before_birth":
        return f"{table}.{EVENT_DATE[table]}.not_before_birth"
    if defect == "after_death":
        return f"{table}.{EVENT_DATE[table]}.not_after_death"
    if defect == "end_before_start":
        return f"{table}.{INTERVALS[table][1]}.not_before_start"
    if defect == "orphan_patient_id":
        return f"{table}.patient_id.in_patients"
    if defect == "sex_outside_vocabulary":
        return "patients.sex.vocabulary"
    if defect == "unknown_assessment_item":
        return "assessments.item.vocabulary"
    return NEW_CLASSES.get(defect)


#: The screening-specific classes (feasibility/synth/defects_dq.py) and their checks.
NEW_CLASSES = {
    "near_miss_drug": "medications.drug.near_miss",
    "near_miss_code": "diagnoses.code.near_miss",
    "sex_implausible": "assessments.sex.plausible",
    "line_gap": "therapies.line_number.sequence_gap",
    "line_overlap": "therapies.start_date.line_overlap",
}
#: Checks that also flag rows made wrong by *other* planted defects: a therapy line
#: orphaned, moved before birth or after death leaves a gap or an overlap behind.
SEQUENCE_CHECKS = {NEW_CLASSES["line_gap"], NEW_CLASSES["line_overlap"]}


#: Classes checked per test (their check ids carry a [test] suffix).
PREFIX = {
    "unit_outside_vocabulary": "measurements.unit.accepted[",
    "implausible_value": "measurements.value.plausible[",
}


def flagged_rows(unexpected: pl.DataFrame, defect: str, table: str, column: str) -> set[int]:
    """Rows of ``table`` flagged by the check(s) matching a defect class."""
    check = check_for(defect, table, column)
    if check is not None:
        sel = unexpected.filter(pl.col("check") == check)
    else:
        sel = unexpected.filter(pl.col("check").str.starts_with(PREFIX[defect]))
    return set(sel.filter(pl.col("table") == table).get_column("row").to_list())


# --------------------------------------------------------------------------- a boundary registry

INDEX = "2024-06-01"
TODAY = "2025-01-01"

PATIENTS = """patient_id,sex,birth_date,race,ethnicity,site,death_date
P1,F,1960-01-01,white,,A,
P2,m,2006-06-01,,,A,
P3,M,2006-06-02,,,A,
P4,Female,1914-06-01,,,B,
P5,U,1913-06-01,,,B,
P6,M,1950-01-01,,,B,2020-01-01
"""


def _measurement_rows() -> list[str]:
    """100 rows; the first 23 carry one case each (comments give the expectation)."""
    rows = [
        "P1,hemoglobin,2.0,g/dL,2024-05-02",  # 1 low bound, plausible; in 30-day window
        "P1,hemoglobin,25,g/dL,2024-04-01",  # 2 high bound, plausible
        "P1,hemoglobin,1.99,g/dL,2024-04-02",  # 3 implausible
        "P1,hemoglobin,250,g/L,2024-04-03",  # 4 25 g/dL after conversion, plausible
        "P1,hemoglobin,251,g/L,2024-04-04",  # 5 25.1 g/dL, implausible
        "P1,hemoglobin,12,G/DL,2024-04-05",  # 6 unit outside vocabulary (case matters)
        "P1,hemoglobin,12, g/dL ,2024-04-06",  # 7 accepted after trimming
        "P1,Hemoglobin ,12,g/dL,2024-04-07",  # 8 test accepted after trim/lower
        "P1,hgb,12,g/dL,2024-04-08",  # 9 unknown test
        "P1,hemoglobin,,g/dL,2024-04-09",  # 10 value missing
        "P1,hemoglobin,12,g/dL,",  # 11 measured_on missing
        "P1,hemoglobin,13,g/dL,",  # 12 measured_on missing
        "P2,anc,1500,/mm3,2024-05-01",  # 13 31 days before index: outside window
        "P99,anc,1500,/mm3,2024-04-10",  # 14 orphan patient_id
        " P1 ,anc,1500,/mm3,2024-04-11",  # 15 padded id: a known patient
        "P1,anc,1600,/mm3,2024-04-12",  # 16
        "P1,anc,1600,/mm3,2024-04-12",  # 17 exact copy of 16
        "P1,weight,70,kg,1959-12-31",  # 18 before birth
        "P1,weight,70,kg,1960-01-01",  # 19 on the birth day: fine
        "P6,weight,70,kg,2020-01-01",  # 20 on the death day: fine
        "P6,weight,70,kg,2020-01-02",  # 21 after death
        "P1,weight,70,kg,2025-01-02",  # 22 after 'today' (2025-01-01)
        "P1,weight,70,kg,2025-01-01",  # 23 on 'today': fine
        "P3,hemoglobin,11,g/dL,2024-06-02",  # 24 after index: not in window
    ]
    day = 0
    while len(rows) < 100:
        day += 1
        rows.append(f"P1,weight,{60 + day % 20},kg,2023-{1 + day // 28:02d}-{1 + day % 28:02d}")
    return rows


ASSESSMENTS = """patient_id,item,value,assessed_on
P1,ecog,2,2024-05-20
P1,ECOG, 5 ,2024-05-21
P1,kps,80,2024-05-22
P2,breastfeeding,No,2024-05-01
"""

DIAGNOSES = """patient_id,code,diagnosed_on
P1,C90.0,2020-01-01
P1,c9000,2020-01-02
P2,9XX,2020-01-03
P3,C90.00000,2020-01-04
"""

THERAPIES = """patient_id,line_number,regimen,start_date,end_date,investigational
P1,1,VRd,2023-01-01,2022-12-31,false
P1,2,KPd,2023-02-01,2023-02-01,false
P2,0,X,2023-03-01,,true
"""

MEDICATIONS = """patient_id,drug,route,start_date,end_date
P1,ciprofloxacin,Oral,2024-05-30,
P1,ketoconazole,bucal,2024-05-30,2024-06-10
"""

PROCEDURES = """patient_id,category,performed_on
P1,Major_Surgery,2024-05-25
P2,surgery,2024-05-25
"""

#: Rows (1-based data rows) each check must flag in the boundary registry.
EXPECTED_ROWS: dict[str, set[int]] = {
    "measurements.value.plausible[hemoglobin]": {3, 5},
    "measurements.unit.accepted[hemoglobin]": {6},
    "measurements.test.vocabulary": {9},
    "measurements.value.not_null": {10},
    "measurements.measured_on.not_null": {11, 12},
    "measurements.patient_id.in_patients": {14},
    "measurements.row.not_duplicate": {17},
    "measurements.measured_on.not_before_birth": {18},
    "measurements.measured_on.not_after_death": {21},
    "measurements.measured_on.not_in_future": {22},
    "patients.sex.vocabulary": {4},
    "patients.birth_date.age_range": {3, 5},
    "assessments.value.vocabulary[ecog]": {2},
    "assessments.item.vocabulary": {3},
    "diagnoses.code.icd10_pattern": {3, 4},
    "therapies.end_date.not_before_start": {1},
    "therapies.line_number.positive": {3},
    "medications.route.vocabulary": {2},
    "procedures.category.vocabulary": {2},
}


def write_boundary_registry(root, *, lesions: bool = False, extra_patients: str = "") -> None:
    """Write the boundary registry as CSV files into ``root`` (no lesions table by default)."""
    from pathlib import Path

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    (root / "patients.csv").write_text(PATIENTS + extra_patients, encoding="utf-8")
    (root / "measurements.csv").write_text(
        "patient_id,test,value,unit,measured_on\n" + "\n".join(_measurement_rows()) + "\n",
        encoding="utf-8",
    )
    (root / "assessments.csv").write_text(ASSESSMENTS, encoding="utf-8")
    (root / "diagnoses.csv").write_text(DIAGNOSES, encoding="utf-8")
    (root / "therapies.csv").write_text(THERAPIES, encoding="utf-8")
    (root / "medications.csv").write_text(MEDICATIONS, encoding="utf-8")
    (root / "procedures.csv").write_text(PROCEDURES, encoding="utf-8")
    if lesions:
        (root / "lesions.csv").write_text(
            "patient_id,imaged_on,site,longest_diameter_cm,bone_contiguous\n"
            "P1,2024-05-01,chest wall,2.5,false\n",
            encoding="utf-8",
        )
