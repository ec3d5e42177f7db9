"""CSV files safe to open in a spreadsheet (OWASP CSV injection).

A text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read
as a formula by Excel, LibreOffice and Google Sheets. Such cells are neutralised by a
leading single quote, as OWASP recommends; numbers and dates are untouched (a negative
number is a number column, not text).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

#: First characters that make a spreadsheet read a cell as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PATTERN = r"^[=+\-@\t\r]"


def neutralise(df: pl.DataFrame) -> pl.DataFrame:
    """``df`` with every text cell that starts like a formula prefixed with ``'``."""
    text = [c for c, t in df.schema.items() if t in (pl.String, pl.Categorical, pl.Enum)]
    if not text:
        return df
    return df.with_columns(
        pl.when(pl.col(c).cast(pl.String).str.contains(_PATTERN))
        .then(pl.lit("'") + pl.col(c).cast(pl.String))
        .otherwise(pl.col(c).cast(pl.String))
        .alias(c)
        for c in text
    )


def write_csv(df: pl.DataFrame, path: str | Path) -> Path:
    """Write ``df`` as CSV with formula-like text cells neutralised."""
    path = Path(path)
    neutralise(df).write_csv(path)
    return path
