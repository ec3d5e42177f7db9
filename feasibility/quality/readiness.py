"""Criterion readiness: for each criterion, how much of the registry it can actually see,
and what data-quality findings sit on the fields it reads.

``data_available_pct`` is the share of patients whose status on the criterion is not
``unknown`` in the screen result. When a table the criterion reads is absent, the facts
are unknown for everyone even if the contract's absent-fact rule turned them into
``pass``/``fail`` (a missing diagnoses table makes every exclusion "pass"), so the share
is 0. Findings are the validation checks with failing rows (``failed`` or
``passed_with_failures``) whose ``criteria`` list the criterion.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from feasibility.quality.result import FINDING, STATUS_RANK, ValidationResult

SCHEMA = {
    "criterion": pl.String,
    "label": pl.String,
    "data_available_pct": pl.Float64,
    "tables_absent": pl.String,
    "n_findings_error": pl.Int64,
    "n_findings_warning": pl.Int64,
    "n_findings_info": pl.Int64,
    "worst_status": pl.String,
    "fields": pl.String,
}


def _reads(criterion: Any) -> list[tuple[str, str, str | None]]:
    try:
        return list(criterion.reads)
    except AttributeError:  # pragma: no cover - protocols always expose reads
        return []


def _field_text(reads: list[tuple[str, str, str | None]]) -> str:
    out = []
    for table, column, selector in reads:
        text = f"{table}.{column}" + (f"[{selector}]" if selector else "")
        if text not in out:
            out.append(text)
    return "; ".join(out)


def _fields_from_checks(checks: pl.DataFrame) -> str | None:
    """Fields named by the checks listing a criterion (for combinations that read through
    other criteria, e.g. measurable_disease)."""
    rows = checks.filter(pl.col("source") == "gx", pl.col("column").is_not_null())
    out: list[str] = []
    for table, column, condition in rows.select("table", "column", "condition").iter_rows():
        selector = condition.split("==", 1)[1].strip().strip("'") if condition else None
        text = f"{table}.{column}" + (f"[{selector}]" if selector else "")
        if text not in out:
            out.append(text)
    return "; ".join(out) or None


def criterion_readiness(
    protocol: Any, validation: ValidationResult, screen_result: Any
) -> pl.DataFrame:
    """One row per computable criterion of ``protocol`` (protocol order).

    Columns: criterion, label, data_available_pct (0-100), tables_absent,
    n_findings_error, n_findings_warning, n_findings_info, worst_status (the worst status
    among the checks listing the criterion), fields (what the criterion reads).
    """
    status = screen_result.patient_status
    n = status.height
    summary = validation.summary.with_columns(pl.col("criteria").str.split(";").alias("__crit"))
    present = validation.present
    rows = []
    for crit in protocol.criteria:
        reads = _reads(crit)
        tables = sorted({t for t, _, _ in reads} | set(getattr(crit, "tables", set()) or set()))
        absent = [t for t in tables if present and t not in present]
        if absent:
            pct = 0.0
        elif crit.id in status.columns and n:
            known = status.select((pl.col(crit.id) != "unknown").sum()).item()
            pct = 100.0 * known / n
        else:
            pct = None
        mine = summary.filter(pl.col("__crit").list.contains(crit.id))
        findings = mine.filter(pl.col("status").is_in(FINDING))
        count = {
            sev: findings.filter(pl.col("severity") == sev).height
            for sev in ("error", "warning", "info")
        }
        statuses = mine.get_column("status").to_list()
        worst = max(statuses, key=lambda s: STATUS_RANK.get(s, -1)) if statuses else None
        rows.append(
            {
                "criterion": crit.id,
                "label": getattr(crit, "label", crit.id),
                "data_available_pct": pct,
                "tables_absent": ";".join(absent) or None,
                "n_findings_error": count["error"],
                "n_findings_warning": count["warning"],
                "n_findings_info": count["info"],
                "worst_status": worst,
                "fields": _field_text(reads) or _fields_from_checks(mine),
            }
        )
    return pl.DataFrame(rows, schema=SCHEMA, orient="row")
