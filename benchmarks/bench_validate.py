"""Benchmark: validate a large registry with the GX suites; print wall time and peak memory.

    python benchmarks/bench_validate.py                      # benchmarks/_data/registry_1m
    python benchmarks/bench_validate.py --data /tmp/reg --index-date 2024-06-30

Target on the project machine (2 cores, 24 GiB): the 1,000,000-patient registry
(~50M measurement rows) validated in under 3 minutes and under 12 GiB peak resident
memory. The registry comes from ``bench_synth.py`` (or ``feasibility synth --patients
1000000 --seed 1 --out benchmarks/_data/registry_1m``). Loading is timed separately.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import sys
import time
from pathlib import Path

import polars as pl

from feasibility.quality import validate_registry
from feasibility.registry import load_registry

DEFAULT_DATA = Path(__file__).resolve().parent / "_data" / "registry_1m"


def _peak_gib() -> float:
    """Peak resident memory of this process (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--index-date", type=dt.date.fromisoformat, default=dt.date(2024, 6, 30))
    args = ap.parse_args(argv)
    if not args.data.exists():
        print(
            f"no registry at {args.data}; generate it with benchmarks/bench_synth.py",
            file=sys.stderr,
        )
        return 2

    t0 = time.perf_counter()
    registry = load_registry(args.data)
    t_load = time.perf_counter() - t0
    rows = {t: registry.raw[t].select(pl.len()).collect().item() for t in sorted(registry.present)}
    t1 = time.perf_counter()
    result = validate_registry(registry, index_date=args.index_date, progress=True)
    t_validate = time.perf_counter() - t1
    total = time.perf_counter() - t0

    s = result.summary
    print(f"registry: {args.data}")
    print("rows: " + ", ".join(f"{t} {n:,}" for t, n in rows.items()))
    print(
        f"checks: {s.height}; "
        + ", ".join(f"{st} {n}" for st, n in s.group_by("status").len().sort("status").iter_rows())
    )
    print(f"failing rows recorded: {result.unexpected.height:,}")
    print(f"load: {t_load:.1f} s; validate: {t_validate:.1f} s; total: {total:.1f} s")
    print(f"peak memory: {_peak_gib():.2f} GiB")
    ok = t_validate < 180 and _peak_gib() < 12
    print("target (validate < 180 s, peak < 12 GiB):", "met" if ok else "NOT met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
