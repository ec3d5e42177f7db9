"""Each chart function: builds, validates against the Vega-Lite schema, renders to SVG with
vl-convert, encodes what it should, and never draws a suppressed count."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import polars as pl
import pytest
import vl_convert as vlc

from feasibility import charts, disclosure
from feasibility.report import tables

STEPS = ["registry", "alive", "dx", "treated", "measurable", "crcl"]
LABELS = ["Registry", "Alive", "Myeloma", "Treated", "Measurable disease", "CrCl >= 30"]


def funnel() -> pl.DataFrame:
    rem = [500, 495, 400, 380, 120, 60]
    rwu = [500, 497, 410, 395, 250, 230]
    return pl.DataFrame(
        {
            "step": list(range(6)),
            "criterion": STEPS,
            "label": LABELS,
            "remaining": rem,
            "remaining_with_unknown": rwu,
            "excluded": [0] + [rem[i - 1] - rem[i] for i in range(1, 6)],
        }
    )


def impact() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "criterion": STEPS[1:],
            "label": LABELS[1:],
            "fail_standalone": [5, 90, 25, 200, 40],
            "fail_unique": [0, 3, 18, 150, 20],
            "unknown": [0, 0, 0, 60, 170],
        }
    )


def cohort() -> pl.DataFrame:
    rng = np.random.default_rng(0)
    n = 500
    status = {"patient_id": [f"p{i}" for i in range(n)], "index_date": [dt.date(2024, 6, 30)] * n}
    for c in STEPS[1:]:
        status[c] = rng.choice(["pass", "fail", "unknown"], n, p=[0.85, 0.1, 0.05]).tolist()
    patients = pl.DataFrame(
        {
            "patient_id": status["patient_id"],
            "sex": rng.choice(["F", "M"], n).tolist(),
            "birth_date": [
                dt.date(1950, 1, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 9000, n)
            ],
            "race": rng.choice(["White", "Black", None], n, p=[0.7, 0.25, 0.05]).tolist(),
            "ethnicity": rng.choice(["Hispanic", "Not Hispanic"], n).tolist(),
            "site": rng.choice(["A", "B", "C"], n).tolist(),
        }
    )
    return tables.cohort_by_step(pl.DataFrame(status), patients, STEPS, LABELS)


def render(chart) -> tuple[dict, str]:
    spec = charts.configured(chart).to_dict()  # validates against the Vega-Lite schema
    svg = vlc.vegalite_to_svg(json.dumps(spec))
    assert svg.startswith("<svg") and "</svg>" in svg
    return spec, svg


def layer_values(spec: dict) -> list[dict]:
    out = []

    def walk(node):
        if isinstance(node, dict):
            if "data" in node and isinstance(node["data"], dict) and "values" in node["data"]:
                out.extend(node["data"]["values"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(spec)
    return out


def marks(spec: dict) -> list[str]:
    found = []

    def walk(node):
        if isinstance(node, dict):
            m = node.get("mark")
            if m is not None:
                found.append(m if isinstance(m, str) else m.get("type"))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(spec)
    return found


def test_funnel_chart_hides_small_and_derivable_counts() -> None:
    spec, svg = render(charts.funnel_chart(funnel(), threshold=10))
    vals = layer_values(spec)
    assert {"bar", "text"} <= set(marks(spec))
    # 495 is 5 below 500 and 497 is 3 below: both hidden, labelled "hidden", never drawn
    assert all(v["count"] not in (495, 497) for v in vals)
    assert any(v["text"] == "hidden" for v in vals)
    assert "500 (100.0%)" in svg and "60 (12.0%)" in svg
    assert ">495<" not in svg
    assert "remaining_with_unknown" not in json.dumps(spec)  # long form: one series field
    series = {v["series"] for v in vals}
    assert len(series) == 2


def test_funnel_chart_without_suppression_shows_everything() -> None:
    spec, svg = render(charts.funnel_chart(funnel(), suppress=False))
    assert any(v["count"] == 495 for v in layer_values(spec))


def test_consort_chart_has_boxes_links_and_reasons() -> None:
    spec, svg = render(charts.consort_chart(funnel()))
    assert {"rect", "rule", "text"} <= set(marks(spec))
    texts = [v["text"] for v in layer_values(spec) if "text" in v]
    assert "Registry" in texts and "n = 500 (100.0%)" in texts
    assert "Measurable disease" in texts  # an exclusion reason box
    assert "excluded: 260" in texts  # 380 -> 120
    assert "excluded: hidden" in texts  # 500 -> 495 hidden
    assert "Measurable disease" in svg


def test_impact_chart_three_measures_suppressed() -> None:
    spec, svg = render(charts.impact_chart(impact(), total=500, threshold=10))
    vals = layer_values(spec)
    assert {v["measure"] for v in vals} == set(charts.IMPACT_MEASURES.values())
    by = {(v["criterion"], v["measure"]): v["count"] for v in vals}
    assert by[("alive", "Fail (criterion alone)")] is None  # 5 is small
    assert by[("dx", "Fail only this criterion")] is None  # 3 is small
    # 18 is above the threshold but 25 - 18 = 7 patients fail "treated" and something else
    assert by[("treated", "Fail only this criterion")] is None
    assert by[("treated", "Fail (criterion alone)")] == 25
    assert by[("measurable", "Fail (criterion alone)")] == 200


def test_cohort_and_drift_charts() -> None:
    coh = cohort()
    spec, svg = render(charts.cohort_chart(coh, funnel=None))
    assert "vconcat" in spec
    groups = {v["group"] for v in layer_values(spec)}
    assert groups == {"Registry", "Eligible"}
    for title in ("Age group", "Sex", "Race", "Ethnicity", "Site"):
        assert title in svg
    spec2, svg2 = render(charts.drift_chart(coh))
    assert "line" in marks(spec2)
    steps = {v["step"] for v in layer_values(spec2)}
    assert steps == set(range(len(STEPS)))


def test_cohort_suppression_hides_pct_of_hidden_counts() -> None:
    sup = tables.suppress_cohort(cohort(), disclosure.suppress_funnel(funnel(), 10), 10)
    hidden = sup.filter(pl.col("count_suppressed"))
    assert hidden.height > 0
    assert hidden["pct"].null_count() == hidden.height
    assert not sup["count"].drop_nulls().is_between(1, 10).any()


def test_threshold_chart_rule_and_sides() -> None:
    rng = np.random.default_rng(1)
    dv = pl.DataFrame(
        {
            "patient_id": [f"p{i}" for i in range(300)],
            "value": rng.normal(60, 20, 300),
            "unit": "mL/min",
            "threshold": 30.0,
            "op": ">=",
        }
    )
    spec, svg = render(charts.threshold_chart(dv, title="Creatinine clearance"))
    assert {"bar", "rule"} <= set(marks(spec))
    rule = [v for v in layer_values(spec) if "cut" in v]
    assert rule[0]["cut"] == 30.0
    bins = [v for v in layer_values(spec) if "bin_start" in v]
    assert all((b["side"] == "Passes") == (b["bin_start"] >= 30) for b in bins)
    assert all(b["count"] is None or not 1 <= b["count"] <= 10 for b in bins)
    assert "mL/min" in svg


def test_threshold_chart_integer_grades_cut_between_values() -> None:
    dv = pl.DataFrame({"value": [0.0] * 40 + [1.0] * 30 + [2.0] * 25 + [3.0] * 15})
    spec, _ = render(charts.threshold_chart(dv, threshold=2, op="<=", title="ECOG"))
    assert [v for v in layer_values(spec) if "cut" in v][0]["cut"] == 2.5
    sides = {v["mid"]: v["side"] for v in layer_values(spec) if "mid" in v}
    assert sides[2.0] == "Passes" and sides[3.0] == "Fails"


def test_threshold_chart_needs_threshold() -> None:
    with pytest.raises(ValueError):
        charts.threshold_chart(pl.DataFrame({"value": [1.0]}))


def test_quality_chart_by_kahn_category() -> None:
    summary = pl.DataFrame(
        {
            "category": ["conformance", "completeness", "plausibility", "plausibility"],
            "status": ["pass", "fail", "pass", "warn"],
        }
    )
    spec, svg = render(charts.quality_chart(summary))
    vals = layer_values(spec)
    assert {(v["category"], v["status"], v["checks"]) for v in vals} == {
        ("conformance", "pass", 1),
        ("completeness", "fail", 1),
        ("plausibility", "pass", 1),
        ("plausibility", "warn", 1),
    }
    assert "plausibility" in svg


def test_threshold_chart_exclusion_swaps_sides() -> None:
    # QTc > 470 ms excludes: values above the cut fail, 470 itself passes
    dv = pl.DataFrame({"value": [440.0] * 30 + [470.0] * 15 + [500.0] * 20})
    spec, svg = render(
        charts.threshold_chart(dv, threshold=470, op=">", exclusion=True, title="QTc")
    )
    bins = [v for v in layer_values(spec) if "bin_start" in v]
    for b in bins:
        assert (b["side"] == "Fails") == (b["bin_start"] >= 470), b
    assert "fail: &gt; 470" in svg
    at = [b for b in bins if b["bin_start"] < 470 <= b["bin_end"]]
    assert at[0]["side"] == "Passes" and at[0]["count"] == 15 + (
        30 if at[0]["bin_start"] < 440 else 0
    )


def test_threshold_chart_infers_exclusion_from_status() -> None:
    # deciding values as ScreenResult gives them: QTc > 470 is the excluding condition
    dv = pl.DataFrame(
        {
            "patient_id": [f"p{i}" for i in range(60)],
            "measure": "qtc",
            "value": [440.0] * 40 + [490.0] * 20,
            "unit": "ms",
            "threshold": 470.0,
            "op": ">",
            "status": ["pass"] * 40 + ["fail"] * 20,
        }
    )
    spec, _ = render(charts.threshold_chart(dv, title="QTc"))
    bins = {v["mid"]: v["side"] for v in layer_values(spec) if "mid" in v}
    assert all(side == ("Fails" if mid > 470 else "Passes") for mid, side in bins.items())
