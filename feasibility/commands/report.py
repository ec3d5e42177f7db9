"""``feasibility report``: screen a registry, validate it, and write the offline HTML report.

Writes OUT/report.html (one self-contained file: no script, style or font from the
network) and the tables it shows as CSV (funnel.csv with the contract columns, impact,
cohort, thresholds, data quality). Small counts are suppressed by default.
"""

from __future__ import annotations

import argparse
import time

from feasibility.commands._options import (
    add_index_options,
    check_events,
    check_order,
    index_from_args,
    order_from_args,
    progress,
)

EPILOG = """\
index modes (as in `feasibility screen`):
  --index-date 2024-06-30                       one index date for everyone
  --index-events therapies --index-where "line_number >= 2"
      --index-from 2022-01-01 --index-to 2024-12-31   event mode

disclosure control:
  Counts from 1 to --suppression-threshold (default 10) are hidden everywhere in the
  report and its CSV files, and so are counts that would let one be derived by
  subtraction (see feasibility/disclosure.py). --no-suppression shows exact counts and
  stamps the report INTERNAL USE ONLY.

example:
  feasibility report --data data_samples/registry --protocol pomalidomide-ixazomib-dex \\
      --index-date 2024-06-30 --out out/report
"""


def _threshold(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from exc
    if value < 0:
        raise argparse.ArgumentTypeError("the suppression threshold must be 0 or more")
    return value


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "report",
        help="write the offline HTML feasibility report (with small-count suppression)",
        description=(
            "Screen a registry against a protocol, validate its data quality, and write "
            "OUT/report.html (self-contained, opens offline) plus the suppressed tables it "
            "shows as CSV (OUT/funnel.csv, impact.csv, cohort.csv, thresholds.csv, ...)."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--data", required=True, help="registry directory (<table>.parquet or .csv)")
    p.add_argument("--format", choices=("auto", "native", "omop"), default="auto",
                   help="registry format: native tables, an OMOP CDM 5.4 database (directory or "
                        "DuckDB file), or auto (OMOP if it has a person table; default)")  # fmt: skip
    p.add_argument(
        "--protocol",
        default="pomalidomide-ixazomib-dex",
        help="protocol id or path to a protocol YAML file (default: %(default)s)",
    )
    p.add_argument("--out", required=True, help="output directory (created if needed)")
    add_index_options(p)
    p.add_argument(
        "--suppression-threshold",
        type=_threshold,
        default=10,
        metavar="N",
        help="hide counts from 1 to N (default: %(default)s)",
    )
    p.add_argument(
        "--no-suppression",
        action="store_true",
        help="show exact small counts (internal use only; the report is stamped as such)",
    )
    p.add_argument("--no-validation", action="store_true", help="skip the data-quality checks")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from feasibility.citation import cite, counts
    from feasibility.engine import screen
    from feasibility.protocol import load_protocol
    from feasibility.registry import load_registry
    from feasibility.report.build import build_report

    say = progress(args)
    t0 = time.perf_counter()
    index, settings = index_from_args(args)
    protocol = load_protocol(args.protocol)
    say(f"protocol {cite(protocol)}: {counts(protocol)}, {len(protocol.assumptions)} assumptions")
    order = order_from_args(args, protocol)
    # validating reads every table whole anyway: read them now, so a damaged file stops
    # here with one line naming it
    registry = load_registry(
        args.data, progress=not args.quiet, defer=args.no_validation, format=args.format
    )
    check_events(registry, index)
    if order:
        settings["funnel order"] = ", ".join(order)
    validation = readiness = None
    if not args.no_validation:
        from feasibility.quality import validate_registry

        # first: validation loads every table whole (its set-aside counts need all rows),
        # and the screen then reads those tables from memory instead of scanning the files
        say("validating data quality")
        validation = validate_registry(
            registry, index_date=args.index_date, progress=not args.quiet
        )
    result = screen(registry, protocol, index, progress=not args.quiet)
    check_order(result, order)
    if validation is not None:
        from feasibility.quality import criterion_readiness

        readiness = criterion_readiness(protocol, validation, result)

    if args.no_suppression:
        say("WARNING: suppression is off; the report is for internal use only")
    path = build_report(
        args.out,
        protocol,
        result,
        registry=registry,
        validation=validation,
        readiness=readiness,
        index_settings=settings,
        threshold=args.suppression_threshold,
        suppress=not args.no_suppression,
        order=order,
    )
    say(f"wrote {path} and its CSV tables in {time.perf_counter() - t0:.1f}s")
    return 0
