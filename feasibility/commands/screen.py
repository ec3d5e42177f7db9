"""``feasibility screen``: screen a registry against a protocol and write the contract outputs.

Writes OUT/patient_status.csv and OUT/funnel.csv (contract section 4) plus impact.csv
(per-criterion fail_standalone / fail_unique / unknown) and evidence.parquet (the value,
date, code, drug or lesion that decided each criterion for each patient). Outputs are
written to a temporary directory and moved into OUT only when complete.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time

from feasibility.errors import FeasibilityError

EPILOG = """\
index modes:
  fixed date   --index-date 2024-06-30
               every patient is screened at the same date.
  event mode   --index-events therapies --index-where "line_number >= 2"
               --index-from 2022-01-01 --index-to 2024-12-31
               each row of the table matching --index-where whose event date
               (therapies.start_date; diagnoses.diagnosed_on, ...; or --index-column)
               lies in [--index-from, --index-to] is an index date. A patient counts
               once: at the first index where they are eligible, else at their best
               index (pass > unknown > fail; ties -> earliest). Patients with no
               qualifying event fail the extra funnel step 'index_event' (step 1) and
               keep a row with an empty index_date.
  --index-where is 'column OP value' joined by 'and'; OP is one of >= <= > < == !=
  (e.g. "line_number >= 2 and investigational == false").

examples:
  feasibility screen --data data_samples/registry --protocol pomalidomide-ixazomib-dex \\
      --index-date 2024-06-30 --out out/screen
  feasibility screen --data reg --protocol my_protocol.yaml --index-events therapies \\
      --index-where "line_number >= 2" --index-from 2022-01-01 --index-to 2024-12-31 --out out/ev
  feasibility screen ... --order measurable_disease,ecog   (these steps first, others follow)
"""


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO date (YYYY-MM-DD): {text!r}") from exc


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "screen",
        help="screen a registry against a protocol (patient_status.csv, funnel.csv)",
        description=(
            "Screen every patient of a registry against a protocol's computable criteria "
            "(three-valued: pass / fail / unknown) and write OUT/patient_status.csv, "
            "OUT/funnel.csv, OUT/impact.csv and OUT/evidence.parquet."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--data", required=True, help="registry directory (<table>.parquet or <table>.csv files)"
    )
    p.add_argument(
        "--protocol",
        default="pomalidomide-ixazomib-dex",
        help="protocol id (a file in feasibility/protocols) or path to a protocol YAML file "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--out", required=True, help="output directory (created; files replaced atomically)"
    )
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--index-date", type=_date, help="one index date for everyone (YYYY-MM-DD)")
    mode.add_argument(
        "--index-events",
        metavar="TABLE",
        help="event mode: each qualifying row of TABLE (e.g. therapies) is an index date",
    )
    p.add_argument("--index-where", help='event filter, e.g. "line_number >= 2"')
    p.add_argument("--index-from", type=_date, help="first event date included (inclusive)")
    p.add_argument("--index-to", type=_date, help="last event date included (inclusive)")
    p.add_argument("--index-column", help="event date column (default: the table's event date)")
    p.add_argument(
        "--order",
        help="comma-separated funnel steps to put first (the others follow in protocol order)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=run)


def _progress(args, msg: str) -> None:
    if not args.quiet:
        print(f"[screen] {msg}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    from feasibility.engine import IndexEvents, screen
    from feasibility.protocol import load_protocol

    t0 = time.perf_counter()
    if args.index_events is None and any(
        v is not None for v in (args.index_where, args.index_from, args.index_to, args.index_column)
    ):
        raise FeasibilityError(
            "--index-where/--index-from/--index-to/--index-column need --index-events"
        )
    protocol = load_protocol(args.protocol)
    _progress(
        args,
        f"protocol {protocol.id}: {len(protocol.steps)} steps, {len(protocol.assumptions)} assumptions",
    )
    order = [s.strip() for s in args.order.split(",") if s.strip()] if args.order else None

    from feasibility.registry import load_registry

    _progress(args, f"loading registry {args.data}")
    registry = load_registry(args.data, progress=not args.quiet)
    absent = [
        t
        for t in (
            "diagnoses",
            "measurements",
            "assessments",
            "medications",
            "procedures",
            "lesions",
            "therapies",
        )
        if not registry.has(t)
    ]
    if absent:
        _progress(
            args, f"tables absent (their criteria are unknown for everyone): {', '.join(absent)}"
        )
    if args.index_events:
        index = IndexEvents(
            table=args.index_events,
            where=args.index_where,
            start=args.index_from,
            end=args.index_to,
            date_column=args.index_column,
        )
        index.column  # noqa: B018 - validates the table before screening
    else:
        index = args.index_date
    result = screen(registry, protocol, index, progress=not args.quiet)
    if order:
        try:
            result.funnel(order)
        except ValueError as exc:
            raise FeasibilityError(f"--order: {exc}") from exc
    written = result.write(args.out, order=order)
    funnel = result.funnel(order)
    _progress(
        args,
        f"{result.n_patients:,} patients, {int(funnel['remaining'][-1]):,} eligible "
        f"({int(funnel['remaining_with_unknown'][-1]):,} with unknowns) in {time.perf_counter() - t0:.1f}s",
    )
    for f in written:
        _progress(args, f"wrote {f}")
    return 0
