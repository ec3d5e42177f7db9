"""Exact duplicate rows: keep the first occurrence, found without a full-table hash join.

A group-by or a struct comparison over tens of millions of rows costs seconds, so
each row gets a cheap combined hash (one hash per column, xor-ed with distinct
seeds), the hashes are sorted, and only rows whose hash repeats (true duplicates
plus the rare collision) go through the exact comparison.
"""

from __future__ import annotations

from functools import reduce

import polars as pl

#: Below this many rows the exact struct comparison is cheap enough on its own.
_SMALL = 200_000


def first_occurrence(df: pl.DataFrame, columns: list[str]) -> pl.Series:
    """Boolean mask: True for each row that is not an exact repeat of an earlier row."""
    if df.height <= _SMALL:
        return df.select(pl.struct(columns).is_first_distinct()).to_series()
    # folded one column at a time: a single expression would hold every column's hashes
    # (8 bytes a row each) at once, the loader's memory peak
    hashes = reduce(
        lambda acc, s: acc ^ s,
        (df.get_column(c).hash(seed=i + 1) for i, c in enumerate(columns)),
    )
    ordered = hashes.sort(multithreaded=False)  # as fast on two cores, half the CPU
    repeated = ordered.filter(ordered == ordered.shift(1)).unique()
    del ordered  # one 8-byte-per-row array less while the mask is built
    keep = pl.repeat(True, df.height, dtype=pl.Boolean, eager=True)
    if repeated.is_empty():
        return keep
    candidate = hashes.is_in(repeated.implode())
    index = pl.int_range(pl.len(), dtype=pl.UInt32).alias("__i")
    sub = df.select(index, *columns).filter(candidate)
    drop = sub.filter(~pl.struct(columns).is_first_distinct()).get_column("__i")
    return keep.scatter(drop, False) if drop.len() else keep
