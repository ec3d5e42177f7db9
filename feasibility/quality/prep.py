"""Cross-table and normalising preparation on the polars side: the derived columns GX checks.

GX checks one frame at a time and has no polars backend, so anything needing another
table (birth and death dates, the patient list), a unit conversion, or the loader's
normalisation is computed here, once, as an extra column; a GX column expectation then
validates it. Derived columns (all computed from the RAW table, duplicates kept):

==============================  ==============================================================
``patient_known``               patient_id (trimmed) exists in patients; null if patient_id null
``duplicate_of_row``            ``_row`` of the first identical earlier row, null if none
``<date>_days_after_birth``     date - birth_date in days (null if either is null)
``<date>_days_before_death``    death_date - date in days (null if alive or unknown)
``<date>_days_before_today``    today - date in days
``days_start_to_end``           end_date - start_date in days (intervals)
``age_years``                   whole years from birth_date to the index date (without one:
                                to death_date, else to today)
``sex_key``, ``test_key``,      the vocabulary value as the loader compares it: trimmed,
``item_key``, ``value_key``,    upper- (sex) or lower-cased, blank as null
``category_key``,
``route_key``, ``unit_key``
``code_key``                    ICD-10 code without dots and spaces, upper case
``value_canonical``             measurement value in the canonical unit of its test (null when
                                the test or unit is outside the contract table)
==============================  ==============================================================
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from feasibility.schema import TABLES, unit_factor_frame

ROW = "_row"


def _blank_null(expr: pl.Expr) -> pl.Expr:
    stripped = expr.str.strip_chars()
    return pl.when(stripped.str.len_bytes() > 0).then(stripped)


KEYS: dict[str, tuple[str, pl.Expr]] = {
    "sex_key": ("sex", _blank_null(pl.col("sex").cast(pl.String)).str.to_uppercase()),
    "test_key": ("test", _blank_null(pl.col("test").cast(pl.String)).str.to_lowercase()),
    "unit_key": ("unit", _blank_null(pl.col("unit").cast(pl.String))),
    "item_key": ("item", _blank_null(pl.col("item").cast(pl.String)).str.to_lowercase()),
    "value_key": ("value", _blank_null(pl.col("value").cast(pl.String)).str.to_lowercase()),
    "category_key": ("category", _blank_null(pl.col("category").cast(pl.String)).str.to_lowercase()),
    "route_key": ("route", _blank_null(pl.col("route").cast(pl.String)).str.to_lowercase()),
    "code_key": (
        "code",
        _blank_null(
            pl.col("code").cast(pl.String).str.replace_all(".", "", literal=True).str.replace_all(" ", "", literal=True)
        ).str.to_uppercase(),
    ),
}


def _days(a: pl.Expr, b: pl.Expr) -> pl.Expr:
    """b - a in whole days (Int64)."""
    return (b.cast(pl.Int32).cast(pl.Int64) - a.cast(pl.Int32).cast(pl.Int64)).alias("d")


def whole_years(birth: pl.Expr, ref: pl.Expr) -> pl.Expr:
    """Age in whole years between two dates (birthday not yet reached -> one less)."""
    years = ref.dt.year().cast(pl.Int64) - birth.dt.year().cast(pl.Int64)
    before = (ref.dt.month() < birth.dt.month()) | (
        (ref.dt.month() == birth.dt.month()) & (ref.dt.day() < birth.dt.day())
    )
    return years - before.cast(pl.Int64)


def patient_dates(raw_patients: pl.LazyFrame) -> pl.LazyFrame:
    """One row per (trimmed) patient_id of the raw patients table: birth and death dates.

    A repeated patient_id keeps its first row (the repeat is reported by the uniqueness check).
    """
    return (
        raw_patients.select(
            pl.col("patient_id").str.strip_chars().alias("__pid"),
            pl.col("birth_date").alias("__birth"),
            pl.col("death_date").alias("__death"),
            pl.lit(True).alias("__known"),
        )
        .drop_nulls("__pid")
        .unique("__pid", keep="first", maintain_order=False)
    )


def duplicate_of_row(df: pl.DataFrame, columns: list[str]) -> pl.Series:
    """For each row, the ``_row`` of the first earlier row equal on ``columns`` (else null).

    Rows are hashed first; only rows whose hash repeats are compared exactly.
    """
    hashed = df.select(pl.struct(columns).hash().alias("h")).to_series()
    candidate = hashed.is_duplicated()
    if not candidate.any():
        return pl.repeat(None, df.height, dtype=pl.Int64, eager=True).alias("duplicate_of_row")
    sub = (
        df.with_row_index("__i")
        .filter(candidate)
        .select(
            "__i",
            pl.col(ROW).cast(pl.Int64),
            pl.col(ROW).cast(pl.Int64).min().over(columns).alias("__first"),
        )
        .filter(pl.col(ROW) != pl.col("__first"))
    )
    out = pl.repeat(None, df.height, dtype=pl.Int64, eager=True).alias("duplicate_of_row")
    return out.scatter(sub.get_column("__i"), sub.get_column("__first"))


def derive(
    table: str,
    raw: pl.LazyFrame,
    raw_patients: pl.LazyFrame | None,
    needed: set[str],
    *,
    index_date: dt.date | None,
    today: dt.date,
) -> pl.DataFrame:
    """The raw ``table`` (only ``_row`` and the columns in ``needed``) plus derived columns."""
    schema = raw.collect_schema()
    base_cols = {c for c in needed if c in schema}
    for key, (source, _) in KEYS.items():
        if key in needed and source in schema:
            base_cols.add(source)
    date_cols = [c for c, t in TABLES[table].items() if isinstance(t, pl.Date) and c in schema]
    needs_birth = any(c.endswith(("_days_after_birth", "_days_before_death")) for c in needed) or (
        "age_years" in needed
    )
    needs_patient = needs_birth or "patient_known" in needed
    contract = [c for c in TABLES[table] if c in schema]
    if "duplicate_of_row" in needed:
        base_cols.update(contract)
    if "value_canonical" in needed:
        base_cols.update({"test", "unit", "value"})
    if "days_start_to_end" in needed:
        base_cols.update({"start_date", "end_date"})
    for c in date_cols:
        if any(n.startswith(c + "_days_") for n in needed):
            base_cols.add(c)
    if "age_years" in needed:
        base_cols.update({"birth_date", "death_date"})
    if needs_patient and table != "patients":
        base_cols.add("patient_id")

    lf = raw.select(ROW, *sorted(base_cols))
    derived: list[pl.Expr] = []
    for key, (source, expr) in KEYS.items():
        if key in needed and source in schema:
            derived.append(expr.alias(key))

    if needs_patient and table != "patients" and raw_patients is not None:
        lf = lf.with_columns(pl.col("patient_id").str.strip_chars().alias("__pid")).join(
            patient_dates(raw_patients), on="__pid", how="left"
        )
        derived.append(
            pl.when(pl.col("__pid").is_not_null())
            .then(pl.col("__known").fill_null(False))
            .alias("patient_known")
        )
    elif table == "patients":
        lf = lf.with_columns(
            pl.col("birth_date").alias("__birth") if "birth_date" in schema else pl.lit(None, pl.Date).alias("__birth"),
            pl.col("death_date").alias("__death") if "death_date" in schema else pl.lit(None, pl.Date).alias("__death"),
        )

    today_lit = pl.lit(today, pl.Date)
    for c in date_cols:
        if f"{c}_days_after_birth" in needed:
            derived.append(_days(pl.col("__birth"), pl.col(c)).alias(f"{c}_days_after_birth"))
        if f"{c}_days_before_death" in needed:
            derived.append(_days(pl.col(c), pl.col("__death")).alias(f"{c}_days_before_death"))
        if f"{c}_days_before_today" in needed:
            derived.append(_days(pl.col(c), today_lit).alias(f"{c}_days_before_today"))
    if "days_start_to_end" in needed:
        derived.append(_days(pl.col("start_date"), pl.col("end_date")).alias("days_start_to_end"))
    if "age_years" in needed:
        ref = (
            pl.lit(index_date, pl.Date)
            if index_date is not None
            else pl.coalesce(pl.col("__death"), today_lit)
        )
        derived.append(whole_years(pl.col("__birth"), ref).alias("age_years"))

    if "value_canonical" in needed:
        factors = unit_factor_frame().select(
            pl.col("test").alias("__t"), pl.col("unit").alias("__u"), "factor"
        )
        lf = lf.with_columns(
            _blank_null(pl.col("test").cast(pl.String)).str.to_lowercase().alias("__t"),
            _blank_null(pl.col("unit").cast(pl.String)).alias("__u"),
        ).join(factors.lazy(), on=["__t", "__u"], how="left")
        derived.append((pl.col("value") * pl.col("factor")).alias("value_canonical"))

    lf = lf.with_columns(derived)
    df = lf.collect()
    if "duplicate_of_row" in needed:
        df = df.with_columns(duplicate_of_row(df, contract))
    keep = [ROW, *[c for c in df.columns if c in needed and c != ROW]]
    return df.select(keep)


def inventory(present: frozenset[str] | set[str]) -> pl.DataFrame:
    """One row per contract table: its name and whether the registry had a file for it."""
    return pl.DataFrame(
        {"table": list(TABLES), "present": [t in present for t in TABLES]},
        schema={"table": pl.String, "present": pl.Boolean},
    )
