"""Event mode's (patient_id, index_date) pairs on Spark: ``--index-where`` as a Spark
column (checked by the polars engine's parser first, so errors read the same) and the
distinct pairs of the registry's patients. Imports no other module of
``feasibility.spark``: the reader, the engine and the aggregates all use it."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import polars as pl

from feasibility.engine.index import _COND_RE, IndexEvents, parse_where
from feasibility.engine.seam import IDX, PID
from feasibility.errors import FeasibilityError
from feasibility.protocol.compare import compare
from feasibility.schema import TABLES


def where_column(text: str, table: str) -> Any:
    """``--index-where`` (``column OP literal`` joined by ``and``) as a Spark column. The
    text is first checked by :func:`feasibility.engine.index.parse_where`, so errors read
    the same as with polars."""
    from pyspark.sql import functions as F

    parse_where(text, table)  # raises the one-line FeasibilityError on bad input
    out = None
    for part in re.split(r"\s+and\s+", text.strip(), flags=re.IGNORECASE):
        m = _COND_RE.match(part)
        assert m is not None  # parse_where accepted it
        col, op, lit = m.groups()
        dtype = TABLES[table][col]
        lit = lit.strip().strip("'\"")
        value: Any
        if dtype == pl.Boolean:
            value = lit.lower() == "true"
        elif dtype == pl.Int64:
            value = int(lit)
        elif dtype == pl.Float64:
            value = float(lit)
        elif dtype == pl.Date:
            value = dt.date.fromisoformat(lit)
        else:
            value = lit
        cond = compare(F.col(col), "==" if op == "=" else op, value)
        out = cond if out is None else out & cond
    return out


def index_pairs(events: IndexEvents, tables: Any) -> Any:
    """(patient_id, index_date) pairs of event mode, distinct, patients of the registry only."""
    from pyspark.sql import functions as F

    patients = tables.frames["patients"].select(PID)
    if events.table not in tables.frames:
        return patients.limit(0).withColumn(IDX, F.lit(None).cast("date"))
    frame = tables.frames[events.table]
    col = events.column
    if events.where is not None:
        if not isinstance(events.where, str):
            raise FeasibilityError(
                "engine spark: an index filter must be given as text (e.g. 'line_number >= 2'), "
                "not as a polars expression"
            )
        missing = [c for c in TABLES[events.table] if c in events.where and c not in frame.columns]
        cond = where_column(events.where, events.table)
        if missing:
            raise FeasibilityError(
                f"engine spark: --index-where on {events.table}.{missing[0]} is not supported"
            )
        frame = frame.filter(cond)
    keep = F.col(col).isNotNull()
    if events.start is not None:
        keep = keep & (F.col(col) >= F.lit(events.start))
    if events.end is not None:
        keep = keep & (F.col(col) <= F.lit(events.end))
    pairs = frame.filter(keep).select(PID, F.col(col).alias(IDX)).distinct()
    return pairs.join(patients, on=PID, how="left_semi")
