"""What the loader did with the registry, for the report's data section (issue 10):
a banner for columns missing from present tables, and where every row went.

Counts pass through the disclosure threshold. # disclosure: when a table's set-aside
total or any of its reasons is a small count, the rows used, set aside and every
reason count of that table are hidden together, so none can be worked out by
subtracting the others from the rows read.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from feasibility.report import html as H


def missing_columns_banner(missing: dict[str, frozenset[str]]) -> str:
    """A warning naming each column absent from a present table's file, or ''."""
    if not missing:
        return ""
    names = ", ".join(
        f"<code>{H.esc(t)}.{H.esc(c)}</code>" for t in sorted(missing) for c in sorted(missing[t])
    )
    return (
        f'<div class="warnbox" id="missing-columns">Columns missing from the files supplied: '
        f"{names}. Their facts are unknown for every patient: criteria that need them are "
        "unknown (never read as empty, e.g. a missing death_date never makes anyone alive), "
        "and their data-quality checks are failed.</div>"
    )


def _small(value: int, pol: Any) -> bool:
    return bool(getattr(pol, "enabled", True)) and 1 <= value <= int(pol.threshold)


def disclose_row_accounting(
    accounting: pl.DataFrame | None, pol: Any
) -> list[dict[str, Any]] | None:
    """Per present table, the shown rows read = rows used + rows set aside, with the
    reasons (None when there is nothing to show).

    Under the policy's ``round`` method every count is shown rounded (1..threshold
    hidden), so no sum of them is exact; otherwise a table's counts are hidden together
    when any of them is small."""
    if accounting is None or accounting.is_empty():
        return None
    rounding = getattr(pol, "method", None) == "round"
    rows = []
    for rec in accounting.filter(pl.col("present")).iter_rows(named=True):
        reasons = [r.rsplit(" ", 1) for r in rec["by_reason"].split("; ") if r]
        if rounding:  # disclosure: each count rounded through the report's policy
            rows.append(
                {
                    "table": rec["table"],
                    "read": pol.show(rec["rows_read"]),
                    "used": pol.show(rec["rows_used"]),
                    "aside": pol.show(rec["rows_set_aside"]),
                    "why": "; ".join(f"{name}: {pol.text(pol.show(int(n)))}" for name, n in reasons)
                    or "none",
                }
            )
            continue
        counts = [int(n) for _, n in reasons]
        hide = any(_small(n, pol) for n in [rec["rows_set_aside"], *counts])
        read_hidden = _small(rec["rows_read"], pol)
        rows.append(
            {
                "table": rec["table"],
                "read": None if read_hidden else rec["rows_read"],
                "used": None if hide or read_hidden else rec["rows_used"],
                "aside": None if hide or read_hidden else rec["rows_set_aside"],
                "why": "; ".join(
                    name if hide or read_hidden else f"{name}: {int(n):,}" for name, n in reasons
                )
                or "none",
            }
        )
    return rows


def row_accounting_table(rows: list[dict[str, Any]] | None, hidden_label: str = "hidden") -> str:
    """The shown row accounting (:func:`disclose_row_accounting`) as an HTML table, or ''."""
    if rows is None:
        return ""
    return "<h3>Rows read, used and set aside</h3>" + H.table(
        rows,
        [
            ("table", "Table", "text"),
            ("read", "Rows read", "num"),
            ("used", "Rows used", "num"),
            ("aside", "Rows set aside", "num"),
            ("why", "Set aside because", "text"),
        ],
        hidden_label=hidden_label,
    )
