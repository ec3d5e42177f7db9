"""``feasibility validate``: data-quality validation of a registry with Great Expectations.

Writes OUT/validation_summary.csv (one row per check: table, column, expectation,
category, severity, status, unexpected_count, unexpected_percent, criteria, examples,
...), OUT/validation_failing_rows.csv (the failing rows' ids) and, with --protocol and
--index-date, OUT/criterion_readiness.csv. The exit code is 0 unless --fail-on is given
and a check of that severity or worse failed.
"""

from __future__ import annotations

import argparse
import time

from feasibility.commands._options import iso_date, progress
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
    p.add_argument("--out", required=True, help="output directory (created)")
    p.add_argument("--protocol", help="protocol id or YAML path (for criterion readiness)")
    p.add_argument(
        "--index-date",
        type=iso_date,
        help="index date (YYYY-MM-DD): enables window-coverage checks, age at index, readiness",
    )
    p.add_argument(
        "--fail-on",
        choices=("error", "warning", "info"),
        help="exit 1 when a check of this severity or worse failed",
    )
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=run)


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
    registry = load_registry(args.data, progress=not args.quiet)
    from feasibility.quality import criterion_readiness, validate_registry  # imports GX (slow)

    say("validating")
    result = validate_registry(registry, index_date=args.index_date, progress=not args.quiet)
    out = Path(args.out)
    with output_dir(out, "validate") as tmp:
        result.write(tmp)
        result.unexpected.write_csv(tmp / "validation_failing_rows.csv")
        if protocol is not None and args.index_date is not None:
            from feasibility.engine import screen

            say(f"screening {protocol.id} at {args.index_date} for readiness")
            screened = screen(registry, protocol, index_date=args.index_date)
            criterion_readiness(protocol, result, screened).write_csv(
                tmp / "criterion_readiness.csv"
            )
        elif protocol is not None:
            say("criterion readiness needs --index-date; skipped")

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
