"""Benchmark: screening an OMOP CDM export against the same registry in the native format.

    python benchmarks/bench_omop.py                      # 1,000,000 patients (benchmarks/_data)
    python benchmarks/bench_omop.py --patients 100000 --dir /tmp/bench_omop

Generates the native registry (seed 1, realistic defects; not timed) if missing, exports it
as an OMOP CDM 5.4 database with ``feasibility.omop.write_omop`` (timed, reported), then
times ``load_registry`` + ``screen`` + funnel of ``pomalidomide-ixazomib-dex`` at one index
date on each, each in a fresh process (peak memory per process), native first. Target:
the OMOP screen within 1.5x the native one. The OMOP time includes mapping the OMOP tables
to the registry tables (small tables eagerly; measurements, assessments and lesions stay
lazy queries over the OMOP files, read by the screen for the columns it needs).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIR = ROOT / "benchmarks" / "_data"


def _peak_gib() -> float:
    """Peak resident memory of this process (VmHWM: reset by exec, unlike ru_maxrss)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024**2
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def _screen(path: Path, protocol: str, index_date: str) -> dict:
    """Load + screen + funnel in this process; the figures as a dict."""
    from feasibility.engine import screen
    from feasibility.protocol import load_protocol
    from feasibility.registry import load_registry

    t0, c0 = time.perf_counter(), time.process_time()
    registry = load_registry(path)
    t1 = time.perf_counter()
    result = screen(registry, load_protocol(protocol), dt.date.fromisoformat(index_date))
    funnel = result.funnel()
    t2 = time.perf_counter()
    return {
        "load_s": round(t1 - t0, 2),
        "screen_s": round(t2 - t1, 2),
        "total_s": round(t2 - t0, 2),
        "cpu_s": round(time.process_time() - c0, 2),
        "peak_gib": round(_peak_gib(), 2),
        "patients": result.n_patients,
        "eligible": int(funnel["remaining"][-1]),
    }


def _in_child(path: Path, args: argparse.Namespace) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [sys.executable, __file__, "--child", str(path), "--protocol", args.protocol,
         "--index-date", args.index_date],
        capture_output=True, text=True, env=env, check=True,
    )  # fmt: skip
    return json.loads(run.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--protocol", default="pomalidomide-ixazomib-dex")
    parser.add_argument("--index-date", default="2024-06-30")
    parser.add_argument(
        "--native",
        type=Path,
        help="an existing native registry generated with these settings (seed 1, realistic "
        "defects; e.g. benchmarks/_data/registry_1m) instead of DIR/registry_N",
    )
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_screen(args.child, args.protocol, args.index_date)))
        return 0

    sys.path.insert(0, str(ROOT))
    from feasibility.omop import write_omop
    from feasibility.registry import load_registry
    from feasibility.synth import generate_registry

    native = args.native or args.dir / f"registry_{args.patients}"
    omop = args.dir / f"omop_{args.patients}"
    print(f"load average before: {os.getloadavg()}", flush=True)
    if not (native / "patients.parquet").exists():
        t0 = time.perf_counter()
        generate_registry(args.patients, 1, native, format="parquet", defects="realistic")
        print(f"generated {native} in {time.perf_counter() - t0:.1f} s", flush=True)
    if not (omop / "person.parquet").exists():
        t0 = time.perf_counter()
        rows = write_omop(load_registry(native), omop)
        print(
            f"exported OMOP {omop}: {sum(rows.values()):,} rows in "
            f"{time.perf_counter() - t0:.1f} s (peak {_peak_gib():.2f} GiB)",
            flush=True,
        )
    a = _in_child(native, args)
    print(f"native: {a}", flush=True)
    b = _in_child(omop, args)
    print(f"omop:   {b}", flush=True)
    ratio = b["total_s"] / a["total_s"]
    same = a["patients"] == b["patients"] and a["eligible"] == b["eligible"]
    print(f"ratio omop/native (load + screen + funnel): {ratio:.2f} (target <= 1.5: "
          f"{'met' if ratio <= 1.5 else 'NOT met'}); same counts: {same}")  # fmt: skip
    print(f"load average after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
