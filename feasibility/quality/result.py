"""The outcome of validating a registry: one summary row per check, plus failing row ids.

Statuses: ``passed`` (no failing row), ``passed_with_failures`` (failing rows, but fewer
than the check's ``mostly`` threshold allows), ``failed``, ``not_applicable`` (the table,
the column or the index date the check needs is absent), ``not_evaluated`` (GX raised an
exception; the message is in ``note``). Rows set aside by the loader appear with
``source = loader`` and status ``failed``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import polars as pl

STATUSES = ("passed", "passed_with_failures", "failed", "not_applicable", "not_evaluated")
FINDING = ("failed", "passed_with_failures")
SEVERITY_RANK = {"error": 3, "warning": 2, "info": 1}
#: Worst first, for "worst status" roll-ups.
STATUS_RANK = {
    "failed": 4,
    "not_evaluated": 3,
    "passed_with_failures": 2,
    "passed": 1,
    "not_applicable": 0,
}

SUMMARY_SCHEMA: dict[str, pl.DataType] = {
    "check": pl.String(),
    "table": pl.String(),
    "column": pl.String(),
    "condition": pl.String(),
    "expectation": pl.String(),
    "category": pl.String(),
    "severity": pl.String(),
    "status": pl.String(),
    "element_count": pl.Int64(),
    "unexpected_count": pl.Int64(),
    "unexpected_percent": pl.Float64(),
    "tolerance_pct": pl.Float64(),
    "patients_affected": pl.Int64(),
    "title": pl.String(),
    "affects": pl.String(),
    "criteria": pl.String(),
    "examples": pl.String(),
    "rationale": pl.String(),
    "tolerance_source": pl.String(),
    "severity_source": pl.String(),
    "source": pl.String(),
    "note": pl.String(),
}
# Every percentage this package writes is on the 0-100 scale (``*_percent``, ``*_pct``).
UNEXPECTED_SCHEMA: dict[str, pl.DataType] = {
    "check": pl.String(),
    "table": pl.String(),
    "row": pl.Int64(),
    "patient_id": pl.String(),
}


@dataclass
class ValidationResult:
    """What :func:`~feasibility.quality.validate_registry` returns.

    ``summary``: one row per check (columns in ``SUMMARY_SCHEMA``; ``check`` is a stable
    id; ``affects`` the fields its failing rows make unusable; ``criteria`` a ``;``-separated
    list of the criteria of the protocol given that read them, else empty; percentages are
    0-100: ``unexpected_percent`` of the rows checked, ``tolerance_pct`` the share tolerated
    before the check fails). ``unexpected``: one row per failing
    row of each check (``row`` = 1-based data row in the file, or null for per-patient
    checks), with its patient_id; for per-patient window checks only the first few
    patients without data are listed (the count is in the summary).
    """

    summary: pl.DataFrame
    unexpected: pl.DataFrame
    index_date: dt.date | None = None
    registry_path: Path | None = None
    seconds: float = 0.0
    present: frozenset[str] = field(default_factory=frozenset)
    registry: Any = field(default=None, repr=False)
    protocol: Any = field(default=None, repr=False)
    today: dt.date | None = None
    run_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    #: rows and patients per table (and test/item) and month; the data cut-off
    coverage: pl.DataFrame | None = None
    cutoff: dt.date | None = None
    index_span: tuple[dt.date, dt.date] | None = None

    def for_protocol(
        self, protocol: Any, index_span: tuple[dt.date, dt.date] | None = None
    ) -> ValidationResult:
        """The same result with ``criteria`` linked to ``protocol``'s criteria (and the
        coverage-over-time findings placed for indexes in ``index_span``)."""
        from feasibility.quality.links import link_criteria
        from feasibility.quality.timeline import timeline_findings

        span = index_span or self.index_span
        if protocol is None or (protocol is self.protocol and span == self.index_span):
            return self
        summary = link_criteria(self.summary.filter(pl.col("source") != "timeline"), protocol)
        if self.coverage is not None:
            found = timeline_findings(
                self.coverage, self.cutoff, protocol=protocol, index_span=span
            )
            if found:
                summary = pl.concat(
                    [summary, pl.DataFrame(found, schema=SUMMARY_SCHEMA, orient="row")]
                )
        return replace(self, summary=summary, protocol=protocol, index_span=span)

    def write_coverage(self, out_dir: str | Path) -> Path | None:
        """Write ``coverage_by_month.csv`` (table, selector, month, rows, patients)."""
        if self.coverage is None:
            return None
        path = Path(out_dir) / "coverage_by_month.csv"
        self.coverage.write_csv(path)
        return path

    def stamped(self, index_settings: str | None = None) -> pl.DataFrame:
        """The summary with ``run_date`` (UTC, ISO) and ``index_settings`` columns first."""
        settings = index_settings or (
            f"index_date={self.index_date.isoformat()}" if self.index_date else "no index date"
        )
        return self.summary.select(
            "check",
            pl.lit(self.run_at.strftime("%Y-%m-%dT%H:%M:%SZ")).alias("run_date"),
            pl.lit(settings).alias("index_settings"),
            pl.exclude("check"),
        )

    def by_category(self) -> pl.DataFrame:
        """Counts of checks per Kahn category and status, and the failing rows in each."""
        s = self.summary
        return (
            s.group_by("category")
            .agg(
                pl.len().alias("checks"),
                *[(pl.col("status") == st).sum().alias(st) for st in STATUSES],
                pl.col("unexpected_count").fill_null(0).sum().alias("unexpected_rows"),
            )
            .sort("category")
        )

    def failing(
        self,
        severity: str | None = None,
        *,
        table: str | None = None,
        criterion: str | None = None,
        category: str | None = None,
        include_tolerated: bool = True,
    ) -> pl.DataFrame:
        """Checks with failing rows, optionally only at ``severity`` or worse, for one table,
        criterion or category. ``include_tolerated=False`` keeps status ``failed`` only."""
        statuses = FINDING if include_tolerated else ("failed",)
        s = self.summary.filter(pl.col("status").is_in(statuses))
        if severity is not None:
            keep = [k for k, v in SEVERITY_RANK.items() if v >= SEVERITY_RANK[severity]]
            s = s.filter(pl.col("severity").is_in(keep))
        if table is not None:
            s = s.filter(pl.col("table") == table)
        if category is not None:
            s = s.filter(pl.col("category") == category)
        if criterion is not None:
            s = s.filter(pl.col("criteria").str.split(";").list.contains(criterion))
        return s

    def failed_at(self, severity: str) -> bool:
        """True when a check of ``severity`` or worse has status ``failed``."""
        return self.failing(severity, include_tolerated=False).height > 0

    def rows(self, check: str) -> pl.DataFrame:
        """The failing rows (``row``, ``patient_id``) of one check."""
        return self.unexpected.filter(pl.col("check") == check).select("row", "patient_id")

    def write(self, out_dir: str | Path, index_settings: str | None = None) -> Path:
        """Write ``validation_summary.csv`` (the summary stamped with run date and index
        settings) into ``out_dir``; returns its path."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        path = out / "validation_summary.csv"
        self.stamped(index_settings).write_csv(path)
        return path
