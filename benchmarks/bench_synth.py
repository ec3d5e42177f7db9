"""Benchmark: generate a large synthetic registry and print time, peak memory and row counts.

    python benchmarks/bench_synth.py                       # 1,000,000 patients, seed 1
    python benchmarks/bench_synth.py --patients 200000 --out /tmp/reg

Target on the project machine (2 cores, 24 GiB): 1M patients in under 2 minutes and
under 8 GiB peak resident memory. The default output, ``benchmarks/_data/registry_1m``
(gitignored), is left in place for the screening and validation benchmarks to reuse.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

from feasibility.synth import generate_registry

DEFAULT_OUT = Path(__file__).resolve().parent / "_data" / "registry_1m"


def _peak_mib() -> tuple[float, float]:
    """Peak resident memory (MiB) of this process and of its waited-for children (Linux KiB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, children


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    parser.add_argument("--defects", choices=("none", "realistic", "heavy"), default="realistic")
    parser.add_argument("--setting", choices=("population", "academic"), default="population")
    args = parser.parse_args(argv)

    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    manifest = generate_registry(
        args.patients, args.seed, args.out, format=args.format, defects=args.defects,
        setting=args.setting, progress=True,
    )  # fmt: skip
    wall = time.perf_counter() - started
    own, children = _peak_mib()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime

    total = 0
    print(f"bench_synth: {args.patients:,} patients, seed {args.seed}, {args.format}, "
          f"defects={args.defects}, setting={args.setting} -> {args.out}")  # fmt: skip
    print(f"wall time      {wall:8.1f} s   (1-min load average {load_before:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after, on {os.cpu_count()} cores)")  # fmt: skip
    print(f"CPU time       {cpu:8.1f} s   (user + system; {cpu / wall:.2f} cores busy on average)")
    print(f"peak RSS       {own:8.0f} MiB (self)   {children:.0f} MiB (children)   "
          f"{max(own, children) / 1024:.2f} GiB max")  # fmt: skip
    for table, info in manifest["tables"].items():
        total += info["rows"]
        size = (args.out / info["file"]).stat().st_size / 2**20
        per = info["rows"] / args.patients
        print(f"rows {table:<13} {info['rows']:>12,}  ({per:6.1f}/patient, {size:8.1f} MiB)")
    print(f"rows total         {total:>12,}  ({total / wall:,.0f} rows/s)")
    print(f"defects planted    {sum(manifest['defect_counts'].values()):>12,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
