"""Altair charts of a screen: funnel, CONSORT flow, criterion impact, cohort drift,
deciding values against thresholds, and data quality.

Charts are drawing functions: each takes frames and returns an ``alt.Chart`` (or a
compound chart) usable alone in a notebook, and computes nothing it is not given but the
layout. They apply no disclosure control and import neither :mod:`feasibility.disclosure`
nor :mod:`feasibility.report`: the report hands them frames disclosed once by its
:class:`~feasibility.disclosure.Policy` (:class:`feasibility.report.data.ReportData`,
with ``*_suppressed`` flags and percentages of the shown numbers); a notebook hands them
exact frames (the analyst's working view, never shared as is), for which the funnel's
and the cohort's percentages and a deciding value's histogram are worked out with
:mod:`feasibility.summaries`. A hidden count (null) is drawn as such: a grey dashed band
from 0 to the threshold labelled ``hidden_label`` ("≤10"), never as an empty bar.

Whether a thresholded criterion is an exclusion is the protocol's to say
(``Criterion.kind``): :func:`threshold_chart` takes it as ``exclusion``, never guesses it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import altair as alt
import polars as pl

from feasibility import summaries

#: Colours: a calm blue for "eligible so far", a lighter band for "eligible or unknown".
BLUE = "#1f5f8b"
LIGHT_BLUE = "#9ecae1"
RED = "#c0392b"
AMBER = "#e0a33a"
GREEN = "#2e8b57"
GREY = "#8c8c8c"
FONT = "Helvetica, Arial, sans-serif"
HIDDEN = "≤10"
HIDDEN_FILL = "#d9d9d9"
HIDDEN_TEXT = "#7a4f00"


def _config(chart: alt.TopLevelMixin) -> alt.TopLevelMixin:
    return (
        chart.configure(font=FONT)
        .configure_view(stroke=None)
        .configure_axis(labelFontSize=11, titleFontSize=12, gridColor="#e6e6e6")
        .configure_title(fontSize=14, anchor="start", subtitleColor="#555")
        .configure_legend(labelFontSize=11, titleFontSize=11, orient="top")
    )


def _values(df: pl.DataFrame) -> list[dict]:
    """Rows as plain JSON-able dicts (dates as ISO strings)."""
    return [
        {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}
        for row in df.iter_rows(named=True)
    ]


def _count_label(n: int | None, pct: float | None, hidden_label: str = HIDDEN) -> str:
    if n is None:
        return hidden_label
    return f"{n:,}" + (f" ({pct:.1f}%)" if pct is not None else "")


def _hidden_max(hidden_label: str) -> float:
    """The upper end of the band drawn for a hidden count ("≤10" -> 10)."""
    digits = "".join(ch for ch in hidden_label if ch.isdigit())
    return float(digits) if digits else 10.0


def _funnel_frame(funnel: pl.DataFrame) -> pl.DataFrame:
    """A funnel with its percentages of the registry (a disclosed funnel brings them,
    computed from the shown counts, and is drawn as given; an exact notebook funnel gets
    them here)."""
    if funnel.height == 0 or {"remaining_pct", "remaining_with_unknown_pct"} <= set(funnel.columns):
        return funnel
    total = funnel.sort("step")["remaining"][0]
    return funnel.with_columns(
        (pl.col(c) * 100.0 / total).round(1).alias(f"{c}_pct")
        for c in ("remaining", "remaining_with_unknown")
    )


def _hidden_band(data: alt.Data, y: alt.Y, y_off: alt.YOffset | None, tooltip: list) -> alt.Chart:
    """Grey dashed bars from 0 to the threshold where a count is hidden."""
    enc = dict(
        y=y,
        x=alt.X("band_lo:Q"),
        x2="band_hi:Q",
        tooltip=tooltip,
    )
    if y_off is not None:
        enc["yOffset"] = y_off
    return (
        alt.Chart(data)
        .mark_bar(color=HIDDEN_FILL, stroke="#666", strokeDash=[3, 2], strokeWidth=0.8)
        .encode(**enc)
        .transform_filter("datum.hidden")
    )


def _layer(*charts: Any) -> alt.LayerChart:
    """``alt.layer`` of charts without facet encodings (always a plain layer chart)."""
    chart = alt.layer(*charts)
    assert isinstance(chart, alt.LayerChart)
    return chart


def _label_color() -> Any:
    return alt.condition("datum.hidden", alt.value(HIDDEN_TEXT), alt.value("#333"))


# --------------------------------------------------------------------------- funnel


def funnel_chart(
    funnel: pl.DataFrame,
    *,
    hidden_label: str = HIDDEN,
    width: int = 520,
) -> alt.LayerChart:
    """Attrition funnel: one row per step, ``remaining`` beside ``remaining_with_unknown``.

    Bars are labelled with the count and its percentage of the registry; a hidden
    count is a grey dashed band labelled ``hidden_label``. The legend sits above the
    plot, clear of the labels.
    """
    df = _funnel_frame(funnel)
    band_hi = _hidden_max(hidden_label)
    rows = []
    for r in df.iter_rows(named=True):
        step_label = f"{r['step']}. {r['label']}" if r["step"] else "Registry (everyone)"
        for key, series in (
            ("remaining", "Pass every criterion so far"),
            ("remaining_with_unknown", "Pass or unknown (could qualify)"),
        ):
            hidden = r[key] is None
            rows.append(
                {
                    "step": r["step"],
                    "step_label": step_label,
                    "series": series,
                    "count": r[key],
                    "pct": r.get(f"{key}_pct"),
                    "hidden": hidden,
                    "band_lo": 0,
                    "band_hi": band_hi,
                    "text": _count_label(r[key], r.get(f"{key}_pct"), hidden_label),
                    "x_text": band_hi if hidden else r[key],
                }
            )
    order = [row["step_label"] for row in rows[::2]]
    data = alt.Data(values=rows)
    # sorted by a number, never by a list of labels: Vega-Lite compiles a sort list into an
    # expression, and a label with a tab or line separator would break it
    y = alt.Y(
        "step_label:N",
        sort=alt.EncodingSortField("step", op="min"),
        title=None,
        axis=alt.Axis(labelLimit=260),
    )
    y_off = alt.YOffset(
        "series:N", sort=["Pass every criterion so far", "Pass or unknown (could qualify)"]
    )
    color = alt.Color(
        "series:N",
        title=None,
        scale=alt.Scale(
            domain=["Pass every criterion so far", "Pass or unknown (could qualify)"],
            range=[BLUE, LIGHT_BLUE],
        ),
        legend=alt.Legend(orient="top", direction="horizontal"),
    )
    tooltip = [
        alt.Tooltip("step_label:N", title="Step"),
        alt.Tooltip("series:N", title="Series"),
        alt.Tooltip("text:N", title="Patients"),
    ]
    top = max([r["count"] for r in rows if r["count"] is not None] or [band_hi])
    x = alt.X(
        "count:Q",
        title="Patients",
        axis=alt.Axis(format=",d"),
        # room on the right for the longest label ("5,000 (100.0%)")
        scale=alt.Scale(domain=[0, top * 1.28], nice=False),
    )
    bars = (
        alt.Chart(data)
        .mark_bar(height={"band": 0.9})
        .encode(y=y, yOffset=y_off, x=x, color=color, tooltip=tooltip)
        .transform_filter("datum.count != null")
    )
    band = _hidden_band(data, y, y_off, tooltip)
    labels = (
        alt.Chart(data)
        .mark_text(align="left", dx=4, fontSize=10)
        .encode(y=y, yOffset=y_off, x=alt.X("x_text:Q"), text="text:N", color=_label_color())
    )
    n = len(order)
    return _layer(bars, band, labels).properties(
        width=width,
        height=max(120, n * 34),
        title=alt.Title(
            "Attrition funnel",
            subtitle="Patients remaining after each criterion, applied in order "
            "(percent of the registry)",
        ),
    )


# --------------------------------------------------------------------------- CONSORT


def consort_chart(funnel: pl.DataFrame, *, hidden_label: str = HIDDEN) -> alt.LayerChart:
    """CONSORT-style flow: a column of boxes (patients remaining) with a side box per
    step naming the criterion and how many it excluded. Built from rect, rule and text
    marks at computed positions so it renders anywhere Vega-Lite does. A hidden count
    reads ``hidden_label``."""
    df = _funnel_frame(funnel)
    box_h, gap = 46.0, 22.0
    main_x0, main_x1 = 0.0, 270.0
    side_x0, side_x1 = 330.0, 640.0
    boxes, links, texts = [], [], []
    recs = list(df.iter_rows(named=True))
    y = 0.0
    for i, r in enumerate(recs):
        y0, y1 = y, y + box_h
        if i == 0:
            head = "Registry"
        elif i == len(recs) - 1:
            head = "Eligible on every criterion"
        else:
            head = f"Remaining after: {r['label']}"
        boxes.append(
            {"x0": main_x0, "x1": main_x1, "y0": y0, "y1": y1, "kind": "main" if i else "start"}
        )
        sub = _count_label(r["remaining"], r.get("remaining_pct"), hidden_label)
        texts.append(
            {"x": (main_x0 + main_x1) / 2, "y": y0 + 17, "text": _trim(head, 44), "bold": True}
        )
        texts.append(
            {"x": (main_x0 + main_x1) / 2, "y": y0 + 33, "text": f"n = {sub}", "bold": False}
        )
        if i + 1 < len(recs):
            nxt = recs[i + 1]
            ymid = y1 + gap / 2
            links.append(
                {
                    "x": (main_x0 + main_x1) / 2,
                    "y": y1,
                    "x2": (main_x0 + main_x1) / 2,
                    "y2": y1 + gap,
                }
            )
            sy0 = ymid - 19
            exc = nxt["excluded"]
            boxes.append(
                {"x0": side_x0, "x1": side_x1, "y0": sy0, "y1": sy0 + 38, "kind": "excluded"}
            )
            links.append({"x": (main_x0 + main_x1) / 2, "y": ymid, "x2": side_x0, "y2": ymid})
            cx = (side_x0 + side_x1) / 2
            texts.append({"x": cx, "y": sy0 + 12, "text": _trim(nxt["label"], 46), "bold": True})
            texts.append(
                {
                    "x": cx,
                    "y": sy0 + 27,
                    "text": f"excluded: {_count_label(exc, None, hidden_label)}",
                    "bold": False,
                }
            )
        y = y1 + gap
    height = int(y)
    xs = alt.Scale(domain=[0, side_x1], nice=False)
    rect = (
        alt.Chart(alt.Data(values=boxes))
        .mark_rect(cornerRadius=4, strokeWidth=1.2)
        .encode(
            x=alt.X("x0:Q", scale=xs, axis=None),
            x2="x1:Q",
            y=alt.Y("y0:Q", scale=alt.Scale(domain=[height, 0], nice=False), axis=None),
            y2="y1:Q",
            fill=alt.Fill(
                "kind:N",
                scale=alt.Scale(
                    domain=["start", "main", "excluded"], range=["#dbe9f6", "#eef5fb", "#fbeeee"]
                ),
                legend=None,
            ),
            stroke=alt.Stroke(
                "kind:N",
                scale=alt.Scale(domain=["start", "main", "excluded"], range=[BLUE, BLUE, RED]),
                legend=None,
            ),
        )
    )
    rule = (
        alt.Chart(alt.Data(values=links))
        .mark_rule(color="#555", strokeWidth=1.2)
        .encode(
            x=alt.X("x:Q", scale=xs, axis=None),
            x2="x2:Q",
            y=alt.Y("y:Q", scale=alt.Scale(domain=[height, 0], nice=False), axis=None),
            y2="y2:Q",
        )
    )

    def text_layer(bold: bool) -> alt.Chart:
        return (
            alt.Chart(alt.Data(values=[t for t in texts if t["bold"] == bold]))
            .mark_text(fontSize=11, baseline="middle", fontWeight="bold" if bold else "normal")
            .encode(
                x=alt.X("x:Q", scale=xs, axis=None),
                y=alt.Y("y:Q", scale=alt.Scale(domain=[height, 0], nice=False), axis=None),
                text="text:N",
            )
        )

    return _layer(rect, rule, text_layer(True), text_layer(False)).properties(
        width=int(side_x1),
        height=height,
        title=alt.Title(
            "Patient flow (CONSORT style)",
            subtitle="Each criterion in screening order; side boxes give the patients it excluded",
        ),
    )


def _trim(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


# --------------------------------------------------------------------------- impact

IMPACT_MEASURES = {
    "fail_standalone": "Fail (criterion alone)",
    "fail_unique": "Fail only this criterion",
    "unknown": "Unknown (data missing)",
}


def impact_chart(
    impact: pl.DataFrame,
    *,
    hidden_label: str = HIDDEN,
    population: str = "",
    width: int = 480,
) -> alt.LayerChart:
    """Per criterion: patients failing it alone, failing only it, and unknown on it.

    ``population`` names whom the counts are over (event mode: patients with an index
    event); a hidden count is a grey dashed band labelled ``hidden_label``."""
    band_hi = _hidden_max(hidden_label)
    rows = []
    order = []
    for rank, r in enumerate(impact.iter_rows(named=True)):
        order.append(r["label"])
        for key, name in IMPACT_MEASURES.items():
            hidden = r[key] is None
            rows.append(
                {
                    "rank": rank,
                    "label": r["label"],
                    "criterion": r["criterion"],
                    "measure": name,
                    "count": r[key],
                    "hidden": hidden,
                    "band_lo": 0,
                    "band_hi": band_hi,
                    "text": hidden_label if hidden else f"{r[key]:,}",
                    "x_text": band_hi if hidden else r[key],
                }
            )
    data = alt.Data(values=rows)
    y = alt.Y(
        "label:N",
        sort=alt.EncodingSortField("rank", op="min"),
        title=None,
        axis=alt.Axis(labelLimit=260),
    )
    y_off = alt.YOffset("measure:N", sort=list(IMPACT_MEASURES.values()))
    color = alt.Color(
        "measure:N",
        title=None,
        scale=alt.Scale(domain=list(IMPACT_MEASURES.values()), range=[RED, "#7b241c", AMBER]),
    )
    tooltip = ["label:N", "measure:N", alt.Tooltip("text:N", title="Patients")]
    bars = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            y=y,
            yOffset=y_off,
            x=alt.X("count:Q", title="Patients", axis=alt.Axis(format=",d")),
            color=color,
            tooltip=tooltip,
        )
        .transform_filter("datum.count != null")
    )
    band = _hidden_band(data, y, y_off, tooltip)
    labels = (
        alt.Chart(data)
        .mark_text(align="left", dx=3, fontSize=9)
        .encode(y=y, yOffset=y_off, x="x_text:Q", text="text:N", color=_label_color())
    )
    sub = (
        "Fail alone: fails this criterion whatever the others say; "
        "only this: fails no other criterion"
    )
    return _layer(bars, band, labels).properties(
        width=width,
        height=max(120, len(order) * 36),
        title=alt.Title(
            "Criterion impact" + (f" ({population})" if population else ""), subtitle=sub
        ),
    )


# --------------------------------------------------------------------------- cohort


def _cohort_frame(cohort: pl.DataFrame) -> pl.DataFrame:
    """An exact (notebook) cohort table gets its shares of each step; a disclosed one is
    drawn as given."""
    if "pct" in cohort.columns:
        return cohort
    return cohort.with_columns(
        pl.when(pl.col("count").sum().over("variable", "step") > 0)
        .then((pl.col("count") * 100.0 / pl.col("count").sum().over("variable", "step")).round(1))
        .alias("pct")
    )


def _level_order(var: str, levels: Sequence[str]) -> list[str]:
    if var == "age_group":
        return [lv for lv in summaries.age_group_order() if lv in levels]
    rest = sorted(lv for lv in levels if lv != summaries.NOT_RECORDED)
    return rest + ([summaries.NOT_RECORDED] if summaries.NOT_RECORDED in levels else [])


def cohort_chart(
    cohort: pl.DataFrame, *, hidden_label: str = HIDDEN, base: str = "Registry"
) -> alt.VConcatChart:
    """Eligible cohort against the screened population (``base``): share of each level,
    per characteristic.

    ``cohort`` is :func:`feasibility.summaries.cohort_by_step` output, exact (notebook)
    or disclosed (report: ``pct`` computed from shown numbers, null when hidden).
    """
    df = _cohort_frame(cohort)
    last = df["step"].max()
    sub = df.filter(pl.col("step").is_in([0, last])).with_columns(
        pl.when(pl.col("step") == 0).then(pl.lit(base)).otherwise(pl.lit("Eligible")).alias("group")
    )
    panels = []
    for var in summaries.COHORT_VARIABLES:
        part = sub.filter(pl.col("variable") == var)
        if part.height == 0:
            continue
        rows = [
            {
                "level": r["level"],
                "group": r["group"],
                "pct": r["pct"],
                "hidden": r["pct"] is None,
                "text": "share hidden" if r["pct"] is None else f"{r['pct']:.1f}%",
                "x_text": r["pct"] if r["pct"] is not None else 0,
            }
            for r in part.iter_rows(named=True)
        ]
        order = _level_order(var, part["level"].unique().to_list())
        rank = {lv: i for i, lv in enumerate(order)}
        for row in rows:
            row["rank"] = rank.get(row["level"], len(rank))
        y = alt.Y(
            "level:N",
            sort=alt.EncodingSortField("rank", op="min"),
            title=None,
            axis=alt.Axis(labelLimit=180),
        )
        y_off = alt.YOffset("group:N", sort=[base, "Eligible"])
        data = alt.Data(values=rows)
        bars = (
            alt.Chart(data)
            .mark_bar()
            .encode(
                y=y,
                yOffset=y_off,
                x=alt.X("pct:Q", title="Share of patients (%)", scale=alt.Scale(domain=[0, 100])),
                color=alt.Color(
                    "group:N",
                    title=None,
                    scale=alt.Scale(domain=[base, "Eligible"], range=[GREY, BLUE]),
                ),
                tooltip=["level:N", "group:N", alt.Tooltip("text:N", title="Share")],
            )
            .transform_filter("datum.pct != null")
        )
        labels = (
            alt.Chart(data)
            .mark_text(align="left", dx=3, fontSize=9)
            .encode(y=y, yOffset=y_off, x="x_text:Q", text="text:N", color=_label_color())
        )
        panels.append(
            _layer(bars, labels).properties(
                width=360, height=max(60, len(order) * 30), title=summaries.VARIABLE_LABELS[var]
            )
        )
    return alt.vconcat(*panels, spacing=18).properties(
        title=alt.Title(
            f"Eligible cohort against {base.lower()}",
            subtitle="Share of patients in each group; a hidden share comes from a hidden count",
        )
    )


def drift_chart(cohort: pl.DataFrame) -> alt.VConcatChart:
    """How the mix of each characteristic drifts as criteria are applied, step by step."""
    df = _cohort_frame(cohort)
    steps = df.select("step", "label").unique().sort("step")
    step_order = [f"{s}. {lab}" if s else "0. Registry" for s, lab in steps.iter_rows()]
    panels = []
    for var in summaries.COHORT_VARIABLES:
        part = df.filter(pl.col("variable") == var)
        if part.height == 0:
            continue
        rows = [
            {
                "step": r["step"],
                "step_label": f"{r['step']}. {r['label']}" if r["step"] else "0. Registry",
                "level": r["level"],
                "pct": r["pct"],
            }
            for r in part.iter_rows(named=True)
        ]
        order = _level_order(var, part["level"].unique().to_list())
        rank = {lv: k for k, lv in enumerate(order)}
        for row in rows:
            row["rank"] = rank.get(row["level"], len(rank))
        base = alt.Chart(alt.Data(values=rows)).transform_filter("datum.pct != null")
        enc = dict(
            x=alt.X(
                "step:O",
                scale=alt.Scale(domain=list(range(len(step_order)))),
                title="Funnel step (0 = registry; names as in the funnel)",
                axis=alt.Axis(labelAngle=0),
            ),
            y=alt.Y("pct:Q", title="Share (%)"),
            color=alt.Color(
                "level:N",
                sort=alt.EncodingSortField("rank", op="min"),
                title=summaries.VARIABLE_LABELS[var],
                legend=alt.Legend(orient="right"),
            ),
        )
        lines = base.mark_line(point=True, strokeWidth=1.6).encode(
            **enc, tooltip=["step_label:N", "level:N", alt.Tooltip("pct:Q", format=".1f")]
        )
        panels.append(lines.properties(width=560, height=170, title=summaries.VARIABLE_LABELS[var]))
    return (
        alt.vconcat(*panels, spacing=14)
        .resolve_scale(color="independent")
        .properties(
            title=alt.Title(
                "Drift of the cohort mix at each step",
                subtitle="Share of the patients remaining after each criterion; gaps are hidden shares",
            )
        )
    )


# --------------------------------------------------------------------------- thresholds


def threshold_chart(
    values: pl.DataFrame,
    *,
    threshold: float | None = None,
    op: str | None = None,
    title: str = "",
    unit: str = "",
    axis_title: str | None = None,
    subtitle: str | None = None,
    exclusion: bool = False,
    hidden_label: str = HIDDEN,
    width: int = 420,
) -> alt.LayerChart:
    """Histogram of the deciding value of a numeric criterion, with a rule at its threshold.

    ``values`` is either ``ScreenResult.deciding_values(criterion)`` (patient_id, value,
    unit, threshold, op; threshold/op taken from it when not given) or a histogram from
    :func:`feasibility.summaries.value_histogram` (bin_start, bin_end, count, side,
    ``count_suppressed``). Bars are coloured by the side of the threshold. For an
    ``exclusion`` criterion (``Criterion.kind == "exclusion"``) ``value op threshold`` is
    the excluding condition (QTc > 470 fails), so the sides swap.
    """
    if "bin_start" not in values.columns and {"threshold", "op"} <= set(values.columns):
        # deciding_values may hold several thresholded parts: draw the first (or the one given)
        parts = values.select("threshold", "op").unique(maintain_order=True).drop_nulls()
        if parts.height:
            thr0, op0 = parts.row(0)
            threshold = float(thr0) if threshold is None else threshold
            op = str(op0) if op is None else op
            chosen = parts.filter((pl.col("threshold") == threshold) & (pl.col("op") == op))
            thr_f, op_f = chosen.row(0) if chosen.height else (thr0, op0)
            values = values.filter((pl.col("threshold") == thr_f) & (pl.col("op") == op_f))
    if not unit and "unit" in values.columns and values.height:
        unit = str(values["unit"].drop_nulls()[0] or "")
    if threshold is None or op is None:
        raise ValueError("threshold_chart needs a threshold and an operator")
    hist = (
        values
        if "bin_start" in values.columns
        else summaries.value_histogram(values, threshold, op, exclusion=exclusion)
    )
    rows = []
    for r in hist.iter_rows(named=True):
        rows.append(
            {
                "bin_start": r["bin_start"],
                "bin_end": r["bin_end"],
                "mid": (r["bin_start"] + r["bin_end"]) / 2,
                "count": r["count"],
                "side": "Passes" if r["side"] == "pass" else "Fails",
                "hidden": r["count"] is None,
                "range": f"{r['bin_start']:g} to {r['bin_end']:g}"
                + (" (and below)" if r.get("open_low") else "")
                + (" (and above)" if r.get("open_high") else ""),
                "text": hidden_label if r["count"] is None else f"{r['count']:,}",
                "band_lo": 0,
                "band_hi": _hidden_max(hidden_label),
            }
        )
    pass_bins = [r for r in rows if r["side"] == "Passes"]
    fail_bins = [r for r in rows if r["side"] == "Fails"]
    cut = threshold
    if pass_bins and fail_bins:
        # the edge between the two sides (for integer grades it lies between two values)
        if pass_bins[0]["bin_start"] >= fail_bins[-1]["bin_end"]:
            cut = pass_bins[0]["bin_start"]
        elif fail_bins[0]["bin_start"] >= pass_bins[-1]["bin_end"]:
            cut = fail_bins[0]["bin_start"]
    data = alt.Data(values=rows)
    integer_bins = bool(rows) and all(
        r["bin_end"] - r["bin_start"] == 1 and (r["bin_start"] + 0.5).is_integer() for r in rows
    )
    axis = alt.Axis(values=[r["mid"] for r in rows], format="d") if integer_bins else alt.Axis()
    x = alt.X(
        "bin_start:Q",
        title=f"{axis_title or title or 'Value'}" + (f" ({unit})" if unit else ""),
        scale=alt.Scale(zero=False, nice=False),
        axis=axis,
    )
    bars = (
        alt.Chart(data)
        .mark_bar(stroke="white", strokeWidth=0.5)
        .encode(
            x=x,
            x2="bin_end:Q",
            y=alt.Y("count:Q", title="Patients"),
            y2=alt.datum(0),
            color=alt.Color(
                "side:N",
                title=None,
                scale=alt.Scale(domain=["Passes", "Fails"], range=[GREEN, RED]),
            ),
            tooltip=[
                alt.Tooltip("range:N", title="Values"),
                alt.Tooltip("text:N", title="Patients"),
            ],
        )
        .transform_filter("datum.count != null")
    )
    hidden = (
        alt.Chart(data)
        .mark_bar(color=HIDDEN_FILL, stroke="#666", strokeDash=[3, 2], strokeWidth=0.8)
        .encode(
            x="bin_start:Q",
            x2="bin_end:Q",
            y="band_lo:Q",
            y2="band_hi:Q",
            tooltip=[alt.Tooltip("range:N"), alt.Tooltip("text:N")],
        )
        .transform_filter("datum.hidden")
    )
    hidden_text = (
        alt.Chart(data)
        .mark_text(dy=-6, fontSize=9, color=HIDDEN_TEXT)
        .encode(x="mid:Q", y="band_hi:Q", text="text:N")
        .transform_filter("datum.hidden")
    )
    rule = (
        alt.Chart(alt.Data(values=[{"cut": cut, "text": f"threshold {op} {threshold:g}"}]))
        .mark_rule(color="#222", strokeDash=[5, 3], strokeWidth=1.5)
        .encode(x="cut:Q")
    )
    rule_text = (
        alt.Chart(
            alt.Data(
                values=[
                    {"cut": cut, "text": f"{'fail' if exclusion else 'pass'}: {op} {threshold:g}"}
                ]
            )
        )
        .mark_text(align="left", dx=4, dy=-4, baseline="top", fontSize=10, color="#222")
        .encode(x="cut:Q", y=alt.value(0), text="text:N")
    )
    return _layer(bars, hidden, hidden_text, rule, rule_text).properties(
        width=width,
        height=180,
        title=alt.Title(
            _trim(title or "Deciding values", 62),
            subtitle=(f"{subtitle} · " if subtitle else "")
            + f"grey dashed bars: counts shown as {hidden_label}",
        ),
    )


# --------------------------------------------------------------------------- data quality

KAHN_ORDER = ["conformance", "completeness", "plausibility"]
#: Check outcomes from best to worst (feasibility.quality statuses first), for stacking.
STATUS_ORDER = [
    "passed",
    "pass",
    "success",
    "passed_with_failures",
    "warn",
    "warning",
    "failed",
    "fail",
    "error",
    "not_applicable",
]


def quality_chart(summary: pl.DataFrame, *, width: int = 420) -> alt.LayerChart:
    """Data-quality checks by Kahn category (conformance, completeness, plausibility)
    and status. Counts are numbers of checks, not patients, so they are not suppressed."""
    counts = (
        summary.group_by("category", "status")
        .agg(pl.len().alias("checks"))
        .sort("category", "status")
    )
    cats = [c for c in KAHN_ORDER if c in counts["category"].to_list()] + sorted(
        c for c in counts["category"].unique().to_list() if c not in KAHN_ORDER
    )
    present = counts["status"].unique().to_list()
    statuses = [s for s in STATUS_ORDER if s in present] + sorted(
        s for s in present if s not in STATUS_ORDER
    )
    palette = {
        "pass": GREEN,
        "passed": GREEN,
        "success": GREEN,
        "passed_with_failures": AMBER,
        "warn": AMBER,
        "warning": AMBER,
        "fail": RED,
        "failed": RED,
        "error": "#7b241c",
        "not_applicable": "#b8c2cc",
    }
    colors = [palette.get(str(s).lower(), GREY) for s in statuses]
    rank = {s: i for i, s in enumerate(statuses)}
    data = alt.Data(
        values=_values(counts.with_columns(pl.col("status").replace_strict(rank).alias("rank")))
    )
    bars = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            y=alt.Y("category:N", sort=cats, title=None),
            x=alt.X("checks:Q", title="Checks", stack="zero"),
            color=alt.Color(
                "status:N", title="Status", scale=alt.Scale(domain=statuses, range=colors)
            ),
            order=alt.Order("rank:Q"),
            tooltip=["category:N", "status:N", "checks:Q"],
        )
    )
    labels = (
        alt.Chart(data)
        .mark_text(color="white", fontSize=10, dx=-8, align="right")
        .encode(
            y=alt.Y("category:N", sort=cats),
            x=alt.X("checks:Q", stack="zero"),
            detail="status:N",
            order=alt.Order("rank:Q"),
            text="checks:Q",
        )
    )
    return _layer(bars, labels).properties(
        width=width,
        height=max(60, 36 * len(cats)),
        title=alt.Title("Data quality by Kahn category", subtitle="Number of checks by outcome"),
    )


def configured(chart: alt.TopLevelMixin) -> alt.TopLevelMixin:
    """The chart with the report's typography and axis styling applied."""
    return _config(chart)
