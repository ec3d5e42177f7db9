"""Each chart function: builds, validates against the Vega-Lite schema, renders to SVG with
vl-convert, encodes what it should; draws exactly the (disclosed or exact) frame it is
given, and a hidden count as a labelled band, never as an empty bar."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import polars as pl
import pytest
import vl_convert as vlc

from feasibility import charts, summaries
from feasibility.disclosure import Policy

tables = summaries
POL = Policy()

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


def test_funnel_chart_draws_disclosed_counts_and_labelled_hidden_ones() -> None:
    spec, svg = render(charts.funnel_chart(POL.funnel(funnel()), hidden_label=POL.hidden_label))
    vals = layer_values(spec)
    assert {"bar", "text"} <= set(marks(spec))
    shown = {v["count"] for v in vals if v["count"] is not None}
    assert shown <= {500, 495, 400, 410, 380, 395, 120, 250, 60, 230}  # rounded up to 5
    assert 497 not in shown  # 497 -> 500
    assert "500 (100.0%)" in svg and "60 (12.0%)" in svg
    assert "remaining_with_unknown" not in json.dumps(spec)  # long form: one series field
    assert len({v["series"] for v in vals}) == 2


def test_hidden_count_is_a_labelled_band_not_an_empty_bar() -> None:
    f = funnel().with_columns(pl.Series("remaining", [500, 495, 400, 380, 120, 7]))
    spec, svg = render(charts.funnel_chart(POL.funnel(f), hidden_label=POL.hidden_label))
    hidden = [v for v in layer_values(spec) if v.get("hidden")]
    assert len(hidden) == 1 and hidden[0]["text"] == "≤10" and hidden[0]["band_hi"] == 10
    assert "≤10" in svg
    # the band layer draws a dashed bar where the count is hidden
    assert 'stroke-dasharray="3,2"' in svg or "stroke-dasharray" in svg


def test_funnel_chart_of_an_exact_frame_shows_exact_counts() -> None:
    spec, svg = render(charts.funnel_chart(funnel()))
    assert any(v["count"] == 497 for v in layer_values(spec))
    assert "497 (99.4%)" in svg


def test_funnel_legend_does_not_overlap_labels() -> None:
    spec, _ = render(charts.funnel_chart(funnel()))
    enc = spec["layer"][0]["encoding"]
    assert enc["color"]["legend"]["orient"] == "top"
    # the x domain leaves room right of the longest bar for its label
    assert enc["x"]["scale"]["domain"][1] >= 500 * 1.2


def test_consort_chart_has_boxes_links_and_reasons() -> None:
    spec, svg = render(charts.consort_chart(POL.funnel(funnel()), hidden_label=POL.hidden_label))
    assert {"rect", "rule", "text"} <= set(marks(spec))
    texts = [v["text"] for v in layer_values(spec) if "text" in v]
    assert "Registry" in texts and "n = 500 (100.0%)" in texts
    assert "Measurable disease" in texts  # an exclusion reason box
    assert "excluded: 260" in texts  # 380 -> 120
    assert "excluded: ≤10" in texts  # 500 -> 495
    assert "Measurable disease" in svg


def test_impact_chart_three_measures() -> None:
    imp = POL.impact(impact(), 500)
    spec, svg = render(charts.impact_chart(imp, hidden_label="≤10", population="patients X"))
    vals = layer_values(spec)
    assert {v["measure"] for v in vals} == set(charts.IMPACT_MEASURES.values())
    by = {(v["criterion"], v["measure"]): v["count"] for v in vals}
    assert by[("alive", "Fail (criterion alone)")] is None  # 5 is small
    assert by[("dx", "Fail only this criterion")] is None  # 3 is small
    assert by[("treated", "Fail (criterion alone)")] == 25
    assert by[("measurable", "Fail only this criterion")] == 150
    assert "patients X" in svg


def test_cohort_and_drift_charts() -> None:
    coh = POL.cohort(cohort())
    spec, svg = render(charts.cohort_chart(coh))
    assert "vconcat" in spec
    groups = {v["group"] for v in layer_values(spec)}
    assert groups == {"Registry", "Eligible"}
    for title in ("Age group", "Sex", "Race", "Ethnicity", "Site"):
        assert title in svg
    spec2, svg2 = render(charts.drift_chart(coh))
    assert "line" in marks(spec2)
    steps = {v["step"] for v in layer_values(spec2)}
    assert steps == set(range(len(STEPS)))
    # an exact cohort table (notebook) draws too
    spec3, _ = render(charts.cohort_chart(cohort(), base="With index event"))
    assert {v["group"] for v in layer_values(spec3)} == {"With index event", "Eligible"}


def test_cohort_pct_comes_from_shown_counts() -> None:
    raw = cohort()
    raw = raw.with_columns(  # make one cell small
        pl.when((pl.col("variable") == "site") & (pl.col("level") == "A") & (pl.col("step") == 5))
        .then(4)
        .otherwise(pl.col("count"))
        .alias("count")
    )
    sup = POL.cohort(raw)
    hidden = sup.filter(pl.col("count_suppressed"))
    assert hidden.height > 0 and hidden["pct"].null_count() == hidden.height
    assert all(v == 0 or (v % 5 == 0 and v > 10) for v in sup["count"].drop_nulls())
    totals = raw.group_by("variable", "step").agg(pl.col("count").sum().alias("t"))
    for r in sup.join(totals, on=["variable", "step"]).iter_rows(named=True):
        if r["count"] is not None and POL.show(r["t"]):
            assert r["pct"] == round(r["count"] * 100 / POL.show(r["t"]), 1)


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
    # a notebook histogram: exact (each layer carries the same bins)
    assert sum({b["bin_start"]: b["count"] for b in bins}.values()) == 300
    assert "mL/min" in svg
    hist = POL.histogram(tables.value_histogram(dv, 30.0, ">="))
    spec2, svg2 = render(charts.threshold_chart(hist, threshold=30.0, op=">="))
    shown = [v for v in layer_values(spec2) if "bin_start" in v]
    assert all(b["count"] is None or b["count"] % 5 == 0 for b in shown)
    if any(b["count"] is None for b in shown):
        assert "≤10" in svg2


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


def test_threshold_chart_takes_exclusion_from_the_caller_never_guesses() -> None:
    # deciding values as ScreenResult gives them: QTc > 470 is the excluding condition;
    # the chart does not read the statuses to guess it: Criterion.kind says so
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
    spec, _ = render(charts.threshold_chart(dv, title="QTc", exclusion=True))
    bins = {v["mid"]: v["side"] for v in layer_values(spec) if "mid" in v}
    assert all(side == ("Fails" if mid > 470 else "Passes") for mid, side in bins.items())
    spec2, _ = render(charts.threshold_chart(dv, title="QTc"))  # the default: an inclusion
    bins2 = {v["mid"]: v["side"] for v in layer_values(spec2) if "mid" in v}
    assert all(side == ("Passes" if mid > 470 else "Fails") for mid, side in bins2.items())
