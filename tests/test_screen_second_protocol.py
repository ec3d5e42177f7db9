"""Reuse: a second real relapsed-myeloma protocol (ICARIA-MM) is only a YAML file.

Its thresholds are stated in other units (10^3/uL, 10^9/L, g/L) and windows differ; the
same engine screens it with no code change.
"""

from __future__ import annotations

import copy
from pathlib import Path

import polars as pl
import pytest
import yaml
from _screen_helpers import assess, d, dx, meas, med, proc, status_of, therapy

from feasibility.engine import screen
from feasibility.errors import ProtocolError
from feasibility.protocol import PROTOCOL_DIR, load_protocol, parse_protocol

ICARIA = "isatuximab-pomalidomide-dex"
SAMPLE = Path(__file__).resolve().parents[1] / "data_samples" / "registry"


def test_second_protocol_loads():
    p = load_protocol(ICARIA)
    assert p.id == ICARIA and len(p.steps) == 20
    assert p.criterion("platelets").threshold == ("platelets", "<", 75.0, "10^3/uL")
    assert p.criterion("platelets").rule_obj.value == 75000.0  # canonical /mm3
    # issue 11 point 5: hemoglobin is not among the trial's published laboratory exclusions
    assert "hemoglobin" not in p.criterion_ids
    assert all(0 < a.pass_rate <= 1 for a in p.assumptions)
    # every computable criterion carries a full sentence (ends with a full stop)
    assert all(c.source and all(s.rstrip().endswith(".") for s in c.source) for c in p.criteria)


@pytest.mark.parametrize(
    ("criterion", "rows", "expected"),
    [
        ("platelets", [meas("platelets", 75000, 21)], "pass"),
        ("platelets", [meas("platelets", 74.9, 3, unit="10^9/L")], "fail"),
        ("platelets", [meas("platelets", 90000, 22)], "unknown"),
        ("neutrophils", [meas("anc", 1000, 1)], "pass"),
        ("neutrophils", [meas("anc", 0.99, 1, unit="10^9/L")], "fail"),
        ("ecog", [assess("ecog", "2", 21)], "pass"),
        ("ecog", [assess("ecog", "3", 1)], "fail"),
        ("prior_lines", [therapy(400, 300, line=1)], "fail"),
        ("prior_lines", [therapy(400, 300, line=1), therapy(200, 10, line=2)], "pass"),
        ("prior_pomalidomide", [med("Pomalyst", 2000, 1500)], "fail"),
        ("prior_pomalidomide", [med("lenalidomide", 2000, 1500)], "pass"),
        ("myocardial_infarction", [dx("I21.4", 365)], "fail"),
        ("myocardial_infarction", [dx("I21.4", 366)], "pass"),
        ("hepatitis", [dx("B18.1", 366)], "pass"),
        ("creatinine_clearance", [meas("creatinine", 1.0, 21), meas("weight", 27, 80)], "pass"),
        ("creatinine_clearance", [meas("creatinine", 1.0, 21), meas("weight", 26.9, 80)], "fail"),
    ],
)
def test_second_protocol_boundaries(criterion, rows, expected):
    import datetime as dt

    birth = dt.date(1964, 6, 30)  # 60 on the index date
    assert status_of(criterion, *rows, birth=birth, protocol=ICARIA) == expected


def test_second_protocol_age_and_pregnancy():
    import datetime as dt

    assert status_of("adult", birth=dt.date(2006, 6, 30), protocol=ICARIA) == "pass"  # 18 today
    assert status_of("adult", birth=dt.date(2006, 7, 1), protocol=ICARIA) == "fail"
    assert status_of("adult", birth=None, protocol=ICARIA) == "unknown"
    assert status_of("pregnancy", sex="M", protocol=ICARIA) == "pass"
    assert status_of("pregnancy", sex="F", protocol=ICARIA) == "pass"
    assert (
        status_of("pregnancy", assess("pregnancy_test", "positive", 28), sex="F", protocol=ICARIA)
        == "fail"
    )
    assert (
        status_of("pregnancy", assess("pregnancy_test", "positive", 29), sex="F", protocol=ICARIA)
        == "pass"
    )


def test_when_is_refused_in_an_exclusion():
    data = yaml.safe_load((PROTOCOL_DIR / f"{ICARIA}.yaml").read_text(encoding="utf-8"))
    data = copy.deepcopy(data)
    item = next(i for i in data["eligibility"] if i["id"] == "pregnancy")
    item["rule"] = {
        "when": {
            "condition": {"sex": {"in": ["F"]}},
            "then": {"latest": {"item": "pregnancy_test", "window": "28d", "in": ["positive"]}},
        }
    }
    with pytest.raises(ProtocolError) as exc:
        parse_protocol(data)
    assert exc.value.criterion == "pregnancy"


def _sample_registry(tmp_path: Path) -> Path:
    if (SAMPLE / "patients.parquet").exists() or (SAMPLE / "patients.csv").exists():
        return SAMPLE
    from feasibility.synth import generate_registry

    generate_registry(400, 7, tmp_path / "reg", format="parquet", defects="realistic")
    return tmp_path / "reg"


def test_second_protocol_screens_sample_registry(tmp_path):
    from feasibility.registry import load_registry

    reg = load_registry(_sample_registry(tmp_path))
    first = screen(reg, "pomalidomide-ixazomib-dex", "2024-06-30")
    second = first.rescreen(load_protocol(ICARIA))  # same cached tables, other protocol
    direct = screen(reg, ICARIA, "2024-06-30")
    assert second.patient_status.equals(direct.patient_status)
    ps = direct.patient_status
    expected_cols = ["patient_id", "index_date", *load_protocol(ICARIA).criterion_ids, "eligible"]
    assert ps.columns == expected_cols
    assert ps.height == first.patient_status.height
    for c in expected_cols[2:]:
        assert set(ps[c].unique()) <= {"pass", "fail", "unknown"}
    f = direct.funnel()
    assert f["remaining"][-1] == (ps["eligible"] == "pass").sum()
    # platelets 50,000-74,999 in the last 21 days: pass for the first protocol, fail here
    dv2 = direct.deciding_values("platelets")
    dv1 = first.deciding_values("platelets").rename({"value": "value1", "status": "status1"})
    both = dv2.join(dv1.select("patient_id", "value1", "status1"), on="patient_id")
    between = both.filter((pl.col("value") >= 50000) & (pl.col("value") < 75000))
    assert (between["value"] == between["value1"]).all()
    assert (between["status"] == "fail").all()
    # contract 5.1: an undated platelet count that would fail makes the first protocol's
    # criterion unknown (never fail) for a dated 50,000-74,999 count
    assert between["status1"].is_in(["pass", "unknown"]).all()
    assert (between["status1"] == "pass").sum() > 0


# ---------------------------------------------------------------- corrected criteria (issue 11)


def _regimen(regimen: str, start: int, end: int | None, line: int = 1):
    table, row = therapy(start, end, line=line)
    return table, {**row, "regimen": regimen}


@pytest.mark.parametrize(
    ("criterion", "rows", "expected"),
    [
        # prior lenalidomide / proteasome inhibitor: from medications or from regimens
        ("prior_lenalidomide", [_regimen("VRd", 900, 700)], "pass"),
        ("prior_lenalidomide", [_regimen("Dara-VRd", 900, 700)], "pass"),
        ("prior_lenalidomide", [med("Revlimid", 900, 700)], "pass"),
        ("prior_lenalidomide", [_regimen("Kd", 900, 700)], "fail"),
        ("prior_lenalidomide", [_regimen("Rd", 0, None)], "fail"),  # starts on the index
        ("prior_lenalidomide", [], "fail"),
        ("prior_proteasome_inhibitor", [_regimen("KRd", 900, 700)], "pass"),
        ("prior_proteasome_inhibitor", [_regimen("Ixa-Rd", 900, 700)], "pass"),
        ("prior_proteasome_inhibitor", [med("Velcade", 900, 700)], "pass"),
        ("prior_proteasome_inhibitor", [_regimen("Rd", 900, 700)], "fail"),
        ("prior_pomalidomide", [_regimen("Dara-Pd", 900, 700)], "fail"),
        ("prior_pomalidomide", [_regimen("VMP", 900, 700)], "pass"),  # P = prednisone here
        # anti-CD38 exposure: refractoriness is not in the registry -> unknown
        ("prior_anti_cd38_refractory", [_regimen("Dara-Rd", 900, 700)], "unknown"),
        ("prior_anti_cd38_refractory", [med("Sarclisa", 900, 700)], "unknown"),
        ("prior_anti_cd38_refractory", [_regimen("VRd", 900, 700)], "pass"),
        # anti-myeloma treatment, dexamethasone included, within 14 days
        ("anti_myeloma_treatment", [med("dexamethasone", 100, 14)], "fail"),
        ("anti_myeloma_treatment", [med("dexamethasone", 100, 15)], "pass"),
        ("anti_myeloma_treatment", [med("Decadron", 3, None)], "fail"),
        ("anti_myeloma_treatment", [med("dexamethasone", 0, None)], "pass"),  # starts at index
        ("anti_myeloma_treatment", [_regimen("KRd", 200, 14)], "fail"),
        ("anti_myeloma_treatment", [_regimen("KRd", 200, 15)], "pass"),
        ("anti_myeloma_treatment", [_regimen("Isa-Pd", 0, None, line=3)], "pass"),
        ("anti_myeloma_treatment", [med("acyclovir", 3, None)], "pass"),
        # major procedures within 14 days
        ("major_procedure", [proc("plasmapheresis", 14)], "fail"),
        ("major_procedure", [proc("radiotherapy", 3)], "fail"),
        ("major_procedure", [proc("major_surgery", 14)], "fail"),
        ("major_procedure", [proc("major_surgery", 15)], "pass"),
        ("major_procedure", [proc("bone_marrow_biopsy", 1)], "pass"),
        # another malignancy within 3 years, with its exceptions
        ("other_malignancy", [dx("C50.9", 1095)], "fail"),
        ("other_malignancy", [dx("C50.9", 1096)], "pass"),
        ("other_malignancy", [dx("C44.91", 10)], "pass"),  # skin basal/squamous cell
        ("other_malignancy", [dx("D06.9", 10)], "pass"),  # cervix in situ
        ("other_malignancy", [dx("D46.9", 10)], "fail"),  # contract 5.3 codes apply
        ("other_malignancy", [dx("C90.00", 10)], "pass"),  # the myeloma itself
        ("hepatitis", [dx("B19.10", 10)], "fail"),  # contract 5.3
        ("hepatitis", [dx("B15.9", 10)], "fail"),  # hepatitis A is named by the trial
    ],
)
def test_corrected_icaria_criteria(criterion, rows, expected):
    assert status_of(criterion, *rows, protocol=ICARIA) == expected


def test_icaria_assumptions_are_merged_and_cited():
    p = load_protocol(ICARIA)
    a = {x.id: x for x in p.assumptions}
    assert a["flc_only"].same_as == "measurable_m_protein"
    assert a["informed_consent"].pass_rate == 0.55
    assert {"prior_lenalidomide_and_pi", "hemoglobin"}.isdisjoint(a)
    r = p.expected_range(100)
    assert r.low < r.estimate < r.high


def test_undated_regimen_line_is_unknown_for_prior_exposure():
    # contract 5.1: an undated Rd line would decide prior_lenalidomide if it fell before index
    table, row = _regimen("Rd", 900, None)
    row = {**row, "start_date": None, "end_date": d(-5)}
    assert status_of("prior_lenalidomide", (table, row), protocol=ICARIA) == "unknown"
