"""Dates as whole days since 1970-01-01 (int32 numpy arrays), and the study calendar."""

from __future__ import annotations

import numpy as np
import polars as pl

_EPOCH = np.datetime64("1970-01-01", "D")

#: Marks "no date" (alive, ongoing) in the int day arrays; never written as a date.
NO_DATE = np.int32(2**31 - 1)


def day(iso: str) -> int:
    """Days since 1970-01-01 for an ISO date string."""
    return int((np.datetime64(iso, "D") - _EPOCH).astype(np.int64))


#: First and last (true, unshifted) diagnosis date drawn.
DX_FIRST = day("2010-04-01")
DX_LAST = day("2025-09-30")
#: Data extraction date (true calendar): nothing happens after it.
CUTOFF = day("2025-09-30")
#: Per-patient date shift applied to every date of a patient, uniform in this range (days).
SHIFT_RANGE = (-90, 90)
#: Earliest birth date drawn, so nobody is older than ~106 at the cutoff.
BIRTH_FIRST = day("1920-01-01")

YEAR = 365.25


def date_series(days: np.ndarray) -> pl.Series:
    """Day numbers (since 1970-01-01) as a polars Date series, :data:`NO_DATE` as null."""
    s = pl.Series(days.astype(np.int64))
    return (
        pl.select(pl.when(s == int(NO_DATE)).then(None).otherwise(s))
        .to_series()
        .cast(pl.Int32)
        .cast(pl.Date)
    )
