"""Data-quality charts: records per month per table, with the index window and the data
cut-off marked (``coverage_by_month.csv`` drawn).

Counts come in already disclosure-controlled (hidden months are null and leave a gap in
the line); the chart never computes a count of its own.
"""

from __future__ import annotations

import datetime as dt

import altair as alt
import polars as pl

from feasibility.charts import AMBER, BLUE, FONT, RED, _values

#: Months shown before the cut-off (or before the index window, whichever is earlier).
YEARS_SHOWN = 5


def coverage_chart(
    coverage: pl.DataFrame,
    *,
    cutoff: dt.date | None = None,
    index_span: tuple[dt.date, dt.date] | None = None,
    width: int = 760,
    height: int = 90,
) -> alt.VConcatChart:
    """One small line chart per table (whole-table rows per month, independent y scales),
    the index window shaded and the data cut-off drawn as a red rule on each."""
    whole = coverage.filter(pl.col("selector").is_null())
    last = whole.get_column("month").max() if whole.height else None
    end: dt.date = cutoff or (last if isinstance(last, dt.date) else dt.date.today())
    start = end.replace(year=end.year - YEARS_SHOWN, day=1)
    if index_span is not None and index_span[0] is not None:
        start = min(start, index_span[0].replace(day=1, year=index_span[0].year - 1))
    shown = whole.filter(pl.col("month") >= start, pl.col("month") <= end).with_columns(
        pl.col("month").dt.strftime("%Y-%m-%d")
    )
    domain = [start.isoformat(), (end + dt.timedelta(days=31)).isoformat()]
    panels = []
    for table in shown.get_column("table").unique(maintain_order=True).to_list():
        data = alt.Data(values=_values(shown.filter(pl.col("table") == table)))
        line = (
            alt.Chart(data)
            .mark_line(point=alt.OverlayMarkDef(size=12), color=BLUE)
            .encode(
                x=alt.X(
                    "month:T",
                    title=None,
                    scale=alt.Scale(domain=domain),
                    axis=alt.Axis(format="%Y", tickCount="year"),
                ),
                y=alt.Y("rows:Q", title=table),
                tooltip=[
                    alt.Tooltip("month:T", format="%Y-%m"),
                    alt.Tooltip("rows:Q", title="records"),
                    alt.Tooltip("patients:Q"),
                ],
            )
        )
        layers: list[alt.Chart] = []
        if index_span is not None and None not in index_span:
            band = pl.DataFrame(
                {"start": [index_span[0].isoformat()], "end": [index_span[1].isoformat()]}
            )
            base = alt.Chart(alt.Data(values=_values(band)))
            if index_span[0] == index_span[1]:  # one index date: a line, not a band
                layers.append(base.mark_rule(color=AMBER, size=3).encode(x="start:T"))
            else:
                layers.append(
                    base.mark_rect(color=AMBER, opacity=0.18).encode(x="start:T", x2="end:T")
                )
        layers.append(line)
        if cutoff is not None:
            rule = pl.DataFrame({"cutoff": [cutoff.isoformat()]})
            layers.append(
                alt.Chart(alt.Data(values=_values(rule)))
                .mark_rule(color=RED, strokeDash=[4, 3])
                .encode(x="cutoff:T")
            )
        panels.append(alt.layer(*layers).properties(width=width, height=height))
    title = "Records per month" + (f" (red: data cut-off {cutoff.isoformat()}" if cutoff else " (")
    title += "; shaded: index window)" if index_span and None not in index_span else ")"
    chart = alt.vconcat(*panels, spacing=6).properties(
        title=alt.TitleParams(title, anchor="start", font=FONT, fontSize=13)
    )
    return chart
