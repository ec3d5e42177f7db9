"""Summary rows the loader contributes to validation (issue 10): nothing lost, nothing
silently absent.

* one ``row_accounting`` row per present table: rows read = rows used + rows set aside,
  with the reasons (``Registry.row_accounting``), so validation_summary.csv shows where
  every row went;
* a column of the contract missing from a present table's file (e.g.
  ``patients.death_date``): every check on it is ``failed`` (its values are not "all
  null", they are unknown) and one ``column_present`` row says so.
"""

from __future__ import annotations

from typing import Any

from feasibility.quality.links import field_text

#: Optional columns criteria read (absent: those criteria are unknown): an ``error``; other
#: absent optional columns (race, ethnicity, site) are a ``warning``.
READ_BY_CRITERIA = frozenset(
    {
        ("patients", "death_date"),
        ("medications", "end_date"),
        ("medications", "route"),
        ("therapies", "end_date"),
    }
)
ABSENT_NOTE = "column absent from the table file: its facts are unknown for everyone"


#: ``source`` of these rows (the loader's set-aside rows keep ``loader``).
SOURCE = {"row_accounting": "loader_accounting", "column_present": "loader_columns"}


def _base(table: str, column: str | None, check: str, expectation: str) -> dict[str, Any]:
    return {
        "check": check,
        "table": table,
        "column": column,
        "condition": None,
        "expectation": expectation,
        "category": "completeness",
        "severity": "info",
        "status": "passed",
        "element_count": None,
        "unexpected_count": None,
        "unexpected_percent": None,
        "tolerance_pct": 0.0,
        "patients_affected": None,
        "title": (
            f"{table}: rows read, used and set aside"
            if column is None
            else f"{table}.{column}: column absent from the file"
        ),
        # the criteria are linked at run time from the protocol's rules (quality/links.py)
        "affects": field_text([(table, column or "*", None)]),
        "criteria": None,
        "examples": None,
        "rationale": None,
        "tolerance_source": "team decision: every row read is accounted for, every column present",
        "severity_source": "team decision (issue 10): a missing column makes its facts unknown",
        "source": SOURCE[expectation],
        "note": None,
    }


def accounting_rows(registry: Any) -> list[dict[str, Any]]:
    """One summary row per present table: rows read, used and set aside (by reason)."""
    accounting = getattr(registry, "row_accounting", None)
    if accounting is None:
        return []
    out = []
    for rec in accounting().iter_rows(named=True):
        if not rec["present"]:
            continue
        table, read, aside = rec["table"], rec["rows_read"], rec["rows_set_aside"]
        row = _base(table, None, f"{table}.row_accounting", "row_accounting")
        row.update(
            status="passed" if aside == 0 else "passed_with_failures",
            element_count=read,
            unexpected_count=aside,
            unexpected_percent=(100.0 * aside / read) if read else None,
            examples=(
                f"read {read} = used {rec['rows_used']} + set aside {aside}"
                + (f" ({rec['by_reason']})" if rec["by_reason"] else "")
            ),
            rationale="every row read is either used by the screen or set aside for a reason",
            note=rec["by_reason"] or None,
        )
        out.append(row)
    return out


def absent_column_rows(registry: Any, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mark checks on columns missing from a present table's file ``failed`` (in place)
    and add one ``column_present`` row per such column."""
    missing = getattr(registry, "missing_columns", {}) or {}
    if not missing:
        return []
    for row in rows:
        if row.get("column") in missing.get(row.get("table"), ()):
            row["status"] = "failed"
            row["note"] = ABSENT_NOTE
    out = []
    for table, columns in sorted(missing.items()):
        for column in sorted(columns):
            row = _base(table, column, f"{table}.{column}.present", "column_present")
            row.update(
                severity="error" if (table, column) in READ_BY_CRITERIA else "warning",
                status="failed",
                rationale="a missing column is unknown for everyone, never an empty value",
                note=ABSENT_NOTE,
                examples=f"{table} has no {column} column",
            )
            out.append(row)
    return out
