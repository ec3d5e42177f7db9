"""Command-line pieces shared by the commands: progress lines, index modes and funnel order.

``feasibility screen`` and ``feasibility report`` take the same index options, parsed
here once so both accept and reject exactly the same input.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable
from typing import Any

from feasibility.errors import FeasibilityError

INDEX_HELP = """\
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
"""


def iso_date(text: str) -> dt.date:
    """argparse type: an ISO-8601 date (YYYY-MM-DD)."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO date (YYYY-MM-DD): {text!r}") from exc


def add_index_options(p: argparse.ArgumentParser) -> None:
    """--index-date | --index-events (with its filter, window and column), and --order."""
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument(
        "--index-date", type=iso_date, help="one index date for everyone (YYYY-MM-DD)"
    )
    mode.add_argument(
        "--index-events",
        metavar="TABLE",
        help="event mode: each qualifying row of TABLE (e.g. therapies) is an index date",
    )
    p.add_argument("--index-where", help='event filter, e.g. "line_number >= 2"')
    p.add_argument("--index-from", type=iso_date, help="first event date included (inclusive)")
    p.add_argument("--index-to", type=iso_date, help="last event date included (inclusive)")
    p.add_argument("--index-column", help="event date column (default: the table's event date)")
    p.add_argument(
        "--order",
        help="comma-separated funnel steps to put first (the others follow in protocol order)",
    )


def index_from_args(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """The index (a date or :class:`~feasibility.engine.IndexEvents`) and a description of
    the settings for provenance. Event options without ``--index-events`` are an error."""
    from feasibility.engine import IndexEvents

    event_options = (args.index_where, args.index_from, args.index_to, args.index_column)
    if args.index_events is None:
        if any(v is not None for v in event_options):
            raise FeasibilityError(
                "--index-where/--index-from/--index-to/--index-column need --index-events"
            )
        return args.index_date, {"mode": "fixed date", "index date": args.index_date.isoformat()}
    index = IndexEvents(
        table=args.index_events,
        where=args.index_where,
        start=args.index_from,
        end=args.index_to,
        date_column=args.index_column,
    )
    index.column  # noqa: B018 - validates the table before anything is read
    settings = {
        "mode": "event",
        "events table": args.index_events,
        "where": args.index_where,
        "from": args.index_from,
        "to": args.index_to,
        "date column": args.index_column,
    }
    return index, settings


def order_from_args(args: argparse.Namespace) -> list[str] | None:
    """The --order steps, or None."""
    if not args.order:
        return None
    return [s.strip() for s in args.order.split(",") if s.strip()] or None


def check_order(result: Any, order: list[str] | None) -> None:
    """Fail with a one-line message when --order names something that is not a step."""
    if order:
        try:
            result.funnel(order)
        except ValueError as exc:
            raise FeasibilityError(f"--order: {exc}") from exc


def progress(args: argparse.Namespace) -> Callable[[str], None]:
    """A printer of progress lines on stderr, prefixed ``[command]``; silent under --quiet."""

    def say(msg: str) -> None:
        if not args.quiet:
            print(f"[{args.command}] {msg}", file=sys.stderr, flush=True)

    return say
