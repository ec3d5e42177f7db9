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

import polars as pl

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


#: Dates accepted on the command line: a registry's index or event dates lie in this range,
#: and windows of up to 100 years before an index stay valid dates.
DATE_RANGE: tuple[dt.date, dt.date] = (dt.date(1900, 1, 1), dt.date(2199, 12, 31))


#: --spark-master default (feasibility.spark.session.DEFAULT_MASTER; not imported here).
SPARK_MASTER = "local[*]"


def iso_date(text: str) -> dt.date:
    """argparse type: an ISO-8601 date (YYYY-MM-DD) between 1900-01-01 and 2199-12-31."""
    try:
        value = dt.date.fromisoformat(text.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO date (YYYY-MM-DD): {text!r}") from exc
    low, high = DATE_RANGE
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(
            f"{text!r} is outside {low.isoformat()}..{high.isoformat()}; give a real index date"
        )
    return value


def add_engine_option(
    p: argparse.ArgumentParser,
    *,
    choices: tuple[str, ...] | None = None,
    help: str | None = None,
) -> None:
    """``--engine``: which engine evaluates the protocol (feasibility.engine.seam), and the
    Spark options that go with ``--engine spark`` (``--spark-master``, ``--spark-conf``)."""
    from feasibility.engine.seam import ENGINES

    p.add_argument(
        "--engine",
        choices=choices or tuple(ENGINES),
        default="polars",
        help=help
        or "screening engine: polars (default, this machine), spark (Apache Spark; "
        'pip install "feasibility[spark]"), reference (plain Python, slow; for checking)',
    )
    add_spark_options(p)


def add_spark_options(p: argparse.ArgumentParser) -> None:
    """``--spark-master`` and repeatable ``--spark-conf key=value`` (used with --engine spark)."""
    g = p.add_argument_group("Spark (with --engine spark)")
    g.add_argument(
        "--spark-master",
        default=SPARK_MASTER,
        metavar="URL",
        help="Spark master: local[*] (default, this machine's cores), local[N], yarn, "
        "spark://host:7077, k8s://..., sc://host:15002 (Spark Connect); a running session "
        "(spark-submit, Databricks) is used as it is",
    )
    g.add_argument(
        "--spark-conf",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="Spark configuration, repeatable (e.g. --spark-conf spark.driver.memory=8g "
        "--spark-conf spark.sql.shuffle.partitions=400)",
    )


def add_spark_screen_options(p: argparse.ArgumentParser) -> None:
    """``screen`` only: ``--spark-aggregates-only`` (with ``--spark-status-path``) and catalog
    tables instead of ``--data`` (``--spark-database``, ``--spark-tables``)."""
    g = p.add_argument_group("Spark, screen only (with --engine spark)")
    g.add_argument(
        "--spark-aggregates-only",
        action="store_true",
        help="for very large registries: only the funnel and impact counts come back to the "
        "driver; Spark writes patient_status as Parquet to --spark-status-path (no "
        "patient_status.csv, no evidence.parquet)",
    )
    g.add_argument(
        "--spark-status-path",
        metavar="PATH",
        help="where Spark writes patient_status (Parquet directory) with "
        "--spark-aggregates-only (default: OUT/patient_status.parquet, right in local mode; "
        "on a cluster give storage the executors write: s3a://..., abfss://..., /dbfs/...)",
    )
    g.add_argument(
        "--spark-database",
        metavar="DB",
        help="read the registry from tables of the Spark catalog/metastore named "
        "DB.patients, DB.measurements, ... (DB may be catalog.schema) instead of --data",
    )
    g.add_argument(
        "--spark-tables",
        action="append",
        default=[],
        metavar="TABLE=NAME,...",
        help="catalog table of each registry table, e.g. patients=db.pat,measurements=db.labs "
        "(repeatable; overrides --spark-database for the tables it names)",
    )


def spark_screen_from_args(args: argparse.Namespace) -> tuple[Any, Any]:
    """(catalog registry or None, engine) of ``screen``'s Spark options, checked before any
    data is read; call after :func:`engine_from_args`. Without them: (None, args.engine)."""
    tables: dict[str, str] = {}
    for text in args.spark_tables:
        for item in text.split(","):
            if not item.strip():
                continue
            key, sep, name = item.partition("=")
            if not sep or not key.strip() or not name.strip():
                raise FeasibilityError(f"--spark-tables: expected TABLE=NAME, got {item.strip()!r}")
            tables[key.strip()] = name.strip()
    catalog = args.spark_database is not None or bool(tables)
    status_path = args.spark_status_path
    if args.engine != "spark" and (catalog or args.spark_aggregates_only or status_path):
        raise FeasibilityError(
            "--spark-aggregates-only/--spark-status-path/--spark-database/--spark-tables "
            "need --engine spark"
        )
    if status_path and not args.spark_aggregates_only:
        raise FeasibilityError("--spark-status-path goes with --spark-aggregates-only")
    master = getattr(args, "spark_master", SPARK_MASTER)
    if args.spark_aggregates_only and not status_path and not master.startswith("local"):
        raise FeasibilityError(
            f"--spark-aggregates-only with --spark-master {master}: give --spark-status-path "
            "on storage the executors write (s3a://, abfss://, a shared mount); the default "
            "under --out is for local mode"
        )
    if catalog and args.data is not None:
        raise FeasibilityError("give --data or --spark-database/--spark-tables, not both")
    if not catalog and args.data is None:
        raise FeasibilityError(
            "give --data (registry directory), or with --engine spark "
            "--spark-database/--spark-tables (catalog tables)"
        )
    registry = None
    if catalog:
        if args.format != "auto":
            raise FeasibilityError("--format applies to --data, not to catalog tables")
        from feasibility.spark.read import CatalogRegistry

        registry = CatalogRegistry(args.spark_database, tables)
    engine: Any = args.engine
    if args.spark_aggregates_only:
        from pathlib import Path

        from feasibility.spark.engine import SparkEngine

        path = status_path or str(Path(args.out).resolve() / "patient_status.parquet")
        engine = SparkEngine(aggregates_only=True, status_path=path)
    return registry, engine


def engine_from_args(args: argparse.Namespace) -> str:
    """The ``--engine`` name; for ``spark`` the session is configured from --spark-master
    and --spark-conf first (feasibility.spark.session.configure), which the Spark engine
    and GX-on-Spark validation then share. Spark options without --engine spark are an error."""
    master = getattr(args, "spark_master", SPARK_MASTER)
    conf = getattr(args, "spark_conf", None) or []
    if args.engine == "spark":
        from feasibility.spark.session import configure, parse_conf

        # the default master is left unset: under spark-submit its --master stands
        configure(master=None if master == SPARK_MASTER else master, conf=parse_conf(conf))
    elif master != SPARK_MASTER or conf:
        raise FeasibilityError("--spark-master/--spark-conf need --engine spark")
    return str(args.engine)


def add_index_options(
    p: argparse.ArgumentParser,
    *,
    required: bool = True,
    order: bool = True,
    date_help: str = "one index date for everyone (YYYY-MM-DD)",
) -> None:
    """--index-date | --index-events (with its filter, window and column), and --order
    (``validate`` takes them optional, for readiness, and has no funnel to order)."""
    mode = p.add_mutually_exclusive_group(required=required)
    mode.add_argument("--index-date", type=iso_date, help=date_help)
    mode.add_argument(
        "--index-events",
        metavar="TABLE",
        help="event mode: each qualifying row of TABLE (e.g. therapies) is an index date",
    )
    p.add_argument("--index-where", help='event filter, e.g. "line_number >= 2"')
    p.add_argument("--index-from", type=iso_date, help="first event date included (inclusive)")
    p.add_argument("--index-to", type=iso_date, help="last event date included (inclusive)")
    p.add_argument("--index-column", help="event date column (default: the table's event date)")
    if order:
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
    index.check()  # table, date column, window and filter, before any data is read
    settings = {
        "mode": "event",
        "events table": args.index_events,
        "where": args.index_where,
        "from": args.index_from,
        "to": args.index_to,
        "date column": args.index_column,
    }
    return index, settings


def order_from_args(args: argparse.Namespace, protocol: Any = None) -> list[str] | None:
    """The --order steps, or None; with ``protocol``, each must be one of its funnel steps
    (checked before any data is read)."""
    if not args.order:
        return None
    order = [s.strip() for s in args.order.split(",") if s.strip()] or None
    if order and protocol is not None:
        known = {"index_event", *protocol.steps}
        unknown = [s for s in order if s not in known]
        if unknown:
            raise FeasibilityError(
                f"--order: {', '.join(map(repr, unknown))} is not a funnel step of "
                f"{protocol.id}; steps: {', '.join(protocol.steps)}"
            )
    return order


def check_events(registry: Any, index: Any) -> None:
    """Event mode: stop with one line when the events table is absent from the registry or
    no row of it qualifies (so the screen never silently fails everyone on index_event)."""
    from feasibility.engine import IndexEvents

    if not isinstance(index, IndexEvents):
        return
    if not registry.has(index.table):
        raise FeasibilityError(
            f"--index-events {index.table}: the registry {registry.path} has no {index.table} "
            f"table ({index.table}.parquet or {index.table}.csv); add it or use --index-date"
        )
    missing = getattr(registry, "missing_columns", {}).get(index.table, frozenset())
    if index.column in missing:
        raise FeasibilityError(
            f"--index-events {index.table}: column {index.column!r} is absent from "
            f"{registry.files[index.table].name}; add it or choose another --index-column"
        )
    lf = index.frame(registry.scan(index.table))
    try:
        n = lf.select(pl.len()).collect().item()
    except pl.exceptions.PolarsError as exc:
        raise registry.read_error(index.table, exc) from None
    if n == 0:
        raise FeasibilityError(
            f"--index-events {index.table}: no row qualifies as an index "
            f"({index.describe()}); widen --index-from/--index-to or loosen --index-where"
        )


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
        if not args.quiet:  # one write per line: lines from several threads never mix
            sys.stderr.write(f"[{args.command}] {msg}\n")
            sys.stderr.flush()

    return say
