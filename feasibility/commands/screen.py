"""``feasibility screen``: screen a registry against a protocol and write the contract outputs.

Writes OUT/patient_status.csv and OUT/funnel.csv (contract section 4) plus impact.csv
(per-criterion fail_standalone / fail_unique / unknown) and evidence.parquet (the value,
date, code, drug or lesion that decided each criterion for each patient). Outputs are
written to a temporary directory and moved into OUT only when complete.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from feasibility.commands._options import (
    INDEX_HELP,
    add_engine_option,
    add_index_options,
    add_spark_screen_options,
    check_events,
    check_order,
    engine_from_args,
    index_from_args,
    order_from_args,
    progress,
    spark_screen_from_args,
)
from feasibility.commands._output import check_out, output_dir

EPILOG = (
    INDEX_HELP
    + """
examples:
  feasibility screen --data data_samples/registry --protocol pomalidomide-ixazomib-dex \\
      --index-date 2024-06-30 --out out/screen
  feasibility screen --data reg --protocol my_protocol.yaml --index-events therapies \\
      --index-where "line_number >= 2" --index-from 2022-01-01 --index-to 2024-12-31 --out out/ev
  feasibility screen ... --order measurable_disease,ecog   (these steps first, others follow)
"""
)


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
        "--data",
        help="registry directory (<table>.parquet or <table>.csv files); required unless "
        "--spark-database/--spark-tables name catalog tables",
    )
    p.add_argument("--format", choices=("auto", "native", "omop"), default="auto",
                   help="registry format: native tables, an OMOP CDM 5.4 database (directory or "
                        "DuckDB file), or auto (OMOP if it has a person table; default)")  # fmt: skip
    p.add_argument(
        "--protocol",
        default="pomalidomide-ixazomib-dex",
        help="protocol id (a file in feasibility/protocols) or path to a protocol YAML file "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--out", required=True, help="output directory (created; files replaced atomically)"
    )
    add_index_options(p)
    add_engine_option(p)
    add_spark_screen_options(p)
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from feasibility.citation import cite, counts
    from feasibility.engine import screen
    from feasibility.protocol import load_protocol

    say = progress(args)
    t0 = time.perf_counter()
    check_out(args.out)
    index, _settings = index_from_args(args)
    engine = engine_from_args(args)  # a bad --spark-conf stops here, before any data is read
    catalog, engine = spark_screen_from_args(args)
    protocol = load_protocol(args.protocol)
    say(
        f"protocol {cite(protocol)}: {counts(protocol)}, {len(protocol.assumptions)} assumptions",
    )
    order = order_from_args(args, protocol)

    from feasibility.registry import load_registry

    if catalog is None:
        say(f"loading registry {args.data}")
        registry = load_registry(args.data, progress=not args.quiet, format=args.format)
        check_events(registry, index)
    else:
        from feasibility.spark.read import check_catalog_events

        say(f"registry: {catalog.path}")
        registry = catalog
        check_catalog_events(catalog, index)
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
        say(f"tables absent (their criteria are unknown for everyone): {', '.join(absent)}")
    result = screen(registry, protocol, index, engine=engine, progress=not args.quiet)
    check_order(result, order)
    with output_dir(args.out, "screen") as tmp:
        names = [p.name for p in result.write(tmp, order=order)]
    written = [Path(args.out) / n for n in names]
    funnel = result.funnel(order)
    say(
        f"{result.n_patients:,} patients, {int(funnel['remaining'][-1]):,} eligible "
        f"({int(funnel['remaining_with_unknown'][-1]):,} with unknowns) in {time.perf_counter() - t0:.1f}s",
    )
    for f in written:
        say(f"wrote {f}")
    status_path = getattr(result, "status_path", None)
    if status_path is not None:
        say(f"patient_status written by Spark to {status_path} (Parquet)")
    return 0
