"""The formulas of the rule model, defined once for every engine: age in whole years and
the Cockcroft-Gault creatinine clearance.

Each is written over plain arithmetic and comparison, so the same definition applies to
Python numbers (the reference engine, the model), polars expressions (the polars engine,
data quality, summaries) and Spark columns (the Spark engine); an engine passes the parts
of its dates and how it turns a Boolean into 0/1 or a whole number into a float.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def age_in_years(
    birth: tuple[Any, Any, Any], on: tuple[Any, Any, Any], as_int: Callable[[Any], Any] = int
) -> Any:
    """Whole years from a birth date to a date, each given as (year, month, day) (contract
    2: "age is whole years between birth_date and index"): the birthday itself counts,
    29 February is reached on 1 March in a common year. ``as_int`` turns the "birthday not
    reached yet" Boolean into 0/1 (``int``; polars ``e.cast(pl.Int32)``; Spark
    ``c.cast("int")``); month and day must hold 1231 (polars: not Int8). A birth after the
    date is no age at all (contract 5.2): each engine makes that null."""
    (birth_year, birth_month, birth_day), (year, month, day) = birth, on
    before_birthday = month * 100 + day < birth_month * 100 + birth_day
    return year - birth_year - as_int(before_birthday)


#: Cockcroft-Gault: clearance (mL/min) = (140 - age) x weight kg / (72 x creatinine mg/dL),
#: x 0.85 for women.
CG_AGE_FROM = 140
CG_DIVISOR = 72.0
CG_SEX_FACTOR: dict[str, float] = {"F": 0.85, "M": 1.0}


def creatinine_clearance(
    age: Any,
    weight_kg: Any,
    creatinine_mg_dl: Any,
    factor: Any,
    as_float: Callable[[Any], Any] = float,
) -> Any:
    """The Cockcroft-Gault clearance in mL/min; ``factor`` is ``CG_SEX_FACTOR[sex]``,
    ``as_float`` turns the whole number ``140 - age`` into a float (polars
    ``e.cast(pl.Float64)``, Spark ``c.cast("double")``)."""
    return as_float(CG_AGE_FROM - age) * weight_kg / (CG_DIVISOR * creatinine_mg_dl) * factor


__all__ = [
    "CG_AGE_FROM",
    "CG_DIVISOR",
    "CG_SEX_FACTOR",
    "age_in_years",
    "creatinine_clearance",
]
