"""Check ``screen --engine spark --spark-aggregates-only`` against the polars engine on a
registry: funnel.csv and impact.csv byte-identical, and the patient_status Spark wrote as
Parquet equal to the polars patient_status.csv (any row order), for both myeloma protocols
in fixed-date and event mode. Exit status 1 on any difference.

    python benchmarks/check_spark_aggregates.py /work/data_c2/registry_50k [--out OUT]
        [--protocol P] [--mode fixed|event]   (one combination: a short job per heavy lock)

(The committed sample is checked the same way by tests/test_spark_aggregate.py.)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

from feasibility.cli import main

PROTOCOLS = ("pomalidomide-ixazomib-dex", "isatuximab-pomalidomide-dex")
MODES = {
    "fixed": ["--index-date", "2024-06-30"],
    "event": [
        "--index-events",
        "therapies",
        "--index-where",
        "line_number >= 2",
        "--index-from",
        "2020-01-01",
        "--index-to",
        "2024-06-30",
    ],
}


def check(
    registry: str,
    out: Path,
    protocols: tuple[str, ...] = PROTOCOLS,
    modes: tuple[str, ...] = tuple(MODES),
) -> bool:
    ok = True
    for protocol in protocols:
        for mode in modes:
            index = MODES[mode]
            base = ["screen", "--data", registry, "--protocol", protocol, *index, "--quiet"]
            polars_out, spark_out = (
                out / f"{protocol}-{mode}-polars",
                out / f"{protocol}-{mode}-spark",
            )
            t0 = time.perf_counter()
            assert main([*base, "--out", str(polars_out)]) == 0
            t1 = time.perf_counter()
            spark = ["--engine", "spark", "--spark-aggregates-only"]
            assert main([*base, "--out", str(spark_out), *spark]) == 0
            t2 = time.perf_counter()
            same = {
                name: (polars_out / name).read_bytes() == (spark_out / name).read_bytes()
                for name in ("funnel.csv", "impact.csv")
            }
            written = pl.read_parquet(spark_out / "patient_status.parquet" / "*.parquet")
            expected = pl.read_csv(polars_out / "patient_status.csv", infer_schema=False)
            got = written.with_columns(pl.col("index_date").cast(pl.String))
            same["patient_status"] = got.sort("patient_id").equals(expected.sort("patient_id"))
            funnel = pl.read_csv(spark_out / "funnel.csv")
            print(
                f"{protocol} {mode}: {written.height:,} patients, "
                f"{funnel['remaining'][-1]:,} eligible; identical "
                + ", ".join(f"{k}={v}" for k, v in same.items())
                + f"; polars {t1 - t0:.1f}s, spark {t2 - t1:.1f}s",
                flush=True,
            )
            ok = ok and all(same.values())
    return ok


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("registry")
    parser.add_argument("--out", type=Path, help="where both engines write (default: a temp dir)")
    parser.add_argument("--protocol", choices=PROTOCOLS, action="append")
    parser.add_argument("--mode", choices=tuple(MODES), action="append")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="aggcheck-"))
    protocols = tuple(args.protocol or PROTOCOLS)
    modes = tuple(args.mode or MODES)
    sys.exit(0 if check(args.registry, out, protocols, modes) else 1)
