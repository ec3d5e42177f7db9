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
    columns: list[pl.Series] = []
    for check in checks:
        selector = check.meta["selector"]
        days = check.meta.get("window_days")
        selector_col, date_col = SOURCES[check.suite]
        lf = tables[check.suite]
        start_ok = (
            pl.lit(True)
            if days is None
            else pl.col(date_col) >= index - pl.duration(days=int(days))
        )
        have = (
            lf.filter(
                (pl.col(selector_col).cast(pl.String) == selector)
                & pl.col("value").is_not_null()
                & (pl.col(date_col) <= index)
                & start_ok
            )
            .select("patient_id")
            .unique()
            .collect()
            .get_column("patient_id")
        )
        columns.append(
            patients.get_column("patient_id").is_in(have.implode()).alias(check.column)
        )
    return patients.with_columns(columns)
