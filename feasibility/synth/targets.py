"""Published figures the synthetic registry reproduces, with their sources.

Each target names the quantity as the tests compute it from the written tables, the
value aimed at and the tolerance the distribution tests accept on a 50,000-patient
draw (population setting; ``ACADEMIC_TARGETS`` on an academic-centre draw). Sources are
listed in ``sources.md`` beside this file; the short key in ``source`` points there, and
``TEAM`` marks a team estimate (no publication behind the number).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    """One published figure: how it is measured, the value aimed at, the accepted band."""

    measure: str
    target: float
    low: float
    high: float
    source: str


TARGETS: dict[str, Target] = {
    "median_age_at_diagnosis": Target(
        "median whole-year age at the first C90.0/C90.1/C90.2 diagnosis", 69, 67, 71, "SEER"
    ),
    "male_share": Target("share of patients with sex M", 0.55, 0.53, 0.57, "SEER"),
    "pcl_share": Target(
        "share of patients with any C90 code whose codes include C90.1",
        0.015,
        0.01,
        0.02,
        "IMWG-PCL",
    ),
    "emd_share_relapsed": Target(
        "share of relapsed patients (a therapy line >= 2) with a lesion that is not bone-contiguous",
        0.08,
        0.03,
        0.14,
        "EMD",
    ),
    "crcl_le_30_relapsed": Target(
        "share of relapsed patients with Cockcroft-Gault <= 30 mL/min at the line-2 start "
        "(creatinine within 30 days, weight within 90 days, both the latest on or before it)",
        0.06,
        0.04,
        0.08,
        "INSIGHT",
    ),
    "hb_lt_8_relapsed": Target(
        "share with hemoglobin < 8 g/dL (latest within 30 days before the line-2 start)",
        0.05,
        0.035,
        0.065,
        "INSIGHT",
    ),
    "plt_le_75k_relapsed": Target(
        "share with platelets <= 75,000 /mm3 (latest within 30 days before the line-2 start)",
        0.05,
        0.035,
        0.065,
        "INSIGHT",
    ),
    "prior_malignancy_relapsed": Target(
        "share of relapsed patients with a C00-C96 diagnosis other than C44/C90 on or before "
        "the line-2 start",
        0.075,
        0.06,
        0.09,
        "INSIGHT",
    ),
    "arrhythmia_relapsed": Target(
        "share of relapsed patients with an I47/I48/I49 diagnosis on or before the line-2 start",
        0.05,
        0.035,
        0.065,
        "INSIGHT",
    ),
    "qtc_gt_470": Target(
        "share of QTc measurements (line-2 screening, latest within 30 days) above 470 ms",
        0.08,
        0.05,
        0.12,
        "QTC",
    ),
    "bortezomib_neuropathy": Target(
        "share of patients with a bortezomib-containing line and a neuropathy_grade >= 1 "
        "assessed after its start",
        0.40,
        0.34,
        0.46,
        "APEX",
    ),
    "hiv_share": Target("share of patients with B20 or Z21", 0.01, 0.006, 0.014, "BRIEF"),
    "hbv_share": Target(
        "share of patients with B16, B18.0, B18.1 or Z22.51", 0.012, 0.003, 0.025, "BRIEF"
    ),
    "hcv_share": Target("share of patients with B17.1 or B18.2", 0.012, 0.002, 0.024, "BRIEF"),
    # --- Disease course (issue 16) ---------------------------------------------------
    "os_5y_2010_2014": Target(
        "share alive 5 years after the first C90.0-2 code, diagnoses 2010-2014",
        0.48,
        0.42,
        0.55,
        "SEER-SURV",
    ),
    "os_5y_2015_2019": Target(
        "share alive 5 years after the first C90.0-2 code, diagnoses 2015-2019 with 5 years "
        "of follow-up",
        0.55,
        0.48,
        0.62,
        "SEER-SURV",
    ),
    "os_3y_2020_2022": Target(
        "share alive 3 years after the first C90.0-2 code, diagnoses 2020-2022 with 3 years "
        "of follow-up",
        0.76,
        0.68,
        0.84,
        "TEAM",
    ),
    "creatinine_ge_2_at_dx": Target(
        "share with creatinine >= 2.0 mg/dL (first value within 14 days of the first C90 code)",
        0.19,
        0.15,
        0.23,
        "KYLE",
    ),
    "hb_lt_12_at_dx": Target(
        "share with hemoglobin < 12 g/dL (first value within 14 days of the first C90 code)",
        0.73,
        0.68,
        0.78,
        "KYLE",
    ),
    "emd_relapse_median_os_months": Target(
        "median months from the first non-bone-contiguous lesion after the line-2 start to death",
        5.0,
        3.5,
        8.0,
        "POUR",
    ),
    "spcl_median_os_months": Target(
        "median months from the first C90.1 code (after a C90.0 code) to death",
        4.2,
        2.5,
        7.0,
        "JURCZYSZYN",
    ),
    "counts_per_year_on_therapy": Target(
        "hemoglobin results per patient-year inside completed therapy lines",
        12.0,
        10.0,
        14.0,
        "LABEL",
    ),
    "ecog_charted_line2": Target(
        "share of line-2 starts with an ECOG in the 30 days before",
        0.65,
        0.55,
        0.75,
        "TEAM",
    ),
    "ecog_ge3_line1": Target(
        "share of charted ECOG >= 3 (latest within 30 days before a line-1 start)",
        0.15,
        0.10,
        0.20,
        "TEAM",
    ),
    "ecog_ge3_line5plus": Target(
        "share of charted ECOG >= 3 (latest within 30 days before a line-5+ start)",
        0.25,
        0.18,
        0.33,
        "TEAM",
    ),
    "pc_measured_at_pcl_line_start": Target(
        "share of line starts after the first C90.1 code with a plasma-cell measure in the 30 "
        "days before",
        0.95,
        0.85,
        1.0,
        "TEAM",
    ),
    "af_coded_within_183d_of_encounter": Target(
        "share of coded encounters > 183 days after a first I48 code with an I48 code in the "
        "183 days before",
        0.95,
        0.88,
        1.0,
        "TEAM",
    ),
    "infections_per_patient_year": Target(
        "infection episodes (J18.9, N39.0, J06.9, A41.9, B02.9, U07.1, L03.90, B44.9; one per type "
        "per 30 days) per patient-year after diagnosis",
        0.40,
        0.30,
        0.50,
        "TEAM",
    ),
    "anti_cd38_reuse_line2": Target(
        "share of line-2 regimens with anti-CD38 among patients with a first-line anti-CD38",
        0.07,
        0.0,
        0.15,
        "TEAM",
    ),
    "black_share": Target(
        "share of patients with race Black or African American", 0.20, 0.18, 0.22, "SEER"
    ),
    "hispanic_share": Target(
        "share of patients with ethnicity Hispanic or Latino", 0.09, 0.075, 0.105, "TEAM"
    ),
    "relapsed_within_5y": Target(
        "share of patients diagnosed 2010-2019 with a line-2 start within 5 years of diagnosis",
        0.65,
        0.55,
        0.75,
        "TEAM",
    ),
    "investigational_share_population": Target(
        "share of therapy lines flagged investigational (population setting)",
        0.02,
        0.01,
        0.035,
        "TEAM",
    ),
}

#: Academic-centre setting (``setting="academic"``), checked on its own draw.
ACADEMIC_TARGETS: dict[str, Target] = {
    "median_age_at_diagnosis": Target(
        "median whole-year age at the first C90.0/C90.1/C90.2 diagnosis", 64, 62, 66, "INSIGHT-AGE"
    ),
    "investigational_share_later_lines": Target(
        "share of line >= 2 therapies flagged investigational", 0.12, 0.09, 0.15, "TEAM"
    ),
    "referred_share_relapsed": Target(
        "share of relapsed patients whose first measurement is within 90 days before their "
        "line-2 start (first seen at relapse)",
        0.30,
        0.24,
        0.36,
        "TEAM",
    ),
}
