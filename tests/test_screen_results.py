"""ScreenResult: funnel, impact, evidence, relax/without/reorder, event mode, writing outputs."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from _screen_helpers import (
    INDEX,
    cached_protocol,
    d,
    eligible_patient_rows,
    make_registry,
    merge,
    patient,
    screen_patient,
)

from feasibility.engine import IndexEvents, screen
from feasibility.protocol import parse_protocol

PROTO = "pomalidomide-ixazomib-dex"
STATUS_COLS = [
    "patient_id", "index_date", "alive_at_index", "myeloma_diagnosis", "previously_treated",
    "measurable_disease", "extramedullary_disease", "plasma_cell_leukemia", "creatinine_clearance",
    "neutrophils", "platelets", "hemoglobin", "ecog", "pregnancy_test", "other_malignancy", "nursing",
    "concurrent_therapy", "peripheral_neuropathy", "major_surgery", "cyp_interacting_drugs",
    "cardiovascular", "qtc", "hiv", "hepatitis", "gi_absorption", "diarrhea", "eligible",
]  # fmt: skip
FUNNEL_COLS = ["step", "criterion", "label", "remaining", "remaining_with_unknown", "excluded"]


def _with_hb(pid: str, hb: float, unit: str = "g/dL") -> dict:
    rows = eligible_patient_rows(pid)
    rows["measurements"] = [m for m in rows["measurements"] if m["test"] != "hemoglobin"]
    rows["measurements"].append(
        {"patient_id": pid, "test": "hemoglobin", "value": hb, "unit": unit, "measured_on": d(3)}
    )
    return rows


@pytest.fixture(scope="module")
def small():
    reg = make_registry(
        **merge(
            eligible_patient_rows("ok"),
            _with_hb("low_hb", 7.6),
            _with_hb("low_hb_gl", 76, "g/L"),
            {"patients": [patient("empty")]},
        )
    )
    return reg, screen(reg, cached_protocol(PROTO), INDEX)


def test_contract_columns_and_eligible(small):
    _, res = small
    ps = res.patient_status
    assert ps.columns == STATUS_COLS
    assert dict(zip(ps["patient_id"], ps["eligible"], strict=True)) == {
        "ok": "pass",
        "low_hb": "fail",
        "low_hb_gl": "fail",
        "empty": "fail",
    }
    assert ps["index_date"].to_list() == [INDEX] * 4
    f = res.funnel()
    assert f.columns == FUNNEL_COLS
    assert f["step"].to_list() == list(range(23))
    assert f.row(0) == (0, "registry", "Patients in the registry", 4, 4, 0)
    hb = f.filter(pl.col("criterion") == "hemoglobin").row(0, named=True)
    before = f.filter(pl.col("step") == hb["step"] - 1).row(0, named=True)
    assert before["remaining"] - hb["remaining"] == hb["excluded"] == 2


def test_impact_definitions(small):
    _, res = small
    imp = res.impact().filter(pl.col("criterion") == "hemoglobin").row(0, named=True)
    # both low-hemoglobin patients fail only hemoglobin; 'empty' is unknown on it
    assert (imp["fail_standalone"], imp["fail_unique"], imp["unknown"]) == (2, 2, 1)
    my = res.impact().filter(pl.col("criterion") == "myeloma_diagnosis").row(0, named=True)
    assert (my["fail_standalone"], my["fail_unique"]) == (1, 0)  # 'empty' fails many criteria


def test_deciding_values_in_canonical_units(small):
    _, res = small
    dv = res.deciding_values("hemoglobin").sort("patient_id")
    assert dv.columns == ["patient_id", "measure", "value", "unit", "threshold", "op", "status"]
    values = dict(zip(dv["patient_id"], dv["value"], strict=True))
    assert values["low_hb_gl"] == pytest.approx(7.6) and values["low_hb"] == pytest.approx(7.6)
    assert values["empty"] is None
    assert set(dv["unit"]) == {"g/dL"} and set(dv["threshold"]) == {8.0} and set(dv["op"]) == {">="}
    with pytest.raises(ValueError):
        res.deciding_values("hiv")


def test_why_names_the_deciding_evidence(small):
    _, res = small
    why = res.why("low_hb_gl")
    first = why.row(0, named=True)
    assert first["criterion"] == "hemoglobin" and first["status"] == "fail"
    assert (
        first["value"] == pytest.approx(7.6) and first["unit"] == "g/dL" and first["date"] == d(3)
    )
    ok = res.why("ok")
    dx = ok.filter(pl.col("criterion") == "myeloma_diagnosis").row(0, named=True)
    assert dx["detail"] == "C9000" and dx["date"] == d(700)
    with pytest.raises(KeyError):
        res.why("nobody")


def test_reorder_and_without_recombine_without_rescreening(small):
    _, res = small
    f = res.funnel(order=["hemoglobin", "ecog"])
    assert f["criterion"].to_list()[1:3] == ["hemoglobin", "ecog"]
    assert f["remaining"][-1] == res.funnel()["remaining"][-1] == 1
    assert f["excluded"][1] == 3  # two fail, one unknown: remaining counts passes only
    w = res.without("hemoglobin")
    assert "hemoglobin" not in w.funnel()["criterion"].to_list()
    elig = dict(zip(w.patient_status["patient_id"], w.patient_status["eligible"], strict=True))
    assert elig["low_hb"] == "pass" and elig["low_hb_gl"] == "pass" and elig["empty"] == "fail"
    with pytest.raises(ValueError):
        res.funnel(order=["not_a_step"])


def test_relax_threshold_and_window_from_memory(small):
    reg, res = small
    saved = reg.tables
    reg.tables = {}  # any re-read of the registry would now fail
    try:
        relaxed = res.relax("hemoglobin", threshold=7.5)
        elig = dict(
            zip(
                relaxed.patient_status["patient_id"],
                relaxed.patient_status["eligible"],
                strict=True,
            )
        )
        assert elig == {"ok": "pass", "low_hb": "pass", "low_hb_gl": "pass", "empty": "fail"}
        in_gl = res.relax("hemoglobin", threshold=77, unit="g/L")
        assert (in_gl.patient_status["hemoglobin"] == "pass").sum() == 1
        narrow = res.relax("hemoglobin", window=2)  # hemoglobin measured 3 days before
        assert (
            narrow.patient_status.filter(pl.col("patient_id") == "ok")["hemoglobin"][0] == "unknown"
        )
        assert (
            res.relax("extramedullary_disease", threshold=3.5)
            .patient_status["extramedullary_disease"]
            .to_list()
            .count("pass")
            == 0
        )
        assert res.relax("cyp_interacting_drugs", window=30).funnel()["remaining"][-1] == 1
        with pytest.raises(ValueError):
            res.relax("plasma_cell_leukemia", threshold=3)  # three thresholded parts
        pcl = res.relax("plasma_cell_leukemia", threshold=3, measure="plasma_cells_pct")
        assert pcl.protocol.criterion("plasma_cell_leukemia").rule_obj.parts[0].value == 3
    finally:
        reg.tables = saved


def test_rescreen_with_protocol_variant(small):
    _, res = small
    import yaml

    data = yaml.safe_load(res.protocol.path.read_text(encoding="utf-8"))
    item = next(i for i in data["eligibility"] if i["id"] == "hemoglobin")
    item["rule"] = {
        "latest": {"test": "hemoglobin", "window": "30d", "op": ">=", "value": 75, "unit": "g/L"}
    }
    variant = parse_protocol(data)
    out = res.rescreen(variant)
    assert (out.patient_status["eligible"] == "pass").sum() == 3


def test_exact_duplicate_rows_count_once():
    rows = _with_hb("p1", 9.0)
    rows["measurements"].append(dict(rows["measurements"][-1]))
    res = screen(make_registry(**rows), cached_protocol(PROTO), INDEX)
    assert res.patient_status["hemoglobin"][0] == "pass"
    assert res.evidence("hemoglobin").height == 1


def test_write_outputs(tmp_path, small):
    _, res = small
    written = res.write(tmp_path / "out")
    names = sorted(p.name for p in written)
    assert names == ["evidence.parquet", "funnel.csv", "impact.csv", "patient_status.csv"]
    ps = pl.read_csv(tmp_path / "out" / "patient_status.csv")
    assert ps.columns == STATUS_COLS and ps.height == 4
    assert set(ps["eligible"]) <= {"pass", "fail", "unknown"}
    f = pl.read_csv(tmp_path / "out" / "funnel.csv")
    assert f.columns == FUNNEL_COLS
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".screen-")]


def test_missing_table_makes_dependent_criteria_unknown_for_everyone():
    res = screen_patient(absent=("measurements", "lesions"))
    row = res.patient_status.row(0, named=True)
    for c in (
        "creatinine_clearance",
        "neutrophils",
        "platelets",
        "hemoglobin",
        "qtc",
        "extramedullary_disease",
        "plasma_cell_leukemia",
        "measurable_disease",
    ):
        assert row[c] == "unknown", c
    assert row["hiv"] == "pass" and row["ecog"] == "unknown"


# ---------------------------------------------------------------- event mode

I1, I2, I3 = dt.date(2023, 3, 1), dt.date(2024, 3, 1), dt.date(2024, 4, 15)


def _line(pid: str, line: int, start: dt.date, end: dt.date | None = None) -> dict:
    return {
        "patient_id": pid,
        "line_number": line,
        "regimen": f"L{line}",
        "start_date": start,
        "end_date": end,
        "investigational": False,
    }


def _event_registry():
    a = eligible_patient_rows("a", index=I2)  # eligible at I2; no labs near I1 -> unknown there
    a["therapies"] += [_line("a", 2, I1, dt.date(2023, 12, 1)), _line("a", 3, I2)]
    b = merge(
        eligible_patient_rows("b", index=I2),
        {"measurements": eligible_patient_rows("b", index=I3)["measurements"]},
    )
    b["therapies"] += [_line("b", 2, I2, dt.date(2024, 4, 1)), _line("b", 3, I3)]
    c = eligible_patient_rows("c", index=I2)
    c["therapies"] += [_line("c", 2, dt.date(2020, 1, 1))]  # outside the calendar window
    e = eligible_patient_rows("e", index=I2)
    e["measurements"] = [m for m in e["measurements"] if m["test"] != "hemoglobin"]
    e["measurements"].append(
        {"patient_id": "e", "test": "hemoglobin", "value": 7.0, "unit": "g/dL", "measured_on": I2}
    )
    e["therapies"] += [_line("e", 2, I1), _line("e", 3, I2)]  # unknown at I1, fail at I2
    return make_registry(**merge(a, b, c, e))


def test_event_mode_first_passing_index_and_best_index():
    events = IndexEvents(
        "therapies", where="line_number >= 2", start=dt.date(2022, 1, 1), end=dt.date(2024, 12, 31)
    )
    res = screen(_event_registry(), cached_protocol(PROTO), events)
    ps = res.patient_status.sort("patient_id")
    got = {
        r["patient_id"]: (r["index_date"], r["eligible"], r["index_event"])
        for r in ps.iter_rows(named=True)
    }
    assert got["a"] == (I2, "pass", "pass")  # unknown at I1, pass at I2
    assert got["b"] == (I2, "pass", "pass")  # passes at both: the first
    assert got["c"] == (None, "fail", "fail")  # no event in the window
    assert got["e"] == (I1, "unknown", "pass")  # unknown beats fail
    assert ps.filter(pl.col("patient_id") == "c").row(0, named=True)["hemoglobin"] == "unknown"
    f = res.funnel()
    assert f["criterion"].to_list()[:2] == ["registry", "index_event"]
    assert f["remaining"][1] == 3 and f["remaining"][-1] == 2


def test_event_mode_filters_and_expression_where():
    reg = _event_registry()
    proto = cached_protocol(PROTO)
    only_2023 = screen(
        reg,
        proto,
        IndexEvents("therapies", where=pl.col("line_number") >= 2, end=dt.date(2023, 12, 31)),
    )
    got = dict(
        zip(
            only_2023.patient_status["patient_id"],
            only_2023.patient_status["index_date"],
            strict=True,
        )
    )
    assert got["a"] == I1 and got["b"] is None and got["c"] == dt.date(2020, 1, 1)
    none = screen(reg, proto, IndexEvents("therapies", where="line_number >= 9"))
    assert none.funnel()["remaining"][1] == 0 and (none.patient_status["eligible"] == "fail").all()


def test_event_mode_without_reselects_index():
    events = IndexEvents("therapies", where="line_number >= 2", start=dt.date(2022, 1, 1))
    res = screen(_event_registry(), cached_protocol(PROTO), events)
    w = res.without("hemoglobin")
    row = w.patient_status.filter(pl.col("patient_id") == "e").row(0, named=True)
    assert (row["index_date"], row["eligible"]) == (I2, "pass")


def test_deciding_value_of_a_failing_lesion_is_the_largest_in_window():
    from _screen_helpers import lesion

    res = screen_patient(lesion(5, 1.5, False), lesion(40, 1.8, True), lesion(200, 3.0, False))
    dv = res.deciding_values("extramedullary_disease").row(0, named=True)
    assert (dv["measure"], dv["value"], dv["unit"], dv["threshold"], dv["status"]) == (
        "longest_diameter_cm",
        1.8,
        "cm",
        2.0,
        "fail",
    )
