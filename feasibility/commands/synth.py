"""``feasibility synth``: write a synthetic myeloma registry (all eight contract tables)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from feasibility.errors import FeasibilityError
from feasibility.synth import DEFECT_LEVELS, generate_registry
from feasibility.synth.settings import DEFAULT_SETTING, SETTINGS

DESCRIPTION = """\
Generate a synthetic, de-identified multiple myeloma registry: patients, diagnoses,
measurements, assessments, medications, procedures, lesions and therapies, with
distributions that follow published figures and realistic site differences (units,
code styles). Data-quality defects are planted at documented rates and listed row by
row in OUT/_defects.csv; OUT/_manifest.json records the seed, rates and counts.
The same seed always gives the same bytes."""

EPILOG = """\
examples:
  feasibility synth --patients 5000 --seed 42 --setting academic --out registry/
  feasibility synth --patients 300 --seed 42 --out registry_csv/ --format csv
  feasibility synth --patients 20000 --seed 1 --out clean/ --defects none"""


#: Largest registry synth writes (the benchmarks use 1M patients).
MAX_PATIENTS = 10_000_000


def _whole(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None


def _positive(text: str) -> int:
    value = _whole(text)
    if not 1 <= value <= MAX_PATIENTS:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_PATIENTS:,}, not {value}")
    return value


def _seed(text: str) -> int:
    value = _whole(text)
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"must be a whole number from 0 to 2**63-1, not {value}")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "synth",
        help="generate a synthetic myeloma registry with documented defects",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--patients", type=_positive, required=True, metavar="N",
                        help="number of patients to generate")  # fmt: skip
    parser.add_argument("--seed", type=_seed, required=True, metavar="S",
                        help="random seed; the same seed gives identical files")  # fmt: skip
    parser.add_argument("--out", type=Path, required=True, metavar="DIR",
                        help="output directory (created; its table files are replaced)")  # fmt: skip
    parser.add_argument("--format", choices=("parquet", "csv", "omop", "omop-csv", "omop-duckdb"),
                        default="parquet",
                        help="table file format (default: parquet); omop writes an OMOP CDM 5.4 "
                             "database (Parquet tables, or CSV, or one DuckDB file) with the "
                             "vocabulary rows it needs")  # fmt: skip
    parser.add_argument("--defects", choices=DEFECT_LEVELS, default="realistic",
                        help="planted data-quality defects: none, realistic (default) "
                             "or heavy (5x realistic)")  # fmt: skip
    parser.add_argument("--setting", choices=tuple(SETTINGS), default=DEFAULT_SETTING,
                        help="care setting: population (population-based registry, median "
                             "age 69; default) or academic (referral centre: younger, more "
                             "trial lines, 30%% of relapsed patients referred at relapse)")  # fmt: skip
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.out.exists() and not args.out.is_dir():
        raise FeasibilityError(f"--out {args.out}: is a file, not a directory; choose another path")
    if args.format.startswith("omop"):
        from feasibility.omop.export import synth_omop

        return synth_omop(args)
    manifest = generate_registry(
        args.patients, args.seed, args.out, format=args.format, defects=args.defects,
        setting=args.setting, progress=not args.quiet,
    )  # fmt: skip
    if not args.quiet:
        rows = sum(t["rows"] for t in manifest["tables"].values())
        planted = sum(manifest["defect_counts"].values())
        print(f"synth: {args.patients:,} patients, {rows:,} rows, {planted:,} planted defects "
              f"-> {args.out}", file=sys.stderr)  # fmt: skip
    return 0
