"""Data over time: records per month per table (and per test or item), the data cut-off,
and the findings a screen near the cut-off must know about.

``coverage_by_month(registry)`` counts the usable (normalised) rows and distinct patients
per calendar month of each table's event date; measurements and assessments also per test
or item. ``timeline_findings`` turns two patterns into findings:

* **tail drop**: a month among the last ``TAIL_MONTHS`` before the data cut-off (the month
  holding the cut-off pro-rated to the days it covers) with fewer than ``DROP_SHARE`` of
  the median monthly rows of the ``BASELINE_MONTHS`` before them: records are still
  arriving, or were lost, and windows ending there see less data than earlier ones;
* **gap**: a month without rows among the ``GAP_MONTHS`` months before the cut-off, in a
  series with a median of at least ``MIN_ROWS`` rows a month over those months.

Each finding names the criteria whose look-back windows touch the months concerned
(from the protocol's own rules and the index settings). Thresholds are team decisions.
"""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Any

import polars as pl

from feasibility.quality.links import criterion_uses, field_text
from feasibility.schema import EVENT_DATE

TAIL_MONTHS = 3
BASELINE_MONTHS = 12
DROP_SHARE = 0.5
MIN_ROWS = 10
#: Months before the cut-off searched for gaps.
GAP_MONTHS = 60
SELECTOR = {"measurements": "test", "assessments": "item"}

COVERAGE_SCHEMA = {
    "table": pl.String,
    "selector": pl.String,
    "month": pl.Date,
    "rows": pl.Int64,
    "patients": pl.Int64,
}


def coverage_by_month(registry: Any, today: dt.date | None = None) -> pl.DataFrame:
    """Rows and distinct patients per (table, selector, month); ``selector`` is null for the
    whole table, else the test or item. Dates after ``today`` are left out (they are
    findings of their own)."""
    today = today or dt.date.today()
    frames = []
    for table, date_col in EVENT_DATE.items():
        if not registry.has(table):
            continue
        lf = registry.tables[table]
        names = lf.collect_schema().names()
        sel = SELECTOR.get(table)
        base = lf.filter(pl.col(date_col).is_not_null(), pl.col(date_col) <= today).select(
            "patient_id",
            pl.col(date_col).dt.truncate("1mo").alias("month"),
            (
                pl.col(sel).cast(pl.String)
                if sel is not None and sel in names
                else pl.lit(None, pl.String)
            ).alias("selector"),
        )
        whole = base.group_by("month").agg(
            pl.len().cast(pl.Int64).alias("rows"),
            pl.col("patient_id").n_unique().cast(pl.Int64).alias("patients"),
        )
        frames.append(
            whole.select(
                pl.lit(table).alias("table"),
                pl.lit(None, pl.String).alias("selector"),
                "month",
                "rows",
                "patients",
            ).collect()
        )
        if sel in names:
            parts = base.group_by("selector", "month").agg(
                pl.len().cast(pl.Int64).alias("rows"),
                pl.col("patient_id").n_unique().cast(pl.Int64).alias("patients"),
            )
            frames.append(
                parts.select(
                    pl.lit(table).alias("table"), "selector", "month", "rows", "patients"
                ).collect()
            )
    if not frames:
        return pl.DataFrame(schema=COVERAGE_SCHEMA)
    return (
        pl.concat([f.cast(COVERAGE_SCHEMA) for f in frames])
        .select(list(COVERAGE_SCHEMA))
        .sort("table", "selector", "month", nulls_last=False)
    )


#: Share of dated rows allowed after the data cut-off (stray future-looking dates, typing
#: errors): the cut-off is the date before which all but this share of records lie.
CUTOFF_QUANTILE = 0.999


def data_cutoff(coverage: pl.DataFrame, registry: Any = None) -> dt.date | None:
    """The data cut-off: the date by which all but 0.1% of dated records (not after today)
    lie, over every event table, so a few stray late dates do not move it."""
    if registry is not None:
        parts = []
        for table, date_col in EVENT_DATE.items():
            if registry.has(table):
                parts.append(
                    registry.tables[table]
                    .select(pl.col(date_col).alias("d"))
                    .filter(pl.col("d").is_not_null(), pl.col("d") <= dt.date.today())
                    .collect()
                )
        dates = pl.concat(parts).get_column("d") if parts else pl.Series([], dtype=pl.Date)
        if dates.is_empty():
            return None
        stray = int(dates.len() * (1 - CUTOFF_QUANTILE))  # rows allowed after the cut-off
        return dates.sort(descending=True)[stray]
    if coverage.is_empty():
        return None
    month = coverage.get_column("month").max()
    if not isinstance(month, dt.date):
        return None
    return month.replace(day=calendar.monthrange(month.year, month.month)[1])


def _months(start: dt.date, end: dt.date) -> list[dt.date]:
    out, m = [], start.replace(day=1)
    while m <= end:
        out.append(m)
        m = (m.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return out


def _series_findings(
    table: str, selector: str | None, series: pl.DataFrame, cutoff: dt.date
) -> list[dict[str, Any]]:
    counts = dict(series.filter(pl.col("month") <= cutoff).select("month", "rows").iter_rows())
    if not counts:
        return []
    first = min(counts)
    cut_month = cutoff.replace(day=1)
    months = _months(first, cut_month)
    rows = [counts.get(m, 0) for m in months]
    # pro-rate the month holding the cut-off to the days it covers
    days_in = calendar.monthrange(cut_month.year, cut_month.month)[1]
    rows[-1] = rows[-1] * days_in / cutoff.day
    out = []
    tail, base = rows[-TAIL_MONTHS:], rows[-TAIL_MONTHS - BASELINE_MONTHS : -TAIL_MONTHS]
    if len(base) >= 3:
        median = sorted(base)[len(base) // 2]
        low = [
            m for m, r in zip(months[-TAIL_MONTHS:], tail, strict=True) if r < DROP_SHARE * median
        ]
        if median >= MIN_ROWS and low:
            out.append(
                {
                    "kind": "tail_drop",
                    "from": low[0],
                    "to": cutoff,
                    "detail": (
                        f"{', '.join(m.strftime('%Y-%m') for m in low)}: fewer than "
                        f"{DROP_SHARE:.0%} of the median {median:,.0f} rows a month of the "
                        f"{len(base)} months before"
                    ),
                }
            )
    # gaps: in the recent years a screen's windows can reach, where the series is dense
    recent = list(zip(months, rows, strict=True))[-GAP_MONTHS:]
    level = sorted(r for _, r in recent)[len(recent) // 2] if recent else 0
    gaps = [m for m, r in recent if r == 0]
    if gaps and level >= MIN_ROWS:
        out.append(
            {
                "kind": "gap",
                "from": gaps[0],
                "to": gaps[-1].replace(day=calendar.monthrange(gaps[-1].year, gaps[-1].month)[1]),
                "detail": "no rows in " + ", ".join(m.strftime("%Y-%m") for m in gaps[:12]),
            }
        )
    for f in out:
        f.update(table=table, selector=selector)
    return out


def _touched(
    protocol: Any, table: str, selector: str | None, lo: dt.date, hi: dt.date, index_span
) -> list[str]:
    """Criteria reading (table, selector) whose windows, for an index in ``index_span``
    (first, last; None: any), overlap [lo, hi]."""
    if protocol is None:
        return []
    out = []
    for cid, uses in criterion_uses(protocol).items():
        for u in uses:
            if u.table != table or (selector and u.selector not in (None, selector)):
                continue
            if index_span is None:
                out.append(cid)
                break
            first, last = index_span
            days = u.window_days if u.window_days is not None and u.window_days >= 0 else None
            start = dt.date.min if days is None else first - dt.timedelta(days=days)
            if start <= hi and lo <= last:
                out.append(cid)
                break
    return out


def timeline_findings(
    coverage: pl.DataFrame,
    cutoff: dt.date | None,
    *,
    protocol: Any = None,
    index_span: tuple[dt.date, dt.date] | None = None,
) -> list[dict[str, Any]]:
    """Summary rows (``SUMMARY_SCHEMA`` keys) for tail drops and gaps, one per series."""
    if cutoff is None or coverage.is_empty():
        return []
    rows = []
    for (table, selector), series in coverage.group_by(["table", "selector"], maintain_order=True):
        if selector is None and table in SELECTOR:
            continue  # measurements and assessments: per test or item, naming its criteria
        for f in _series_findings(table, selector, series, cutoff):
            name = table + (f"[{selector}]" if selector else "")
            crit = _touched(protocol, table, selector, f["from"], f["to"], index_span)
            what = (
                "fewer records in the months before the data cut-off"
                if f["kind"] == "tail_drop"
                else "months without any record"
            )
            rows.append(
                {
                    "check": f"timeline.{name}.{f['kind']}",
                    "table": table,
                    "column": EVENT_DATE[table],
                    "condition": f"{SELECTOR[table]} == {selector!r}" if selector else None,
                    "expectation": "coverage_by_month",
                    "category": "completeness",
                    "severity": "warning",
                    "status": "failed",
                    "element_count": None,
                    "unexpected_count": None,
                    "unexpected_percent": None,
                    "tolerance_pct": None,
                    "patients_affected": None,
                    "title": f"{name}: {what}",
                    "affects": field_text([(table, "*", selector)]),
                    "criteria": ";".join(crit) or None,
                    "examples": f"{f['detail']} (data cut-off {cutoff.isoformat()})",
                    "rationale": (
                        "windows ending in these months see less data than earlier ones: "
                        "statuses there lean to unknown (or to pass for closed-world criteria)"
                    ),
                    "tolerance_source": (
                        f"team decision: a month below {DROP_SHARE:.0%} of the median of the "
                        f"{BASELINE_MONTHS} months before the last {TAIL_MONTHS}, or an empty "
                        f"month in a series of >= {MIN_ROWS} rows a month"
                    ),
                    "severity_source": "team decision: biases windows near the cut-off",
                    "source": "timeline",
                    "note": f"{f['from'].isoformat()}..{f['to'].isoformat()}",
                }
            )
    return rows
