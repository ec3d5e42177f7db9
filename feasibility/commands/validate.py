"""``feasibility validate``: data-quality validation of a registry with Great Expectations.

Writes OUT/validation_summary.csv (one row per check: stable check id, run date, index
settings, table, column, readable title, category, severity, status, unexpected_count,
unexpected_percent and tolerance_pct (both 0-100), patients_affected, affected fields,
criteria, examples, sources of tolerance and severity, ...), OUT/validation_failing_rows.csv
(the failing rows' ids), OUT/coverage_by_month.csv (rows and patients per table, test or
item and month) and, with --protocol and an index (--index-date or --index-events ...),
OUT/criterion_readiness.csv (per criterion, for the screened patients). The exit code is 0 unless --fail-on is given
and a check of that severity or worse failed.
"""

from __future__ import annotations

import argparse
import time

from feasibility.commands._options import (
    add_engine_option,
    add_index_options,
    engine_from_args,
    progress,
)
from feasibility.commands._output import check_out, output_dir

EPILOG = """\
statuses: passed, passed_with_failures (failing rows within the check's tolerance),
failed, not_applicable (table, column or index date absent), not_evaluated.
exit codes: 0 done (findings are in the summary); 1 with --fail-on when a check of
that severity or worse failed; 2 bad input.

examples:
  feasibility validate --data reg --out out/quality
  feasibility validate --data reg --out out/quality --protocol pomalidomide-ixazomib-dex \\
      --index-date 2024-06-30 --fail-on error
  feasibility validate --data reg --out out/quality --engine spark --spark-master local[4]
  feasibility validate --data reg --out out/quality --protocol pomalidomide-ixazomib-dex \\
      --index-events therapies --index-where "line_number >= 2" \\
      --index-from 2022-01-01 --index-to 2024-12-31
"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "validate",
        help="validate a registry's data quality (validation_summary.csv)",
        description=(
            "Validate a registry with the Great Expectations suites in expectations/ "
            "(conformance, completeness, plausibility; Kahn et al. 2016) and write "
            "OUT/validation_summary.csv; with --protocol and --index-date also "
            "OUT/criterion_readiness.csv (what each criterion's count rests on)."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--data", required=True, help="registry directory")
    p.add_argument("--format", choices=("auto", "native", "omop"), default="auto",
                   help="registry format: native tables, an OMOP CDM 5.4 database (directory or "
                        "DuckDB file), or auto (OMOP if it has a person table; default)")  # fmt: skip
    p.add_argument("--out", required=True, help="output directory (created)")
    p.add_argument("--protocol", help="protocol id or YAML path (for criterion readiness)")
    add_index_options(
        p,
        required=False,
        order=False,
        date_help="index date (YYYY-MM-DD): enables window-coverage checks, age at index, "
        "readiness",
    )
    p.add_argument(
        "--fail-on",
        choices=("error", "warning", "info"),
        help="exit 1 when a check of this severity or worse failed",
    )
    add_engine_option(
        p,
        choices=("polars", "spark"),
        help="where the expectations run: polars (default: GX on pandas, this machine) or "
        "spark (GX's Spark execution engine, same checks and statuses)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=run)


def _index(args: argparse.Namespace):
    """(index for the screen or None, index_span for the timeline, settings text)."""
    from feasibility.commands._options import index_from_args
    from feasibility.errors import FeasibilityError

    if args.index_date is not None and args.index_events is not None:
        raise FeasibilityError("give --index-date or --index-events, not both")
    if args.index_date is None and args.index_events is None:
        if any(v is not None for v in (args.index_where, args.index_from, args.index_to)):
            raise FeasibilityError("--index-where/--index-from/--index-to need --index-events")
        return None, None, "no index date"
    index, settings = index_from_args(args)
    text = "; ".join(f"{k}={v}" for k, v in settings.items() if v is not None)
    if args.index_date is not None:
        return index, (args.index_date, args.index_date), text
    span = (args.index_from, args.index_to) if args.index_from and args.index_to else None
    return index, span, text


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from feasibility.registry import load_registry

    say = progress(args)
    t0 = time.perf_counter()
    check_out(args.out)
    protocol = None
    if args.protocol:
        from feasibility.protocol import load_protocol

        protocol = load_protocol(args.protocol)
    index, span, settings = _index(args)
    engine = engine_from_args(args)  # a bad --spark-conf stops here, before any data is read
    # every table is read whole now (validation needs all rows): a damaged file stops
    # here with one line naming it, and the loader's progress lines come before ours
    registry = load_registry(args.data, progress=not args.quiet, defer=False, format=args.format)
    from feasibility.quality import criterion_readiness, validate_registry  # imports GX (slow)

    say("validating")
    result = validate_registry(
        registry,
        index_date=args.index_date,
        index_span=span,
        protocol=protocol,
        progress=not args.quiet,
        engine=engine,
    )
    out = Path(args.out)
    with output_dir(out, "validate") as tmp:
        result.write(tmp, index_settings=settings)
        failing_rows = result.unexpected
        if hasattr(registry, "omop_absent"):  # an OMOP CDM database: DQD-style checks too
            from feasibility.omop.conformance import omop_conformance, with_omop_source

            failing_rows = with_omop_source(failing_rows, registry)
            omop_conformance(registry).write_csv(tmp / "omop_conformance.csv")
        failing_rows.write_csv(tmp / "validation_failing_rows.csv")
        result.write_coverage(tmp)
        if protocol is not None and index is not None:
            from feasibility.engine import screen

            say(f"screening {protocol.id} ({settings}) for readiness")
            screened = screen(registry, protocol, index)
            criterion_readiness(protocol, result, screened).write_csv(
                tmp / "criterion_readiness.csv"
            )
        elif protocol is not None:
            say("criterion readiness needs --index-date or --index-events; skipped")

    counts = result.summary.group_by("status").len().sort("status").iter_rows()
    say(
        "checks: "
        + ", ".join(f"{n} {status}" for status, n in counts)
        + f" ({time.perf_counter() - t0:.1f} s); wrote {out / 'validation_summary.csv'}"
    )
    if args.fail_on and result.failed_at(args.fail_on):
        failed = result.failing(args.fail_on, include_tolerated=False)
        say(
            f"failing ({args.fail_on} or worse): "
            + ", ".join(failed.get_column("check").to_list()[:10])
        )
        return 1
    return 0
