"""``feasibility report``: screen a registry, validate it, and write the offline HTML report.

Writes OUT/report.html (one self-contained file: no script, style or font from the
network) and the tables it shows as CSV (funnel.csv with the contract columns, impact,
cohort, thresholds, data quality). Small counts are suppressed by default.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time

from feasibility.errors import FeasibilityError

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


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO date (YYYY-MM-DD): {text!r}") from exc


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
    p.add_argument(
        "--protocol",
        default="pomalidomide-ixazomib-dex",
        help="protocol id or path to a protocol YAML file (default: %(default)s)",
    )
    p.add_argument("--out", required=True, help="output directory (created if needed)")
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--index-date", type=_date, help="one index date for everyone (YYYY-MM-DD)")
    mode.add_argument("--index-events", metavar="TABLE", help="event mode: table of index events")
    p.add_argument("--index-where", help='event filter, e.g. "line_number >= 2"')
    p.add_argument("--index-from", type=_date, help="first event date included")
    p.add_argument("--index-to", type=_date, help="last event date included")
    p.add_argument("--index-column", help="event date column (default: the table's event date)")
    p.add_argument("--order", help="comma-separated funnel steps to put first")
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


def _progress(args, msg: str) -> None:
    if not args.quiet:
        print(f"[report] {msg}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    from feasibility.engine import IndexEvents, screen
    from feasibility.protocol import load_protocol
    from feasibility.registry import load_registry
    from feasibility.report.build import build_report

    t0 = time.perf_counter()
    if args.index_events is None and any(
        v is not None for v in (args.index_where, args.index_from, args.index_to, args.index_column)
    ):
        raise FeasibilityError(
            "--index-where/--index-from/--index-to/--index-column need --index-events"
        )
    protocol = load_protocol(args.protocol)
    _progress(args, f"protocol {protocol.id}")
    registry = load_registry(args.data, progress=not args.quiet)
    if args.index_events:
        index = IndexEvents(
            table=args.index_events,
            where=args.index_where,
            start=args.index_from,
            end=args.index_to,
            date_column=args.index_column,
        )
        settings = {
            "mode": "event",
            "events table": args.index_events,
            "where": args.index_where,
            "from": args.index_from,
            "to": args.index_to,
            "date column": args.index_column,
        }
    else:
        index = args.index_date
        settings = {"mode": "fixed date", "index date": args.index_date.isoformat()}
    order = [s.strip() for s in args.order.split(",") if s.strip()] if args.order else None
    if order:
        settings["funnel order"] = ", ".join(order)
    result = screen(registry, protocol, index, progress=not args.quiet)
    if order:
        try:
            result.funnel(order)
        except ValueError as exc:
            raise FeasibilityError(f"--order: {exc}") from exc

    validation = readiness = None
    if not args.no_validation:
        try:
            from feasibility.quality import criterion_readiness, validate_registry
        except ModuleNotFoundError as exc:
            if not (exc.name or "").startswith("feasibility.quality"):
                raise
            _progress(args, "data-quality module not installed; checks skipped")
        else:
            _progress(args, "validating data quality")
            validation = validate_registry(
                registry, index_date=args.index_date, progress=not args.quiet
            )
            readiness = criterion_readiness(protocol, validation, result)

    if args.no_suppression:
        _progress(args, "WARNING: suppression is off; the report is for internal use only")
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
    _progress(args, f"wrote {path} and its CSV tables in {time.perf_counter() - t0:.1f}s")
    return 0
