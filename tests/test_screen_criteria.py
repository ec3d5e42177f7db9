"""Boundary tests for every computable criterion of pomalidomide-ixazomib-dex.

Written from contract section 2-3: exactly at each threshold, one day inside and outside
each window, accepted units, missing data and missing tables. Patient p1 is screened at
INDEX = 2024-06-30; ``d(n)`` is n days before the index.
"""

from __future__ import annotations

import datetime as dt

import pytest
from _screen_helpers import INDEX, assess, d, dx, lesion, meas, med, proc, status_of, therapy

# ---------------------------------------------------------------- alive_at_index


@pytest.mark.parametrize(
    ("death", "expected"),
    [(None, "pass"), (d(-1), "pass"), (d(0), "fail"), (d(1), "fail")],
)
def test_alive_at_index(death, expected):
    assert status_of("alive_at_index", death=death) == expected


# ---------------------------------------------------------------- myeloma_diagnosis


@pytest.mark.parametrize(
    ("code", "days", "expected"),
    [
        ("C90.0", 0, "pass"),
        ("C90.00", 3000, "pass"),
        ("c9001", 10, "pass"),
        ("C90.1", 10, "pass"),
        ("C90.12", 10, "pass"),
        ("C90.2", 10, "pass"),
        ("C90.3", 10, "fail"),
        ("C91.0", 10, "fail"),
        ("C90.0", -1, "fail"),  # after index: never used
    ],
)
def test_myeloma_diagnosis(code, days, expected):
    assert status_of("myeloma_diagnosis", dx(code, days)) == expected


def test_myeloma_diagnosis_absent_record_fails_and_absent_table_is_unknown():
    assert status_of("myeloma_diagnosis") == "fail"
    assert status_of("myeloma_diagnosis", absent=("diagnoses",)) == "unknown"


# ---------------------------------------------------------------- previously_treated


@pytest.mark.parametrize(
    ("start", "expected"), [(1, "pass"), (400, "pass"), (0, "fail"), (-5, "fail")]
)
def test_previously_treated(start, expected):
    assert status_of("previously_treated", therapy(start)) == expected


def test_previously_treated_missing():
    assert status_of("previously_treated") == "fail"
    assert status_of("previously_treated", absent=("therapies",)) == "unknown"


# ---------------------------------------------------------------- extramedullary / PCL / measurable


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([lesion(90, 2.0, False)], "pass"),
        ([lesion(0, 2.0, False)], "pass"),
        ([lesion(91, 5.0, False)], "fail"),
        ([lesion(-1, 5.0, False)], "fail"),
        ([lesion(10, 1.99, False)], "fail"),
        ([lesion(10, 3.0, True)], "fail"),
        ([], "fail"),
        ([lesion(10, None, False)], "unknown"),
        ([lesion(10, 3.0, None)], "unknown"),
        ([lesion(10, None, False), lesion(20, 2.5, False)], "pass"),
        ([lesion(10, 1.0, None)], "fail"),
    ],
)
def test_extramedullary_disease(rows, expected):
    assert status_of("extramedullary_disease", *rows) == expected


def test_extramedullary_disease_absent_table_unknown():
    assert status_of("extramedullary_disease", absent=("lesions",)) == "unknown"


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([meas("plasma_cells_pct", 5.0, 1)], "fail"),
        ([meas("plasma_cells_pct", 5.01, 1)], "pass"),
        ([meas("plasma_cells_abs", 0.5, 1)], "fail"),
        ([meas("plasma_cells_abs", 0.51, 1)], "pass"),
        ([meas("plasma_cells_abs", 510, 1, unit="/uL")], "pass"),
        ([meas("plasma_cells_abs", 500, 1, unit="/mm3")], "fail"),
        ([meas("plasma_cells_abs", 0.6, 1, unit="10*3/uL")], "pass"),
        ([meas("plasma_cells_flow", 200, 1)], "pass"),
        ([meas("plasma_cells_flow", 199, 1)], "fail"),
        ([], "unknown"),
        # all present fail -> fail, even with the other measures absent
        ([meas("plasma_cells_pct", 3.0, 1)], "fail"),
        ([meas("plasma_cells_pct", 3.0, 1), meas("plasma_cells_flow", 250, 2)], "pass"),
        # window: 30 days inclusive
        ([meas("plasma_cells_pct", 9.0, 30)], "pass"),
        ([meas("plasma_cells_pct", 9.0, 31)], "unknown"),
        # most recent decides
        ([meas("plasma_cells_pct", 9.0, 20), meas("plasma_cells_pct", 2.0, 5)], "fail"),
        ([meas("plasma_cells_pct", 2.0, 20), meas("plasma_cells_pct", 9.0, 5)], "pass"),
        ([meas("plasma_cells_pct", 9.0, 5), meas("plasma_cells_pct", 2.0, -1)], "pass"),
    ],
)
def test_plasma_cell_leukemia(rows, expected):
    assert status_of("plasma_cell_leukemia", *rows) == expected


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([lesion(5, 3.0)], "pass"),
        ([meas("plasma_cells_pct", 9.0, 5)], "pass"),
        ([meas("plasma_cells_pct", 2.0, 5)], "fail"),  # no lesion -> fail, PCL fail
        ([], "unknown"),  # no lesion -> fail, PCL unknown
        ([lesion(5, 1.0), meas("plasma_cells_pct", 9.0, 5)], "pass"),
    ],
)
def test_measurable_disease_is_or_of_parts(rows, expected):
    assert status_of("measurable_disease", *rows) == expected


def test_measurable_disease_with_lesions_table_absent_still_passes_on_pcl():
    assert (
        status_of("measurable_disease", meas("plasma_cells_pct", 9.0, 5), absent=("lesions",))
        == "pass"
    )
    assert (
        status_of("measurable_disease", meas("plasma_cells_pct", 2.0, 5), absent=("lesions",))
        == "unknown"
    )


# ---------------------------------------------------------------- creatinine clearance


def crcl_rows(weight=27.0, creat=1.0, w_days=5, c_days=5, w_unit="kg", c_unit="mg/dL"):
    return [
        meas("weight", weight, w_days, unit=w_unit),
        meas("creatinine", creat, c_days, unit=c_unit),
    ]


BIRTH_60 = dt.date(1964, 6, 30)  # 60 on the index date, 59 the day before


def test_cockcroft_gault_exactly_at_threshold_male():
    # (140 - 60) * 27 / (72 * 1.0) = 30.0
    assert status_of("creatinine_clearance", *crcl_rows(), birth=BIRTH_60) == "pass"
    assert status_of("creatinine_clearance", *crcl_rows(weight=26.99), birth=BIRTH_60) == "fail"


def test_cockcroft_gault_female_factor():
    from _screen_helpers import screen_patient

    # male 30.0 -> female 25.5
    res = screen_patient(*crcl_rows(), birth=BIRTH_60, sex="F")
    assert res.patient_status["creatinine_clearance"][0] == "fail"
    dv = res.deciding_values("creatinine_clearance")
    assert dv["value"][0] == pytest.approx(30.0 * 0.85)
    # weight making the female value 30 + a little: 30 / 0.85 * 72 / 80 = 31.7647...
    assert (
        status_of("creatinine_clearance", *crcl_rows(weight=31.77), birth=BIRTH_60, sex="F")
        == "pass"
    )
    assert (
        status_of("creatinine_clearance", *crcl_rows(weight=31.76), birth=BIRTH_60, sex="F")
        == "fail"
    )


def test_cockcroft_gault_age_on_and_before_birthday():
    # weight 26.8: age 60 -> 29.78 (fail), age 59 -> 30.15 (pass)
    rows = crcl_rows(weight=26.8, w_days=0, c_days=0)
    assert status_of("creatinine_clearance", *rows, birth=BIRTH_60, index=INDEX) == "fail"
    day_before = INDEX - dt.timedelta(days=1)
    rows_b = [("measurements", {**r[1], "measured_on": day_before}) for r in rows]
    assert status_of("creatinine_clearance", *rows_b, birth=BIRTH_60, index=day_before) == "pass"


def test_cockcroft_gault_units():
    # creatinine 88.4 umol/L = 1.0 mg/dL; weight 59.5248 lb = 27.0 kg
    for c_unit in ("umol/L", "µmol/L"):
        assert (
            status_of("creatinine_clearance", *crcl_rows(creat=88.4, c_unit=c_unit), birth=BIRTH_60)
            == "pass"
        )
    assert (
        status_of("creatinine_clearance", *crcl_rows(creat=88.5, c_unit="umol/L"), birth=BIRTH_60)
        == "fail"
    )
    assert (
        status_of(
            "creatinine_clearance",
            *crcl_rows(weight=27.0 / 0.45359237 + 1e-6, w_unit="lb"),
            birth=BIRTH_60,
        )
        == "pass"
    )


@pytest.mark.parametrize(
    ("kw", "expected"),
    [
        ({"c_days": 30}, "pass"),
        ({"c_days": 31}, "unknown"),
        ({"w_days": 90}, "pass"),
        ({"w_days": 91}, "unknown"),
        ({"c_days": -1}, "unknown"),
    ],
)
def test_cockcroft_gault_windows(kw, expected):
    assert (
        status_of("creatinine_clearance", *crcl_rows(weight=40, **kw), birth=BIRTH_60) == expected
    )


@pytest.mark.parametrize("sex", ["U", None])
def test_cockcroft_gault_sex_unknown(sex):
    # contract 5.1 (amended; section 3 said "sex U -> unknown"): "creatinine_clearance with
    # sex U passes when the female value (x 0.85) is >= 30, fails when the male value is
    # < 30, and is unknown in between". Age 60, creatinine 1.0: male = 80 x w / 72.
    def crcl(weight):
        return status_of("creatinine_clearance", *crcl_rows(weight=weight), birth=BIRTH_60, sex=sex)

    assert crcl(60) == "pass"  # F 56.7, M 66.7
    assert crcl(31.77) == "pass"  # F 30.004 (female threshold weight 31.7647 kg)
    assert crcl(31.76) == "unknown"  # F 29.996, M 35.3: passes as M only
    assert crcl(27.0) == "unknown"  # M exactly 30.0: passes as M, fails as F (25.5)
    assert crcl(26.99) == "fail"  # M just under 30: fails as both


def test_cockcroft_gault_missing_inputs():
    assert status_of("creatinine_clearance", meas("weight", 70, 1), birth=BIRTH_60) == "unknown"
    assert (
        status_of("creatinine_clearance", meas("creatinine", 1.0, 1), birth=BIRTH_60) == "unknown"
    )
    assert status_of("creatinine_clearance", *crcl_rows(weight=70), birth=None) == "unknown"
    assert (
        status_of(
            "creatinine_clearance", *crcl_rows(weight=70), birth=BIRTH_60, absent=("measurements",)
        )
        == "unknown"
    )


# ---------------------------------------------------------------- blood counts


@pytest.mark.parametrize(
    ("criterion", "test", "value", "unit", "expected"),
    [
        ("neutrophils", "anc", 1000, "/mm3", "pass"),
        ("neutrophils", "anc", 999.9, "/mm3", "fail"),
        ("neutrophils", "anc", 1000, "/uL", "pass"),
        ("neutrophils", "anc", 1.0, "10^9/L", "pass"),
        ("neutrophils", "anc", 0.99, "10^3/uL", "fail"),
        ("neutrophils", "anc", 1.0, "10*9/L", "pass"),
        ("neutrophils", "anc", 1.0, "10*3/uL", "pass"),
        ("platelets", "platelets", 50000, "/mm3", "pass"),
        ("platelets", "platelets", 49999, "/mm3", "fail"),
        ("platelets", "platelets", 50, "10^9/L", "pass"),
        ("platelets", "platelets", 49.9, "10^9/L", "fail"),
        ("hemoglobin", "hemoglobin", 8.0, "g/dL", "pass"),
        ("hemoglobin", "hemoglobin", 7.99, "g/dL", "fail"),
        ("hemoglobin", "hemoglobin", 80, "g/L", "pass"),
        ("hemoglobin", "hemoglobin", 79, "g/L", "fail"),
    ],
)
def test_blood_count_thresholds_and_units(criterion, test, value, unit, expected):
    assert status_of(criterion, meas(test, value, 3, unit=unit)) == expected


@pytest.mark.parametrize(
    ("criterion", "test", "good"),
    [
        ("neutrophils", "anc", 1500),
        ("platelets", "platelets", 90000),
        ("hemoglobin", "hemoglobin", 10.0),
    ],
)
def test_blood_count_windows_and_recency(criterion, test, good):
    assert status_of(criterion, meas(test, good, 30)) == "pass"
    assert status_of(criterion, meas(test, good, 31)) == "unknown"
    assert status_of(criterion, meas(test, good, -1)) == "unknown"
    assert status_of(criterion) == "unknown"
    # a failing but plausible value (contract 5.2 sets aside hemoglobin 0.1 g/dL, which the
    # test used before the amendment)
    bad = good / 2 if test == "hemoglobin" else good / 100
    assert status_of(criterion, meas(test, bad, 10), meas(test, good, 2)) == "pass"
    assert status_of(criterion, meas(test, good, 10), meas(test, bad, 2)) == "fail"
    assert status_of(criterion, meas(test, good, 10), meas(test, bad, -2)) == "pass"


def test_measurements_table_absent_is_unknown_for_everyone():
    assert status_of("neutrophils", absent=("measurements",)) == "unknown"


# ---------------------------------------------------------------- ecog


@pytest.mark.parametrize(
    ("value", "days", "expected"),
    [
        ("0", 1, "pass"),
        ("2", 30, "pass"),
        ("3", 1, "fail"),
        ("4", 1, "fail"),
        ("1", 31, "unknown"),
        ("1", -1, "unknown"),
    ],
)
def test_ecog(value, days, expected):
    assert status_of("ecog", assess("ecog", value, days)) == expected


def test_ecog_most_recent_and_missing():
    assert status_of("ecog", assess("ecog", "3", 20), assess("ecog", "1", 2)) == "pass"
    assert status_of("ecog", assess("ecog", "1", 20), assess("ecog", "3", 2)) == "fail"
    assert status_of("ecog") == "unknown"


# ---------------------------------------------------------------- pregnancy_test


@pytest.mark.parametrize(
    ("sex", "rows", "expected"),
    [
        ("M", [], "pass"),
        ("M", [assess("childbearing_potential", "yes", 5)], "pass"),
        ("F", [], "unknown"),
        ("F", [assess("pregnancy_test", "negative", 1)], "unknown"),  # no cbp record -> unknown
        ("F", [assess("childbearing_potential", "no", 900)], "pass"),
        (
            "F",
            [assess("childbearing_potential", "no", 5), assess("pregnancy_test", "positive", 1)],
            "pass",
        ),
        ("F", [assess("childbearing_potential", "yes", 900)], "unknown"),
        (
            "F",
            [assess("childbearing_potential", "yes", 900), assess("pregnancy_test", "negative", 7)],
            "pass",
        ),
        (
            "F",
            [assess("childbearing_potential", "yes", 900), assess("pregnancy_test", "negative", 0)],
            "pass",
        ),
        (
            "F",
            [assess("childbearing_potential", "yes", 900), assess("pregnancy_test", "negative", 8)],
            "unknown",
        ),
        (
            "F",
            [assess("childbearing_potential", "yes", 900), assess("pregnancy_test", "positive", 2)],
            "fail",
        ),
        (
            "F",
            [
                assess("childbearing_potential", "yes", 900),
                assess("pregnancy_test", "positive", 5),
                assess("pregnancy_test", "negative", 1),
            ],
            "pass",
        ),
        # the most recent childbearing_potential on or before index decides
        (
            "F",
            [
                assess("childbearing_potential", "yes", 900),
                assess("childbearing_potential", "no", 100),
            ],
            "pass",
        ),
        (
            "F",
            [
                assess("childbearing_potential", "no", 900),
                assess("childbearing_potential", "yes", 100),
            ],
            "unknown",
        ),
        (
            "F",
            [
                assess("childbearing_potential", "no", 900),
                assess("childbearing_potential", "yes", -1),
            ],
            "pass",
        ),
        ("U", [assess("childbearing_potential", "no", 10)], "pass"),
        # contract 5.1: "pregnancy_test with sex U passes when it would pass for a woman
        # (most recent childbearing_potential no, or yes with a negative test in its 7 days)
        # and is unknown otherwise" (section 3 made the second case unknown)
        (
            "U",
            [assess("childbearing_potential", "yes", 10), assess("pregnancy_test", "negative", 1)],
            "pass",
        ),
    ],
)
def test_pregnancy_test(sex, rows, expected):
    assert status_of("pregnancy_test", *rows, sex=sex) == expected


# ---------------------------------------------------------------- other_malignancy


@pytest.mark.parametrize(
    ("code", "days", "expected"),
    [
        ("C50.911", 365, "fail"),
        ("C50.911", 366, "pass"),
        ("C50.911", 0, "fail"),
        ("C50.911", -1, "pass"),
        ("C00.0", 10, "fail"),
        ("C96.9", 10, "fail"),
        ("C43.9", 10, "fail"),
        ("C4A.9", 10, "fail"),
        ("C44.91", 10, "pass"),
        ("C90.00", 10, "pass"),
        ("C97", 10, "pass"),
        ("D05.10", 10, "pass"),
        ("D06.9", 10, "pass"),
    ],
)
def test_other_malignancy(code, days, expected):
    assert status_of("other_malignancy", dx(code, days)) == expected


def test_other_malignancy_missing():
    assert status_of("other_malignancy") == "pass"
    assert status_of("other_malignancy", absent=("diagnoses",)) == "unknown"


# ---------------------------------------------------------------- nursing


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([assess("breastfeeding", "yes", 90)], "fail"),
        ([assess("breastfeeding", "yes", 91)], "pass"),
        ([assess("breastfeeding", "yes", -1)], "pass"),
        ([assess("breastfeeding", "no", 3)], "pass"),
        ([], "pass"),
        ([assess("breastfeeding", "yes", 40), assess("breastfeeding", "no", 3)], "pass"),
        ([assess("breastfeeding", "no", 40), assess("breastfeeding", "yes", 3)], "fail"),
    ],
)
def test_nursing(rows, expected):
    assert status_of("nursing", *rows, sex="F") == expected


def test_nursing_table_absent_unknown():
    assert status_of("nursing", absent=("assessments",)) == "unknown"


# ---------------------------------------------------------------- concurrent_therapy


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (therapy(10, None, investigational=True), "fail"),
        (therapy(0, None, investigational=True), "fail"),
        (therapy(10, 0, investigational=True), "fail"),
        (therapy(10, 1, investigational=True), "pass"),
        (therapy(-1, None, investigational=True), "pass"),
        (therapy(10, None, investigational=False), "pass"),
        (therapy(10, None, investigational=None), "unknown"),
    ],
)
def test_concurrent_therapy(row, expected):
    assert status_of("concurrent_therapy", row) == expected


def test_concurrent_therapy_missing():
    assert status_of("concurrent_therapy") == "pass"
    assert status_of("concurrent_therapy", absent=("therapies",)) == "unknown"


# ---------------------------------------------------------------- peripheral_neuropathy


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([assess("neuropathy_grade", "0", 1)], "pass"),
        ([assess("neuropathy_grade", "1", 1)], "pass"),
        ([assess("neuropathy_grade", "3", 1)], "fail"),
        ([assess("neuropathy_grade", "4", 30)], "fail"),
        ([assess("neuropathy_grade", "2", 1), assess("neuropathy_pain", "yes", 1)], "fail"),
        ([assess("neuropathy_grade", "2", 1), assess("neuropathy_pain", "no", 1)], "pass"),
        ([assess("neuropathy_grade", "2", 1)], "unknown"),
        ([assess("neuropathy_grade", "2", 1), assess("neuropathy_pain", "yes", 31)], "unknown"),
        (
            [
                assess("neuropathy_grade", "2", 1),
                assess("neuropathy_pain", "no", 20),
                assess("neuropathy_pain", "yes", 2),
            ],
            "fail",
        ),
        ([assess("neuropathy_grade", "1", 1), assess("neuropathy_pain", "yes", 1)], "pass"),
        ([assess("neuropathy_grade", "3", 31)], "unknown"),
        ([assess("neuropathy_pain", "yes", 1)], "unknown"),
        ([], "unknown"),
    ],
)
def test_peripheral_neuropathy(rows, expected):
    assert status_of("peripheral_neuropathy", *rows) == expected


# ---------------------------------------------------------------- major_surgery


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (proc("major_surgery", 14), "fail"),
        (proc("major_surgery", 0), "fail"),
        (proc("major_surgery", 15), "pass"),
        (proc("major_surgery", -1), "pass"),
        (proc("radiotherapy", 1), "pass"),
        (proc("other", 1), "pass"),
    ],
)
def test_major_surgery(row, expected):
    assert status_of("major_surgery", row) == expected


def test_major_surgery_missing():
    assert status_of("major_surgery") == "pass"
    assert status_of("major_surgery", absent=("procedures",)) == "unknown"


# ---------------------------------------------------------------- cyp_interacting_drugs

LISTED = [
    "fluvoxamine", "enoxacin", "ciprofloxacin", "clarithromycin", "telithromycin", "itraconazole",
    "voriconazole", "ketoconazole", "nefazodone", "posaconazole", "rifampin", "rifapentine",
    "rifabutin", "carbamazepine", "phenytoin", "phenobarbital", "ginkgo biloba", "st. john's wort",
]  # fmt: skip
SYNONYMS = [
    "Rifampicin",
    "ST JOHNS WORT",
    "Hypericum",
    "  St. John's Wort ",
    "ginkgo",
    "Gingko Biloba",
    " Clarithromycin ",
]


@pytest.mark.parametrize("drug", LISTED + SYNONYMS)
def test_every_listed_drug_and_synonym_excludes(drug):
    assert status_of("cyp_interacting_drugs", med(drug, 30, None)) == "fail"


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (med("rifampin", 30, 7), "fail"),
        (med("rifampin", 30, 8), "pass"),
        (med("rifampin", 0, None), "fail"),
        (med("rifampin", -1, None), "pass"),
        (med("rifampin", 3000, None), "fail"),
        (med("rifampin", 30, -10), "fail"),
        (med("rifampin", 30, None, route=None), "fail"),
        (med("rifampin", 30, None, route="IV"), "fail"),
        (med("ketoconazole", 30, None, route="topical"), "pass"),
        (med("ketoconazole", 30, None, route=" Topical "), "pass"),
        (med("ciprofloxacin", 30, None, route="ophthalmic"), "pass"),
        (med("ciprofloxacin", 30, None, route="otic"), "pass"),
        (med("levofloxacin", 30, None), "pass"),
        (med("dexamethasone", 30, None), "pass"),
    ],
)
def test_cyp_window_and_routes(row, expected):
    assert status_of("cyp_interacting_drugs", row) == expected


def test_cyp_missing():
    assert status_of("cyp_interacting_drugs") == "pass"
    assert status_of("cyp_interacting_drugs", absent=("medications",)) == "unknown"


# ---------------------------------------------------------------- cardiovascular


@pytest.mark.parametrize(
    ("code", "days", "expected"),
    [
        ("I48.91", 183, "fail"),
        ("I48.91", 184, "pass"),
        ("I48.91", -1, "pass"),
        ("I20.9", 1, "fail"),
        ("I21.4", 1, "fail"),
        ("I22.0", 1, "fail"),
        ("I47.1", 1, "fail"),
        ("I49.9", 1, "fail"),
        ("I50.9", 1, "fail"),
        ("I10", 1, "pass"),
        ("I25.10", 1, "pass"),
    ],
)
def test_cardiovascular(code, days, expected):
    assert status_of("cardiovascular", dx(code, days)) == expected


# ---------------------------------------------------------------- qtc


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([meas("qtc", 470, 1)], "pass"),
        ([meas("qtc", 470.1, 1)], "fail"),
        ([meas("qtc", 500, 31)], "unknown"),
        ([meas("qtc", 500, 30)], "fail"),
        ([], "unknown"),
        ([meas("qtc", 500, 10), meas("qtc", 440, 1)], "pass"),
    ],
)
def test_qtc(rows, expected):
    assert status_of("qtc", *rows) == expected


# ---------------------------------------------------------------- hiv, hepatitis


@pytest.mark.parametrize(
    ("code", "days", "expected"),
    [("B20", 5000, "fail"), ("Z21", 0, "fail"), ("B20", -1, "pass"), ("Z20.6", 1, "pass")],
)
def test_hiv(code, days, expected):
    assert status_of("hiv", dx(code, days)) == expected


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("B16.9", "fail"),
        ("B18.0", "fail"),
        ("B18.1", "fail"),
        ("Z22.51", "fail"),
        ("B17.10", "fail"),
        ("B17.11", "fail"),
        ("B18.2", "fail"),
        ("b182", "fail"),
        ("B18.9", "pass"),
        ("B17.2", "pass"),
        ("Z22.50", "pass"),
        ("B19.9", "pass"),
    ],
)
def test_hepatitis(code, expected):
    assert status_of("hepatitis", dx(code, 4000)) == expected


def test_hepatitis_after_index_ignored():
    assert status_of("hepatitis", dx("B18.2", -1)) == "pass"


# ---------------------------------------------------------------- gi_absorption


@pytest.mark.parametrize(
    ("code", "days", "expected"),
    [
        ("K90.0", 5000, "fail"),
        ("K90.9", 0, "fail"),
        ("K91.2", 5000, "fail"),
        ("K91.1", 10, "pass"),
        ("R13.10", 183, "fail"),
        ("R13.12", 10, "fail"),
        ("R13.10", 184, "pass"),
        ("R13.0", 10, "pass"),
        ("K90.0", -1, "pass"),
    ],
)
def test_gi_absorption(code, days, expected):
    assert status_of("gi_absorption", dx(code, days)) == expected


# ---------------------------------------------------------------- diarrhea


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([assess("diarrhea_grade", "2", 1)], "fail"),
        ([assess("diarrhea_grade", "5", 30)], "fail"),
        ([assess("diarrhea_grade", "1", 1)], "pass"),
        ([assess("diarrhea_grade", "0", 1)], "pass"),
        ([assess("diarrhea_grade", "3", 31)], "pass"),
        ([assess("diarrhea_grade", "3", -1)], "pass"),
        ([], "pass"),
        ([assess("diarrhea_grade", "3", 10), assess("diarrhea_grade", "1", 1)], "pass"),
    ],
)
def test_diarrhea(rows, expected):
    assert status_of("diarrhea", *rows) == expected


def test_diarrhea_table_absent_unknown():
    assert status_of("diarrhea", absent=("assessments",)) == "unknown"
