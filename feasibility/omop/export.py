"""``feasibility synth --format omop``: generate the native registry, then write it as OMOP."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from feasibility.registry import load_registry
from feasibility.synth import generate_registry

from .writer import write_omop

FORMATS = {"omop": "parquet", "omop-csv": "csv", "omop-duckdb": "duckdb"}


def synth_omop(args: argparse.Namespace) -> int:
    """Write ``args.patients`` synthetic patients to ``args.out`` as an OMOP CDM database.

    The generator writes its native registry to a temporary directory; the loader reads
    it (so values outside the vocabulary are set aside exactly as for the native format)
    and :func:`write_omop` writes the OMOP tables. ``_manifest.json`` is kept, with
    ``omop`` added; ``_defects.csv`` is not (its row numbers are the native files').
    """
    t0 = time.perf_counter()
    out = Path(args.out)
    with tempfile.TemporaryDirectory(prefix="feasibility-synth-") as tmp:
        manifest = generate_registry(
            args.patients,
            args.seed,
            tmp,
            format="parquet",
            defects=args.defects,
            progress=not args.quiet,
        )
        registry = load_registry(tmp, format="native")
        rows = write_omop(registry, out, format=FORMATS[args.format])
        manifest["omop"] = {"format": FORMATS[args.format], "rows": rows}
        (out / "_manifest.json").write_text(json.dumps(manifest, indent=2, default=str) + "\n")
        shutil.rmtree(tmp, ignore_errors=True)
    if not args.quiet:
        print(
            f"synth: {args.patients:,} patients as OMOP CDM 5.4 ({FORMATS[args.format]}), "
            f"{sum(rows.values()):,} rows -> {out} ({time.perf_counter() - t0:.1f} s)",
            file=sys.stderr,
        )
    return 0
