"""Benchmark: load a large registry and screen it with the full protocol; print wall time
and peak memory.

    python benchmarks/bench_screen.py                        # benchmarks/_data/registry_1m
    python benchmarks/bench_screen.py --data /tmp/reg --events

Target on the project machine (2 cores, 24 GiB): 1,000,000 patients from Parquet, load +
screen + funnel in under 20 s and under 6 GiB peak resident memory. By default the
registry is loaded as ``feasibility screen`` loads it (typed Parquet tables deferred, then
scanned by the screen for the columns it needs); ``--eager`` loads every table whole first. If the registry is
missing, ``--generate`` writes it first with ``feasibility.synth`` (not timed).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import sys
import time
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parent / "_data" / "registry_1m"


def _cpu() -> float:
    """CPU seconds of this process (all threads): less sensitive than wall time to other
    work on a shared machine."""
    return time.process_time()


def _peak_gib() -> float:
    """Peak resident memory of this process in GiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--protocol", default="pomalidomide-ixazomib-dex")
    parser.add_argument("--index-date", default="2024-06-30")
    parser.add_argument(
        "--events", action="store_true", help="also time event mode (lines >= 2 in 2022-2024)"
    )
    parser.add_argument(
        "--generate", type=int, metavar="N", help="generate N patients first if --data is missing"
    )
    parser.add_argument(
        "--write", type=Path, help="also write the outputs to this directory (timed)"
    )
    parser.add_argument(
        "--eager",
        action="store_true",
        help="load every table whole first (load_registry(defer=False)), as validation does",
    )
    args = parser.parse_args(argv)

    if not args.data.exists():
        if not args.generate:
            print(f"no registry at {args.data}; run with --generate 1000000", file=sys.stderr)
            return 2
        from feasibility.synth import generate_registry

        print(
            f"generating {args.generate:,} patients into {args.data} (not timed)", file=sys.stderr
        )
        generate_registry(args.generate, 1, args.data, format="parquet")

    from feasibility.engine import IndexEvents, screen
    from feasibility.protocol import load_protocol
    from feasibility.registry import load_registry

    print(f"load average   {os.getloadavg()[0]:.1f} (2 cores; > 2 means other work competes)")
    t0, c0 = time.perf_counter(), _cpu()
    registry = load_registry(args.data, defer=not args.eager)
    t_load, c_load = time.perf_counter(), _cpu()
    peak_load = _peak_gib()
    result = screen(registry, load_protocol(args.protocol), args.index_date)
    t_screen, c_screen = time.perf_counter(), _cpu()
    funnel = result.funnel()
    status = result.patient_status
    impact = result.impact()
    t_funnel, c_funnel = time.perf_counter(), _cpu()
    print(
        f"registry       {args.data}  ({'loaded whole' if args.eager else 'typed Parquet tables deferred: the screen scans them'})"
    )
    print(
        f"patients       {status.height:,}   eligible {funnel['remaining'][-1]:,}   with unknowns {funnel['remaining_with_unknown'][-1]:,}"
    )
    print(
        f"load           {t_load - t0:6.2f} s wall  {c_load - c0:6.2f} s CPU   peak RSS {peak_load:.2f} GiB"
    )
    print(f"screen         {t_screen - t_load:6.2f} s wall  {c_screen - c_load:6.2f} s CPU")
    print(
        f"funnel+status  {t_funnel - t_screen:6.2f} s wall  {c_funnel - c_screen:6.2f} s CPU  ({impact.height} impact rows)"
    )
    print(
        f"total          {t_funnel - t0:6.2f} s wall  {c_funnel - c0:6.2f} s CPU   peak RSS {_peak_gib():.2f} GiB"
    )
    met = t_funnel - t0 < 20 and _peak_gib() < 6
    print(f"target (load + screen + funnel < 20 s, peak < 6 GiB): {'met' if met else 'NOT met'}")
    t1, c1 = time.perf_counter(), _cpu()
    again = result.rescreen(result.protocol)
    again.funnel()
    print(
        f"screen again from memory (engine only, registry already loaded) "
        f"{time.perf_counter() - t1:6.2f} s wall  {_cpu() - c1:6.2f} s CPU"
    )
    t1 = time.perf_counter()
    relaxed = result.relax("hemoglobin", threshold=7.5)
    relaxed.funnel()
    print(f"relax (hemoglobin 7.5, from memory) {time.perf_counter() - t1:6.2f} s")
    if args.write:
        t2 = time.perf_counter()
        result.write(args.write)
        print(f"write outputs  {time.perf_counter() - t2:6.2f} s")
    if args.events:
        t3 = time.perf_counter()
        ev = IndexEvents(
            "therapies",
            where="line_number >= 2",
            start=dt.date(2022, 1, 1),
            end=dt.date(2024, 12, 31),
        )
        er = result.rescreen(result.protocol, ev)
        f = er.funnel()
        print(
            f"event mode     {time.perf_counter() - t3:6.2f} s  pairs {er._pairs.height:,}  "
            f"with index {f['remaining'][1]:,}  eligible {f['remaining'][-1]:,}"
        )
    print(f"peak RSS       {_peak_gib():.2f} GiB   load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
