"""Diagnosis rows collected as small integers and made unique without hashing strings.

Diagnosis codes come from many sources (the myeloma course, encounters, conditions,
infections) and can repeat on the same day. Rows are kept as (patient, day, code id)
and packed into one int64 key, so one sort orders them by patient, day and code and
exact duplicates become neighbours to drop; code strings are gathered only at the end.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl


class CodeRows:
    """Accumulates diagnosis rows; ``frame()`` returns them unique and sorted."""

    def __init__(self) -> None:
        self._vocab: dict[str, int] = {}
        self._keys: list[np.ndarray] = []

    def add(self, p: np.ndarray, names: Sequence[str], idx: np.ndarray, dates: np.ndarray) -> None:
        """Rows for patients ``p`` with code ``names[idx]`` on ``dates`` (true day numbers)."""
        ids = np.array([self._vocab.setdefault(n, len(self._vocab)) for n in names], np.int64)
        gid = ids[np.asarray(idx, dtype=np.int64)] if len(ids) else np.zeros(0, np.int64)
        key = (np.asarray(p, np.int64) << 36) | (np.asarray(dates, np.int64) << 16) | gid
        self._keys.append(key)

    def frame(self) -> pl.DataFrame:
        """Columns ``p`` (int32), ``code`` (str), ``diagnosed_on`` (int32), deduplicated."""
        key = np.sort(np.concatenate(self._keys)) if self._keys else np.zeros(0, np.int64)
        # Sort, then drop repeats of the previous key (np.unique hashes: much slower here).
        key = key[np.concatenate(([True], key[1:] != key[:-1]))] if len(key) else key
        vocab = pl.Series(list(self._vocab), dtype=pl.String)
        return pl.DataFrame(
            {
                "p": (key >> 36).astype(np.int32),
                "code": vocab.gather(pl.Series((key & 0xFFFF).astype(np.uint32))),
                "diagnosed_on": ((key >> 16) & 0xFFFFF).astype(np.int32),
            }
        )
