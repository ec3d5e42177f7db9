"""``validate_registry``: run the data-quality suites on a loaded registry with GX.

Per table, the raw frame (values as given, duplicates kept, ``_row`` = 1-based data row)
is prepared once on the polars side (derived columns, :mod:`feasibility.quality.prep`);
then, per row condition and per column, GX validates a pandas batch holding just that
column, indexed by ``_row``. Failing row ids come back from GX and are mapped to
patient_ids here. The loader's set-aside values join the summary, so nothing it left out
goes unreported.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import polars as pl

from feasibility.quality.coverage import window_frame
from feasibility.quality.gxrun import BatchOutcome, GXRunner
from feasibility.quality.links import field_text, link_criteria
from feasibility.quality.loader_rows import absent_column_rows, accounting_rows
from feasibility.quality.prep import ROW, TablePrep, inventory, patient_dates
from feasibility.quality.result import (
    SUMMARY_SCHEMA,
    UNEXPECTED_SCHEMA,
    ValidationResult,
)
from feasibility.quality.suites import Check, load_checks
from feasibility.quality.timeline import coverage_by_month, data_cutoff, timeline_findings

EXAMPLES = 5
#: Up to this many cells (rows x columns) a condition group is validated in one GX batch;
#: beyond it one batch per column (GX copies every column of a batch for each expectation).
BATCH_CELLS = 10_000_000
#: Large tables are prepared and validated this many rows at a time (bounded memory).
CHUNK_ROWS = 8_000_000


def _status(outcome: BatchOutcome) -> str:
    if outcome.exception:
        return "not_evaluated"
    if outcome.unexpected_count is None:
        return "passed" if outcome.success else "failed"
    if not outcome.success:
        return "failed"
    return "passed_with_failures" if outcome.unexpected_count > 0 else "passed"


def _row(check: Check, **values: Any) -> dict[str, Any]:
    base = {
        "check": check.check,
        "table": check.table,
        "column": None if check.field in ("*",) or check.suite == "registry" else check.field,
        "condition": check.condition_text or None,
        "expectation": check.type,
        "category": check.category,
        "severity": check.severity,
        "status": None,
        "element_count": None,
        "unexpected_count": None,
        "unexpected_percent": None,
        "tolerance_pct": check.meta.get("tolerance_pct"),
        "patients_affected": None,
        "title": check.title,
        "affects": field_text(check.affects),
        "criteria": None,
        "examples": None,
        "rationale": check.rationale,
        "tolerance_source": check.meta.get("tolerance_source"),
        "severity_source": check.meta.get("severity_source"),
        "source": "gx",
        "note": None,
    }
    base.update(values)
    return base


class _Collector:
    """Accumulates summary rows and failing-row frames."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.unexpected: list[pl.DataFrame] = []

    def not_applicable(self, checks: list[Check], note: str) -> None:
        for c in checks:
            self.rows.append(_row(c, status="not_applicable", note=note))

    def outcome(self, check: Check, out: BatchOutcome, ids: pl.DataFrame | None) -> None:
        status = _status(out)
        note = out.exception
        if status != "not_evaluated" and out.element_count == 0:
            status, note = "not_applicable", "no rows"
        examples = None
        patients = None
        if check.frame == "patient_window":
            patients = out.unexpected_count
        elif ids is not None and "label" not in ids.columns:
            patients = ids.get_column("patient_id").drop_nulls().n_unique()
        elif out.unexpected_count == 0:
            patients = 0
        if ids is not None and "label" in ids.columns:
            examples = "; ".join(ids.get_column("label").head(EXAMPLES).to_list())
        elif ids is not None and ids.height:
            self.unexpected.append(
                ids.select(
                    pl.lit(check.check).alias("check"),
                    pl.lit(check.table).alias("table"),
                    pl.col("row").cast(pl.Int64),
                    pl.col("patient_id").cast(pl.String),
                )
            )
            head = ids.sort("row", "patient_id", nulls_last=True).head(EXAMPLES)
            examples = "; ".join(
                (f"row {r} ({p})" if r is not None else str(p))
                for r, p in head.select("row", "patient_id").iter_rows()
            )
        elif out.unexpected_count is None and out.observed is not None and status == "failed":
            examples = f"observed: {out.observed}"
        self.rows.append(
            _row(
                check,
                status=status,
                element_count=out.element_count,
                unexpected_count=out.unexpected_count,
                unexpected_percent=out.unexpected_percent,
                patients_affected=patients,
                examples=examples,
                note=note,
            )
        )


Found = dict[str, tuple[BatchOutcome, pl.DataFrame | None]]


def _validate_frame(
    gxr: GXRunner, df: pl.DataFrame, index: str, checks: list[Check], name: str
) -> tuple[Found, dict[str, str]]:
    """Run ``checks`` on ``df``: one filtered frame per condition, GX batches per column
    group. Returns outcomes (with failing ids) per check id, and notes for checks whose
    column is absent."""
    found: Found = {}
    absent: dict[str, str] = {}
    by_condition: dict[tuple[str, str] | None, list[Check]] = defaultdict(list)
    for c in checks:
        by_condition[c.condition].append(c)
    for condition, group in by_condition.items():
        frame = df if condition is None else df.filter(pl.col(condition[0]) == condition[1])
        by_column: dict[str, list[Check]] = defaultdict(list)
        for c in group:
            if c.column not in frame.columns:
                absent[c.check] = f"column {c.column} absent"
                continue
            by_column[c.column].append(c)
        # Small frames go to GX in one batch; large ones one column at a time, so the
        # pandas copy never holds more than one column of a big chunk.
        if frame.height * len(by_column) <= (gxr.batch_cells or BATCH_CELLS):
            batches = [(list(by_column), [c for cs in by_column.values() for c in cs])]
        else:
            batches = [([column], cs) for column, cs in by_column.items()]
        for columns, cs in batches:
            if not cs:
                continue
            batch = frame.select(index, *columns)
            outs = gxr.validate(gxr.frame(batch, index), [c.config() for c in cs], name)
            lookup = {o.check: o for o in outs}
            for c in cs:
                out = lookup[c.check]
                ids = _ids(df, index, out.unexpected_ids) if out.unexpected_ids else None
                found[c.check] = (out, ids)
    return found, absent


def _merge(
    a: tuple[BatchOutcome, pl.DataFrame | None], b: tuple[BatchOutcome, pl.DataFrame | None]
):
    """Add up the outcomes of one check on two row chunks (success is recomputed later)."""
    (x, xi), (y, yi) = a, b

    def add(p: int | None, q: int | None) -> int | None:
        return None if p is None and q is None else (p or 0) + (q or 0)

    out = BatchOutcome(
        check=x.check,
        success=None if x.success is None or y.success is None else (x.success and y.success),
        element_count=add(x.element_count, y.element_count),
        unexpected_count=add(x.unexpected_count, y.unexpected_count),
        unexpected_percent=None,
        unexpected_ids=[],
        missing_count=add(x.missing_count, y.missing_count),
        observed=x.observed,
        exception=x.exception or y.exception,
    )
    ids = (
        pl.concat([f for f in (xi, yi) if f is not None])
        if (xi is not None or yi is not None)
        else None
    )
    return out, ids


def _finalise(check: Check, out: BatchOutcome) -> BatchOutcome:
    """Success and percentage over all chunks, as GX computes them for one batch:
    unexpected share of the non-missing values, passing when the expected share >= mostly."""
    if out.unexpected_count is None or out.exception:
        return out
    denominator = (out.element_count or 0) - (out.missing_count or 0)
    share = out.unexpected_count / denominator if denominator else 0.0
    mostly = check.kwargs.get("mostly")
    out.unexpected_percent = 100.0 * share
    out.success = out.unexpected_count == 0 if mostly is None else (1.0 - share) >= mostly
    return out


def _run_chunks(
    gxr: GXRunner, col: _Collector, chunks, checks: list[Check], name: str, index: str = ROW
) -> None:
    """Validate ``checks`` on every frame of ``chunks`` and record one summary row per check."""
    total: Found = {}
    absent: dict[str, str] = {}
    n = 0
    for df in chunks:
        n += 1
        found, notes = _validate_frame(gxr, df, index, checks, name)
        absent.update(notes)
        for key, value in found.items():
            total[key] = _merge(total[key], value) if key in total else value
    for c in checks:
        if c.check in absent:
            col.not_applicable([c], absent[c.check])
        elif c.check in total:
            out, ids = total[c.check]
            col.outcome(c, _finalise(c, out) if n > 1 else out, ids)


def _ids(frame: pl.DataFrame, index: str, values: list[Any]) -> pl.DataFrame:
    """Failing index values as (row, patient_id)."""
    if index == ROW:
        wanted = pl.Series(ROW, values, dtype=pl.Int64)
        pids = frame.get_column("patient_id") if "patient_id" in frame.columns else None
        rows = frame.get_column(ROW)
        first = rows[0] if rows.len() else 0
        if pids is not None and rows.len() and rows[-1] - first + 1 == rows.len():
            # a chunk holds consecutive rows: look patient_ids up by position
            found = pids.gather(wanted - first)
        elif pids is not None:
            found = (
                pl.DataFrame(wanted)
                .join(frame.select(ROW, "patient_id"), on=ROW, how="left", maintain_order="left")
                .get_column("patient_id")
            )
        else:
            found = pl.Series([None] * len(values), dtype=pl.String)
        return pl.DataFrame({"row": wanted, "patient_id": found.cast(pl.String)})
    if index == "patient_id":
        # per-patient coverage: patients without data are a share, not defects to list
        values = sorted(values)[:EXAMPLES]
        return pl.DataFrame(
            {"row": [None] * len(values), "patient_id": [str(v) for v in values]},
            schema={"row": pl.Int64, "patient_id": pl.String},
        )
    # other frames (the table inventory): the index value itself is the example
    return pl.DataFrame(
        {
            "row": [None] * len(values),
            "patient_id": [None] * len(values),
            "label": [str(v) for v in values],
        },
        schema={"row": pl.Int64, "patient_id": pl.String, "label": pl.String},
    )


def _needed(checks: list[Check]) -> set[str]:
    out = {"patient_id"}
    for c in checks:
        if c.column:
            out.add(c.column)
        if c.condition:
            out.add(c.condition[0])
    return out


#: Loader set-aside problems and the GX checks that flag the same rows (check id or a
#: family prefix ending in ``[``): such records are not listed twice; the checks say so.
SET_ASIDE_CHECKS: dict[tuple[str, str, str], str] = {
    ("patients", "sex", "sex_outside_vocabulary"): "patients.sex.vocabulary",
    ("measurements", "test", "unknown_test"): "measurements.test.vocabulary",
    ("measurements", "unit", "unit_outside_vocabulary"): "measurements.unit.accepted[",
    ("measurements", "value", "implausible_value"): "measurements.value.plausible[",
    ("assessments", "item", "unknown_item"): "assessments.item.vocabulary",
    ("assessments", "value", "value_outside_vocabulary"): "assessments.value.vocabulary[",
    ("procedures", "category", "category_outside_vocabulary"): "procedures.category.vocabulary",
    (
        "lesions",
        "longest_diameter_cm",
        "implausible_value",
    ): "lesions.longest_diameter_cm.plausible",
}


def _covers(prefix: str, check: str) -> bool:
    return check.startswith(prefix) if prefix.endswith("[") else check == prefix


def _set_aside_rows(
    registry: Any, rows: list[dict[str, Any]], counts: dict[str, int]
) -> list[dict[str, Any]]:
    """Reconcile the loader's set-aside records with the checks: a record a check already
    flags row by row marks that check's summary row (``note``); any other record becomes
    its own summary row (``source = loader``)."""
    set_aside = getattr(registry, "set_aside", None)
    if set_aside is None or set_aside.is_empty():
        return []
    out = []
    for rec in set_aside.iter_rows(named=True):
        table, column, problem = rec["table"], rec["column"], rec["problem"]
        n = int(rec["rows"])
        prefix = SET_ASIDE_CHECKS.get((table, column, problem))
        if prefix is None and problem == "missing_value":
            prefix = f"{table}.{column}.not_null"
        covered = [r for r in rows if prefix and _covers(prefix, r["check"])]
        if covered:
            for r in covered:
                if r["unexpected_count"]:
                    r["note"] = (
                        f"the loader sets these rows aside (never used by the screen): {problem}"
                    )
            continue
        total = counts.get(table)
        examples = f"rows {rec['example_rows']}"
        if rec.get("example_values"):
            examples += f"; values {rec['example_values']}"
        out.append(
            {
                "check": f"{table}.{column}.set_aside[{problem}]",
                "table": table,
                "column": column,
                "condition": None,
                "expectation": "loader_set_aside",
                "category": "completeness" if problem == "missing_value" else "conformance",
                "severity": "warning",
                "status": "failed",
                "element_count": total,
                "unexpected_count": n,
                "unexpected_percent": (100.0 * n / total) if total else None,
                "tolerance_pct": 0.0,
                "patients_affected": None,
                "title": f"{table}.{column}: values set aside by the loader ({problem.replace('_', ' ')})",
                "affects": field_text([(table, column, None)]),
                "criteria": None,
                "examples": examples,
                "rationale": "the loader left these values out of the screen (never guessed)",
                "tolerance_source": "team decision: every value the screen cannot use is reported",
                "severity_source": "team decision: rows are unusable; the screen still runs",
                "source": "loader",
                "note": problem,
            }
        )
    return out


def _runner(engine: str) -> GXRunner:
    """GX on pandas (``polars``: the default) or on Spark (``spark``)."""
    if engine == "polars":
        return GXRunner()
    if engine == "spark":
        from feasibility.spark.quality import SparkGXRunner

        return SparkGXRunner()
    raise ValueError(f"validate_registry: engine must be 'polars' or 'spark', not {engine!r}")


def validate_registry(
    registry: Any,
    *,
    index_date: dt.date | str | None = None,
    today: dt.date | None = None,
    suites_dir: Path | None = None,
    progress: bool = False,
    chunk_rows: int = CHUNK_ROWS,
    protocol: Any = None,
    index_span: tuple[dt.date, dt.date] | None = None,
    engine: str = "polars",
) -> ValidationResult:
    """Validate a loaded registry (``feasibility.registry.load_registry``) with the GX suites.

    ``index_date`` enables the per-patient window-coverage checks and makes the age check
    use age at index. ``today`` (default: the current date) bounds "not in the future".
    ``index_span`` (first, last index date; default the index date) places the criteria's
    windows for the coverage-over-time findings (:mod:`feasibility.quality.timeline`).
    With a ``protocol`` the summary's ``criteria`` lists, per check, the criteria of that
    protocol reading an affected field (else use :meth:`ValidationResult.for_protocol`).
    Progress lines go to stderr only with ``progress=True``. Tables longer than
    ``chunk_rows`` are validated in row chunks whose counts are added up. ``engine="spark"``
    evaluates the same expectations with GX's Spark execution engine
    (:mod:`feasibility.spark.quality`; same statuses).
    """
    started = time.perf_counter()
    if isinstance(index_date, str):
        index_date = dt.date.fromisoformat(index_date)
    today = today or dt.date.today()

    def say(msg: str) -> None:
        if progress:
            print(msg, file=sys.stderr, flush=True)

    checks = load_checks(suites_dir)
    by_suite: dict[str, list[Check]] = defaultdict(list)
    for c in checks:
        by_suite[c.suite].append(c)
    gxr = _runner(engine)
    col = _Collector()
    present = frozenset(registry.present)
    counts: dict[str, int] = {}

    inv = by_suite.pop("registry", [])
    if inv:
        _run_chunks(gxr, col, [inventory(present)], inv, "registry", index="table")

    pdates = patient_dates(registry.raw["patients"]) if "patients" in present else None
    for suite, suite_checks in by_suite.items():
        t0 = time.perf_counter()
        if suite not in present:
            col.not_applicable(suite_checks, "table absent")
            continue
        raw = registry.raw[suite]
        schema_checks = [c for c in suite_checks if c.frame == "schema"]
        row_checks = [c for c in suite_checks if c.frame == "rows"]
        window_checks = [c for c in suite_checks if c.frame == "patient_window"]
        if schema_checks:
            schema = raw.collect_schema()
            pdf = gxr.schema_frame(pl.Schema({k: v for k, v in schema.items() if k != ROW}))
            outs = gxr.validate(pdf, [c.config() for c in schema_checks], suite)
            lookup = {o.check: o for o in outs}
            for c in schema_checks:
                col.outcome(c, lookup[c.check], None)
        if row_checks:
            prep = TablePrep(
                suite, raw, pdates, _needed(row_checks), index_date=index_date, today=today
            )
            counts[suite] = prep.height
            # uniqueness is a whole-table property: never split such a table
            whole = any(c.type == "expect_column_values_to_be_unique" for c in row_checks)
            size = max(prep.height, 1) if whole else chunk_rows
            chunks = (prep.chunk(off, size) for off in range(0, max(prep.height, 1), size))
            _run_chunks(gxr, col, chunks, row_checks, suite)
            del prep
        if window_checks:
            if index_date is None:
                col.not_applicable(window_checks, "needs an index date")
            else:
                wf = window_frame(registry.tables, window_checks, index_date)
                _run_chunks(gxr, col, [wf], window_checks, f"{suite}@index", index="patient_id")
        say(f"  validated {suite} ({time.perf_counter() - t0:.1f} s)")

    rows = col.rows + _set_aside_rows(registry, col.rows, counts)
    rows += absent_column_rows(registry, rows) + accounting_rows(registry)  # issue 10
    if index_span is None and index_date is not None:
        index_span = (index_date, index_date)
    coverage = coverage_by_month(registry, today)
    cutoff = data_cutoff(coverage, registry)
    rows += timeline_findings(coverage, cutoff, protocol=protocol, index_span=index_span)
    summary = (
        pl.DataFrame(rows, schema=SUMMARY_SCHEMA, orient="row")
        if rows
        else pl.DataFrame(schema=SUMMARY_SCHEMA)
    )
    unexpected = (
        pl.concat(col.unexpected) if col.unexpected else pl.DataFrame(schema=UNEXPECTED_SCHEMA)
    )
    if protocol is not None:
        summary = link_criteria(summary, protocol)
        summary = summary.with_columns(
            pl.when(pl.col("source") == "timeline")
            .then(pl.Series([r["criteria"] for r in rows], dtype=pl.String))
            .otherwise(pl.col("criteria"))
            .alias("criteria")
        )
    return ValidationResult(
        summary=summary,
        unexpected=unexpected,
        index_date=index_date,
        registry_path=getattr(registry, "path", None),
        seconds=time.perf_counter() - started,
        present=present,
        registry=registry,
        protocol=protocol,
        today=today,
        coverage=coverage,
        cutoff=cutoff,
        index_span=index_span,
    )
