"""Per-patient data coverage at an index date: does each patient have a usable value of each
test and item inside the window the criteria use?

Built from the NORMALISED tables (``registry.tables``): only values the screen can use
(accepted unit, known item and value) count. One row per patient of ``patients``;
``has_<test>`` / ``has_<item>`` is True when at least one record falls within
``index - window_days <= date <= index`` (``window_days`` None: any date on or before
index). GX then checks these columns (``frame: patient_window`` in the suites).
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from feasibility.quality.suites import Check

#: Table, selector column and date column per source table of a window check.
SOURCES = {
    "measurements": ("test", "measured_on"),
    "assessments": ("item", "assessed_on"),
}


def window_frame(
    tables: dict[str, pl.LazyFrame], checks: list[Check], index_date: dt.date
) -> pl.DataFrame:
    """``patient_id`` plus one boolean ``has_<selector>`` column per window check."""
    patients = (
        tables["patients"].select("patient_id").drop_nulls().unique(maintain_order=True).collect()
    )
    index = pl.lit(index_date, pl.Date)
    # one pass per source table: records on or before index, inside the widest window
    recent: dict[str, pl.DataFrame] = {}
    for suite in sorted({c.suite for c in checks}):
        selector_col, date_col = SOURCES[suite]
        windows = [c.meta.get("window_days") for c in checks if c.suite == suite]
        since = None if None in windows else max(int(d) for d in windows if d is not None)
        keep = pl.col("value").is_not_null() & (pl.col(date_col) <= index)
        if since is not None:
            keep = keep & (pl.col(date_col) >= index - pl.duration(days=since))
        recent[suite] = (
            tables[suite]
            .filter(keep)
            .select(
                "patient_id",
                pl.col(selector_col).cast(pl.String).alias("__sel"),
                pl.col(date_col).alias("__date"),
            )
            .collect()
        )
    columns: list[pl.Series] = []
    ids = patients.get_column("patient_id")
    for check in checks:
        days = check.meta.get("window_days")
        rows = recent[check.suite].filter(pl.col("__sel") == check.meta["selector"])
        if days is not None:
            rows = rows.filter(pl.col("__date") >= index - pl.duration(days=int(days)))
        have = rows.get_column("patient_id").unique()
        columns.append(ids.is_in(have.implode()).alias(str(check.column)))
    return patients.with_columns(columns)
