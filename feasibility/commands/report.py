"""``feasibility report``: screen a registry, validate it, and write the offline HTML report.

Writes OUT/report.html (one self-contained file: no script, style or font from the
network) and the tables it shows as CSV (funnel.csv with the contract columns, impact,
cohort, thresholds, data quality). Small counts are suppressed by default.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from feasibility.commands._options import (
    add_engine_option,
    add_index_options,
    check_events,
    check_order,
    engine_from_args,
    index_from_args,
    order_from_args,
    progress,
)
from feasibility.commands._output import check_out, output_dir

EPILOG = """\
index modes (as in `feasibility screen`):
  --index-date 2024-06-30                       one index date for everyone
  --index-events therapies --index-where "line_number >= 2"
      --index-from 2022-01-01 --index-to 2024-12-31   event mode

disclosure control (one policy for every number of the report and its CSV files):
  --disclosure round     (default) counts 1..10 shown as "<=10", every other count
                         rounded to the nearest 5, percentages from the shown numbers
  --disclosure suppress  exact counts with primary and complementary cell suppression
  --disclosure none      exact counts (same as --no-suppression)
  --suppression-threshold N changes the 10. Any setting that can show a count from 1 to
  10 (none, or N below 10) stamps the page and every CSV "internal use - not for sharing".
  The working files of `feasibility screen` are exact: keep them inside the data
  environment.

example:
  feasibility report --data data_samples/registry --protocol pomalidomide-ixazomib-dex \\
      --index-date 2024-06-30 --out out/report
"""


def _whole(least: int, what: str):
    """An argparse type: a whole number of at least ``least`` (``what`` names it)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from exc
        if value < least:
            raise argparse.ArgumentTypeError(f"{what} must be {least} or more")
        return value

    return parse


_threshold = _whole(0, "the suppression threshold")
_positive = _whole(1, "the target (patients)")


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
    add_engine_option(p)
    p.add_argument(
        "--suppression-threshold",
        type=_threshold,
        default=10,
        metavar="N",
        help="hide counts from 1 to N (default: %(default)s)",
    )
    p.add_argument(
        "--disclosure",
        choices=("round", "suppress", "none"),
        default="round",
        help="how counts are shown (default: %(default)s; see below)",
    )
    p.add_argument(
        "--no-suppression",
        action="store_true",
        help="same as --disclosure none: exact small counts, stamped internal use only",
    )
    p.add_argument(
        "--target",
        type=_positive,
        metavar="N",
        help="target enrolment: event mode adds the months to reach it (default: the "
        "protocol's target_enrolment, if any)",
    )
    p.add_argument("--no-validation", action="store_true", help="skip the data-quality checks")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from feasibility.citation import cite, counts
    from feasibility.disclosure import policy_from_options
    from feasibility.engine import screen
    from feasibility.protocol import load_protocol
    from feasibility.registry import load_registry
    from feasibility.report.build import build_report

    say = progress(args)
    t0 = time.perf_counter()
    check_out(args.out)
    policy = policy_from_options(
        args.disclosure, args.suppression_threshold, no_suppression=args.no_suppression
    )
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
    validation = None
    if not args.no_validation:
        from feasibility.quality import validate_registry

        # first: validation loads every table whole (its set-aside counts need all rows),
        # and the screen then reads those tables from memory instead of scanning the files
        say("validating data quality")
        validation = validate_registry(
            registry, index_date=args.index_date, progress=not args.quiet
        )
    result = screen(
        registry, protocol, index, engine=engine_from_args(args), progress=not args.quiet
    )
    check_order(result, order)
    if policy.internal:
        say(f"WARNING: {policy.describe()}; the report is stamped {policy.notice!r}")
    with output_dir(args.out, "report") as tmp:
        # readiness is computed by the builder, over the patients it screens
        build_report(
            tmp,
            protocol,
            result,
            registry=registry,
            validation=validation,
            index_settings=settings,
            policy=policy,
            order=order,
            target=args.target,
        )
    path = Path(args.out) / "report.html"
    say(f"wrote {path} and its CSV tables in {time.perf_counter() - t0:.1f}s")
    return 0
