"""Nothing lost: every row a table file holds is either used or set aside for one reason.

The loader reads ``rows_read`` rows of a table; ``rows_used`` reach the normalised table
and each other row is counted under the first reason that removed it (a blank
patient_id, a normaliser's reason such as ``implausible_value (value)``, then
``duplicate_row``), so ``rows_read == rows_used + sum(reasons)`` always holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

#: Columns of :meth:`Registry.row_accounting`.
ROW_ACCOUNTING_SCHEMA = {
    "table": pl.String,
    "present": pl.Boolean,
    "rows_read": pl.Int64,
    "rows_used": pl.Int64,
    "rows_set_aside": pl.Int64,
    "by_reason": pl.String,
}


@dataclass(frozen=True)
class RowCount:
    """Rows read and used of one table, and the rows set aside by reason."""

    read: int
    used: int
    reasons: dict[str, int] = field(default_factory=dict)

    @classmethod
    def attribute(
        cls, read: int, keep: pl.Series, reasons: list[tuple[str, pl.Series]]
    ) -> RowCount:
        """Count each row not in ``keep`` under the first of ``reasons`` whose mask holds.

        A row left out for no listed reason would break the balance: it is counted as
        ``other`` (the tests hold that count to zero)."""
        remaining = ~keep
        counts: dict[str, int] = {}
        for reason, mask in reasons:
            hit = remaining & mask
            n = int(hit.sum())
            if n:
                counts[reason] = counts.get(reason, 0) + n
                remaining = remaining & ~mask
        rest = int(remaining.sum())
        if rest:
            counts["other"] = rest
        return cls(read=read, used=int(keep.sum()), reasons=counts)
