"""Small vectorised drawing helpers shared by the table builders."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl


def pick(rng: np.random.Generator, weights: Sequence[float] | np.ndarray, n: int) -> np.ndarray:
    """``n`` category indices drawn with the given (unnormalised) weights."""
    cum = np.cumsum(np.asarray(weights, dtype=float))
    cum /= cum[-1]
    return np.minimum(np.searchsorted(cum, rng.random(n), side="right"), len(cum) - 1).astype(
        np.int32
    )


def between(rng: np.random.Generator, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A uniform whole day in [a, b] per row (b < a gives a)."""
    a = np.asarray(a, dtype=np.int64)
    span = np.maximum(np.asarray(b, dtype=np.int64) - a, 0)
    return (a + np.floor(rng.random(len(a)) * (span + 1))).astype(np.int64)


def strings(names: Sequence[str | None], idx: np.ndarray) -> pl.Series:
    """A String series holding ``names[idx]`` (None gives null), built without Python loops."""
    return pl.Series(list(names), dtype=pl.String).gather(pl.Series(np.asarray(idx, np.uint32)))


def lower_some(rng: np.random.Generator, s: pl.Series, share: np.ndarray | float) -> pl.Series:
    """Lower-case a random share of a string series (per-row share allowed)."""
    mask = rng.random(len(s)) < share
    return (
        pl.select(pl.when(pl.Series(mask)).then(s.str.to_lowercase()).otherwise(s))
        .to_series()
        .alias(s.name)
    )


def repeat(value: str, n: int) -> pl.Series:
    """A String series of ``n`` copies of ``value``."""
    return pl.Series([value], dtype=pl.String).gather(pl.Series(np.zeros(n, dtype=np.uint32)))
