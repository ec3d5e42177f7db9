"""Make a large registry from a smaller one: ``--copies`` copies of every table, patient
ids made distinct per copy, written as Parquet with a streaming sink (memory stays small).

    python benchmarks/scale_registry.py benchmarks/_data/registry_1m /work/data_d/registry_10m --copies 10

Used for the 10M-patient screening run when generating 10M patients with
``feasibility synth`` takes longer than the machine is free (synth draws every patient;
this only copies bytes). Copy ``k`` inserts the digit ``k`` after the leading ``P`` of each
patient id (``P00000001`` -> ``P300000001``), after any padding a defect planted, so the
planted defects (padded ids, blank ids, ...) stay what they were; blank ids stay blank.
The copies are identical otherwise, so the screen's counts are ``copies`` times the
source's, which checks the large run too.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import polars as pl

TABLES = (
    "patients",
    "diagnoses",
    "measurements",
    "assessments",
    "medications",
    "procedures",
    "lesions",
    "therapies",
)


def scale(src: Path, out: Path, copies: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for table in TABLES:
        file = src / f"{table}.parquet"
        if not file.exists():
            continue
        t0 = time.perf_counter()
        parts = [
            pl.scan_parquet(file).with_columns(
                pl.col("patient_id").str.replace(r"^(\s*[Pp])", f"${{1}}{k}")
            )
            for k in range(copies)
        ]
        pl.concat(parts).sink_parquet(out / f"{table}.parquet", compression="lz4")
        print(f"{table}: {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    manifest = src / "_manifest.json"
    if manifest.exists():
        shutil.copy(manifest, out / "_source_manifest.json")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--copies", type=int, default=10)
    args = parser.parse_args(argv)
    scale(args.src, args.out, args.copies)
    return 0


if __name__ == "__main__":
    sys.exit(main())
