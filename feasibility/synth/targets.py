"""Published figures the synthetic registry reproduces, with their sources.

Each target names the quantity as the tests compute it from the written tables, the
value aimed at and the tolerance the distribution tests accept on a 50,000-patient
draw. Sources are listed in ``sources.md`` beside this file; the short key in
``source`` points there.
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
}
