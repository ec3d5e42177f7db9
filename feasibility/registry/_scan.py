"""Lazy normalised scans of typed table files, for consumers that read only some columns.

The eager loader (``_loader``/``_normalise``) types, normalises, counts set-aside values
and drops exact duplicates for the whole table at once. A screen needs none of the
bookkeeping: exact duplicates change no "latest record" and no "any record", and
set-aside rows only have to be left out. So a table whose file already carries the
contract's types (a typed Parquet file, nothing to parse, hence no structural error to
find) can be scanned lazily: the same per-value normalisation (the Series functions of
``_normalise``, run batch by batch), the same rows left out, only the columns asked for
decoded, and no duplicate detection. A test holds these scans to the eager tables
(duplicates apart) on clean and untidy registries.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from feasibility.schema import TABLES

from ._normalise import (
    ASSESSMENT_VALUE_ENUM,
    CATEGORY_ENUM,
    CODE,
    DRUG,
    ITEM_ENUM,
    ROUTE,
    SEX_ENUM,
    SPELLINGS,
    TEST_ENUM,
    UNIT_ENUM,
    VIEWS,
    assessment_valid_expr,
    diameter_expr,
    ids_expr,
    measurement_usable,
    stored_measurement_columns,
    systemic_expr,
    vocabulary,
)
from ._read import ROW, SourceTable, _columns

#: The vocabulary Series functions, built once (the Enum and spelling map of SPELLINGS).
_VOCABULARY = {column: vocabulary(*spec) for column, spec in SPELLINGS.items()}


def deferrable(src: SourceTable) -> bool:
    """True if every contract column of the file already has its contract type (or is
    absent/all-null): typing then parses nothing, so it cannot fail on a value."""
    for column, target in TABLES[src.table].items():
        source = src.schema.get(column)
        if source is not None and source != pl.Null and source != target:
            return False
    return True


def _vocab(column: str, enum: pl.Enum) -> pl.Expr:
    return pl.col(column).map_batches(_VOCABULARY[column], return_dtype=enum, is_elementwise=True)


def _mapped(column: str, fn: Callable[[pl.Series], pl.Series]) -> pl.Expr:
    return pl.col(column).map_batches(fn, return_dtype=pl.String, is_elementwise=True)


def _patients(lf: pl.LazyFrame) -> pl.LazyFrame:
    return lf.with_columns(ids_expr(), _vocab("sex", SEX_ENUM).cast(pl.String))


def _diagnoses(lf: pl.LazyFrame) -> pl.LazyFrame:
    return lf.with_columns(
        ids_expr(), _mapped("code", CODE).alias("code"), pl.col("code").alias("source_code")
    )


def _measurements(lf: pl.LazyFrame) -> pl.LazyFrame:
    lf = lf.with_columns(_vocab("test", TEST_ENUM), _vocab("unit", UNIT_ENUM))
    stored = lf.filter(measurement_usable()).select(stored_measurement_columns())
    return VIEWS["measurements"](stored)


def _assessments(lf: pl.LazyFrame) -> pl.LazyFrame:
    lf = lf.with_columns(
        ids_expr(), _vocab("item", ITEM_ENUM), _vocab("value", ASSESSMENT_VALUE_ENUM)
    )
    return lf.filter(assessment_valid_expr().fill_null(False))


def _medications(lf: pl.LazyFrame) -> pl.LazyFrame:
    lf = lf.with_columns(
        ids_expr(),
        _mapped("drug", DRUG).alias("drug"),
        pl.col("drug").alias("source_drug"),
        _mapped("route", ROUTE).alias("route"),
    )
    return lf.with_columns(systemic_expr().alias("systemic"))


def _procedures(lf: pl.LazyFrame) -> pl.LazyFrame:
    category = _vocab("category", CATEGORY_ENUM)
    return (
        lf.with_columns(ids_expr(), category)
        .filter(pl.col("category").is_not_null())
        .with_columns(pl.col("category").cast(pl.String))
    )


def _ids_only(lf: pl.LazyFrame) -> pl.LazyFrame:
    return lf.with_columns(ids_expr())


def _lesions(lf: pl.LazyFrame) -> pl.LazyFrame:
    return lf.with_columns(ids_expr(), diameter_expr())


_SCANS: dict[str, Callable[[pl.LazyFrame], pl.LazyFrame]] = {
    "patients": _patients,
    "diagnoses": _diagnoses,
    "measurements": _measurements,
    "assessments": _assessments,
    "medications": _medications,
    "procedures": _procedures,
    "lesions": _lesions,
    "therapies": _ids_only,
}


def scan_normalised(src: SourceTable, where: pl.Expr | None = None) -> pl.LazyFrame:
    """The normalised table of ``src`` as a lazy query over its file: the eager loader's
    columns, types and kept rows, in file order, except that exact duplicates stay.

    ``where``: a predicate over columns the normalisation leaves as they are (dates, say)
    that selects rows before anything is normalised. It is handed to the file reader, so
    rows it rejects are never decoded beyond the predicate's columns (a screen at one
    index date reads a few percent of the measurements). The row numbers (``_row``) then
    stay null: counting them would keep the predicate out of the reader, and a filtered
    scan serves consumers that report no rows.

    Only for files where :func:`deferrable` holds (the typing step is then a no-op).
    """
    columns = [expr for _, expr, _ in _columns(src)]
    if where is None:
        typed = src.frame.with_row_index(ROW, offset=1).select(ROW, *columns)
    else:
        typed = src.frame.select(*columns).filter(where)
        typed = typed.select(pl.lit(None, pl.UInt32).alias(ROW), pl.all())
    # a blank patient_id is never a patient (contract 5.1): left out as by the loader
    return _SCANS[src.table](typed).filter(pl.col("patient_id").is_not_null())


__all__ = ["deferrable", "scan_normalised"]
