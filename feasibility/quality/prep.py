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
``item_key``, ``value_key``,    upper- (sex) or lower-cased, blank as null (an Enum of the
``category_key``,               values present: mapped once per distinct value, not per row)
``route_key``, ``unit_key``
``code_key``                    ICD-10 code without dots and spaces, upper case
``value_canonical``             measurement value in the canonical unit of its test (null when
                                the test or unit is outside the contract table)
``drug_near_miss``,             the listed drug / ICD-10 prefix the value nearly matches, null
``code_near_miss``              when it matches one or none is near (:mod:`.nearmiss`)
``sex_plausible``               false for a female-only record (pregnancy, childbearing,
                                breastfeeding items; ICD-10 O, Z32-Z36, Z3A) of a patient of
                                sex M, true for other sexes, null for other records
``line_gap``, ``line_overlap``  on the first row of a therapy line: the previous line's number
                                when this line skips a number / starts before it ended
==============================  ==============================================================

Large tables are prepared in row chunks (:meth:`TablePrep.chunk`) so that memory stays
bounded; whole-table facts (duplicates, the patient list, the distinct values of each
vocabulary column) are computed once per table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import polars as pl

from feasibility.protocol.formulas import age_in_years
from feasibility.quality.nearmiss import near_miss_map
from feasibility.schema import TABLES, TESTS

ROW = "_row"

#: Assessment items and ICD-10 prefixes that only a woman can have (DQD plausibleGender).
FEMALE_ITEMS = ("breastfeeding", "childbearing_potential", "pregnancy_test")
FEMALE_CODES = ("O", "Z32", "Z33", "Z34", "Z35", "Z36", "Z3A")
#: derived near-miss column -> (source column, kind)
NEAR_MISS = {"drug_near_miss": ("drug", "drug"), "code_near_miss": ("code", "code")}


#: key column -> (source column, normalisation of one distinct value)
KEYS: dict[str, tuple[str, Callable[[str], str]]] = {
    "sex_key": ("sex", lambda v: v.strip().upper()),
    "test_key": ("test", lambda v: v.strip().lower()),
    "unit_key": ("unit", lambda v: v.strip()),
    "item_key": ("item", lambda v: v.strip().lower()),
    "value_key": ("value", lambda v: v.strip().lower()),
    "category_key": ("category", lambda v: v.strip().lower()),
    "route_key": ("route", lambda v: v.strip().lower()),
    "code_key": ("code", lambda v: v.replace(".", "").replace(" ", "").strip().upper()),
}
#: Keys with many distinct values stay strings (GX matches them with a regex).
STRING_KEYS = frozenset({"code_key"})


def _days(a: pl.Expr, b: pl.Expr) -> pl.Expr:
    """b - a in whole days."""
    return b.cast(pl.Int32).cast(pl.Int64) - a.cast(pl.Int32).cast(pl.Int64)


def whole_years(birth: pl.Expr, ref: pl.Expr) -> pl.Expr:
    """Age in whole years between two dates (birthday not yet reached -> one less)."""

    def ymd(d: pl.Expr) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
        return d.dt.year().cast(pl.Int64), d.dt.month().cast(pl.Int64), d.dt.day().cast(pl.Int64)

    return age_in_years(ymd(birth), ymd(ref), lambda e: e.cast(pl.Int64))


def patient_dates(raw_patients: pl.LazyFrame) -> pl.DataFrame:
    """One row per (trimmed) patient_id of the raw patients table: birth and death dates.

    A repeated patient_id keeps its first row (the repeat is reported by the uniqueness check).
    """
    names = raw_patients.collect_schema().names()

    def col(name: str, dtype: pl.DataType) -> pl.Expr:
        return pl.col(name) if name in names else pl.lit(None, dtype)

    return (
        raw_patients.select(
            pl.col("patient_id").str.strip_chars().alias("__pid"),
            col("birth_date", pl.Date()).alias("__birth"),
            col("death_date", pl.Date()).alias("__death"),
            col("sex", pl.String())
            .cast(pl.String)
            .str.strip_chars()
            .str.to_uppercase()
            .alias("__sex"),
            pl.lit(True).alias("__known"),
        )
        .drop_nulls("__pid")
        .unique("__pid", keep="first", maintain_order=True)
        .collect()
    )


def duplicate_rows(raw: pl.LazyFrame, columns: list[str]) -> pl.DataFrame:
    """(``_row``, ``duplicate_of_row``) for each row equal on ``columns`` to an earlier row.

    Rows are hashed first; only rows whose hash repeats are compared exactly.
    """
    hashed = raw.select(ROW, pl.struct(columns).hash().alias("__h")).collect(engine="streaming")
    # repeated hashes by sorting (a hash table over every row would cost GBs)
    ordered = hashed.get_column("__h").sort()
    twice = ordered.filter(ordered == ordered.shift(1)).unique()
    del ordered
    repeated = hashed.filter(pl.col("__h").is_in(twice.implode())).get_column(ROW)
    del hashed
    empty = pl.DataFrame(schema={ROW: pl.Int64, "duplicate_of_row": pl.Int64})
    if repeated.is_empty():
        return empty
    cand = (
        raw.filter(pl.col(ROW).is_in(repeated.implode()))
        .select(pl.col(ROW).cast(pl.Int64), *columns)
        .collect(engine="streaming")
    )
    return (
        cand.with_columns(pl.col(ROW).min().over(columns).alias("duplicate_of_row"))
        .filter(pl.col(ROW) != pl.col("duplicate_of_row"))
        .select(ROW, "duplicate_of_row")
    )


def line_sequence(raw: pl.LazyFrame) -> pl.DataFrame:
    """(``_row``, ``line_gap``, ``line_overlap``) for the first row of each therapy line
    that skips a number or starts before the previous line ended (a previous line still
    open, end_date null, is not counted: null means ongoing, often just not recorded)."""
    lines = (
        raw.select(
            pl.col(ROW).cast(pl.Int64),
            pl.col("patient_id").str.strip_chars().alias("__pid"),
            "line_number",
            "start_date",
            "end_date",
        )
        .drop_nulls(["__pid", "line_number"])
        .group_by("__pid", "line_number")
        .agg(
            pl.col(ROW).min(),
            pl.col("start_date").min().alias("__start"),
            pl.col("end_date").max().alias("__end"),
        )
        .sort("__pid", "line_number")
        .with_columns(
            pl.col("line_number").shift(1).over("__pid").alias("__prev"),
            pl.col("__end").shift(1).over("__pid").alias("__prev_end"),
        )
        .collect()
    )
    return lines.select(
        ROW,
        pl.when(pl.col("line_number") - pl.col("__prev") > 1)
        .then(pl.col("__prev"))
        .cast(pl.Int64)
        .alias("line_gap"),
        pl.when(pl.col("__start") < pl.col("__prev_end"))
        .then(pl.col("__prev"))
        .cast(pl.Int64)
        .alias("line_overlap"),
    ).filter(pl.col("line_gap").is_not_null() | pl.col("line_overlap").is_not_null())


class TablePrep:
    """Whole-table preparation of one raw table; :meth:`chunk` yields row ranges with the
    derived columns in ``needed``."""

    def __init__(
        self,
        table: str,
        raw: pl.LazyFrame,
        patients: pl.DataFrame | None,
        needed: set[str],
        *,
        index_date: dt.date | None,
        today: dt.date,
    ) -> None:
        self.table = table
        self.needed = needed
        self.index_date = index_date
        self.today = today
        schema = raw.collect_schema()
        contract = [c for c in TABLES[table] if c in schema]
        self.date_cols = [
            c for c, t in TABLES[table].items() if isinstance(t, pl.Date) and c in schema
        ]
        keys = {k: src for k, (src, _) in KEYS.items() if k in needed and src in schema}
        if "value_canonical" in needed:
            keys.update({"test_key": "test", "unit_key": "unit"})
        if "sex_plausible" in needed:
            if table == "assessments" and "item" in schema:
                keys["item_key"] = "item"
            if table == "diagnoses" and "code" in schema:
                keys["code_key"] = "code"
        near = {k: src for k, (src, _) in NEAR_MISS.items() if k in needed and src in schema}
        self.keys = keys
        self.join_patients = (
            table != "patients"
            and patients is not None
            and (
                "patient_known" in needed
                or "sex_plausible" in needed
                or any(n.endswith(("_days_after_birth", "_days_before_death")) for n in needed)
            )
        )
        cols = {c for c in needed if c in schema} | set(keys.values()) | set(near.values())
        if "days_start_to_end" in needed:
            cols |= {"start_date", "end_date"}
        cols |= {c for c in self.date_cols if any(n.startswith(c + "_days_") for n in needed)}
        if table == "patients":
            cols |= {"birth_date", "death_date"} & set(schema)
        if "patient_id" in schema:
            cols.add("patient_id")  # examples name patients; joins need it
        self.raw = raw
        self.columns = sorted(cols)
        self.height = raw.select(pl.len()).collect(engine="streaming").item()
        self.dups = duplicate_rows(raw, contract) if "duplicate_of_row" in needed else None
        self.lines = (
            line_sequence(raw)
            if table == "therapies" and {"line_gap", "line_overlap"} & needed
            else None
        )
        self.patients = patients
        # distinct values of every vocabulary column, in one pass over the table
        sources = sorted(set(keys.values()) | set(near.values()))
        self.distinct: dict[str, list[str]] = {}
        if sources:
            distinct = raw.select(
                pl.col(c).cast(pl.String).unique().implode() for c in sources
            ).collect(engine="streaming")
            self.distinct = {
                c: [v for v in distinct.get_column(c)[0].to_list() if v is not None]
                for c in sources
            }
        self.key_dtypes: dict[str, pl.DataType] = {}
        self.key_exprs = {k: self._key_expr(k, src) for k, src in keys.items()}
        for k, src in near.items():
            found = {
                v: m
                for v, m in near_miss_map(self.distinct[src], NEAR_MISS[k][1]).items()
                if m is not None
            }
            self.key_exprs[k] = (
                pl.col(src)
                .cast(pl.String)
                .replace_strict(found, default=None, return_dtype=pl.String)
                .alias(k)
                if found
                else pl.lit(None, pl.String).alias(k)
            )

    def _key_expr(self, key: str, source: str) -> pl.Expr:
        """Map each distinct raw value once (trim/case as the loader), blank -> null."""
        fn = KEYS[key][1]
        values = self.distinct[source]
        mapping = {v: (fn(v) or None) for v in values}
        if key in STRING_KEYS:
            dtype: pl.DataType = pl.String()
        else:
            dtype = pl.Enum(sorted({m for m in mapping.values() if m is not None}))
        self.key_dtypes[key] = dtype
        if not mapping:
            return pl.lit(None, dtype).alias(key)
        return (
            pl.col(source)
            .cast(pl.String)
            .replace_strict(mapping, default=None, return_dtype=dtype)
            .alias(key)
        )

    def _categories(self, key: str) -> list[str]:
        dtype = self.key_dtypes.get(key)
        return list(dtype.categories) if isinstance(dtype, pl.Enum) else []

    def chunk(self, offset: int, length: int) -> pl.DataFrame:
        """Rows ``offset .. offset + length`` with ``_row`` and every needed column."""
        needed = self.needed
        frame = (
            self.raw.slice(offset, length)
            .select(pl.col(ROW).cast(pl.Int64), *self.columns)
            .collect(engine="streaming")
        )
        lf = frame.lazy().with_columns(self.key_exprs.values())
        if self.join_patients and self.patients is not None:
            pid = pl.col("patient_id")
            padded = frame.select((pid.str.starts_with(" ") | pid.str.ends_with(" ")).any()).item()
            pid = pid.str.strip_chars() if padded else pid
            lf = lf.with_columns(pid.alias("__pid")).join(
                self.patients.lazy(), on="__pid", how="left", maintain_order="left"
            )
        elif self.table == "patients":
            lf = lf.with_columns(
                pl.col("birth_date").alias("__birth"), pl.col("death_date").alias("__death")
            )
        derived: list[pl.Expr] = []
        if "patient_known" in needed and self.join_patients:
            derived.append(
                pl.when(pl.col("__pid").is_not_null())
                .then(pl.col("__known").fill_null(False))
                .alias("patient_known")
            )
        today = pl.lit(self.today, pl.Date)
        for c in self.date_cols:
            if f"{c}_days_after_birth" in needed:
                derived.append(_days(pl.col("__birth"), pl.col(c)).alias(f"{c}_days_after_birth"))
            if f"{c}_days_before_death" in needed:
                derived.append(_days(pl.col(c), pl.col("__death")).alias(f"{c}_days_before_death"))
            if f"{c}_days_before_today" in needed:
                derived.append(_days(pl.col(c), today).alias(f"{c}_days_before_today"))
        if "sex_plausible" in needed and self.join_patients:
            female = None
            if self.table == "assessments":
                female = pl.col("item_key").cast(pl.String).is_in(FEMALE_ITEMS)
            elif self.table == "diagnoses":
                female = pl.any_horizontal(
                    pl.col("code_key").str.starts_with(p) for p in FEMALE_CODES
                ) & ~pl.col("code_key").str.starts_with("OMOP")  # OMOP:<id>, concept sets
            if female is not None:
                derived.append(
                    pl.when(female & pl.col("__sex").is_not_null())
                    .then(pl.col("__sex") != "M")
                    .alias("sex_plausible")
                )
        if "days_start_to_end" in needed:
            derived.append(
                _days(pl.col("start_date"), pl.col("end_date")).alias("days_start_to_end")
            )
        if "age_years" in needed:
            ref = (
                pl.lit(self.index_date, pl.Date)
                if self.index_date is not None
                else pl.coalesce(pl.col("__death"), today)
            )
            derived.append(whole_years(pl.col("__birth"), ref).alias("age_years"))
        if "value_canonical" in needed:
            factor = _factor(self._categories("test_key"), self._categories("unit_key"))
            derived.append((pl.col("value") * factor).alias("value_canonical"))
        lf = lf.with_columns(derived)
        if self.dups is not None:
            lf = lf.join(self.dups.lazy(), on=ROW, how="left", maintain_order="left")
        if self.lines is not None:
            lf = lf.join(self.lines.lazy(), on=ROW, how="left", maintain_order="left")
        keep = [ROW, *sorted(c for c in needed if c != ROW)]
        return lf.select([c for c in keep if c in lf.collect_schema()]).collect()


def _factor(test_cats: list[str], unit_cats: list[str]) -> pl.Expr:
    """Factor to the canonical unit from the ``test_key`` and ``unit_key`` Enums (null when
    the pair is not in the contract's unit table), looked up by category position."""
    if not test_cats or not unit_cats:
        return pl.lit(None, pl.Float64)
    lut = pl.Series(
        [TESTS[t].factors.get(u) if t in TESTS else None for t in test_cats for u in unit_cats],
        dtype=pl.Float64,
    )
    index = pl.col("test_key").to_physical().cast(pl.UInt32) * len(unit_cats) + pl.col(
        "unit_key"
    ).to_physical().cast(pl.UInt32)
    return pl.lit(lut).gather(index)


def inventory(present: frozenset[str] | set[str]) -> pl.DataFrame:
    """One row per contract table: its name and whether the registry had a file for it."""
    return pl.DataFrame(
        {"table": list(TABLES), "present": [t in present for t in TABLES]},
        schema={"table": pl.String, "present": pl.Boolean},
    )
