"""Benchmark: load a large registry and collect every normalised table.

Prints wall time per phase and peak RSS. The target (whole screen of a
1,000,000-patient registry under 20 s and 6 GiB) includes this load, so the load
alone should stay well inside it.

Usage::

    python benchmarks/bench_load.py --patients 1000000 [--data DIR] [--format parquet|csv]

Without ``--data`` a synthetic registry is written (once, cached) under
``/tmp/feasibility-bench-<patients>-<format>``: by the project's generator
(``feasibility.synth``) when it is installed, else by a quick numpy stand-in
with about 50 measurements and 10 assessments per patient.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

from feasibility.schema import ASSESSMENT_ITEMS, TESTS


def _ids(idx: pl.Expr) -> pl.Expr:
    return pl.format("P{}", idx.cast(pl.String).str.zfill(7))


def _dates(rng: np.random.Generator, n: int, lo: str, hi: str) -> pl.Series:
    lo_d, hi_d = np.datetime64(lo), np.datetime64(hi)
    days = rng.integers(0, int((hi_d - lo_d).astype(int)), n)
    return pl.Series((lo_d + days).astype("datetime64[D]"))


def make_quick_registry(n: int, out: Path, fmt: str, seed: int = 1) -> None:
    """Write a plausible-shaped registry fast (not the project generator: no clinical realism)."""
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)

    def pick(values: list[str], size: int) -> pl.Series:
        return pl.Series(values, dtype=pl.String).gather(rng.integers(0, len(values), size))

    def pids(size: int) -> pl.Series:
        return pl.select(_ids(pl.Series(rng.integers(1, n + 1, size)))).to_series()

    def write(name: str, df: pl.DataFrame) -> None:
        if fmt == "parquet":
            df.write_parquet(out / f"{name}.parquet")
        else:
            df.write_csv(out / f"{name}.csv")
        print(f"  wrote {name}: {df.height:,} rows", file=sys.stderr)

    write(
        "patients",
        pl.DataFrame(
            {
                "patient_id": pl.select(_ids(pl.int_range(1, n + 1, eager=True))).to_series(),
                "sex": pick(["F", "M", "M", "F", "U"], n),
                "birth_date": _dates(rng, n, "1930-01-01", "2000-01-01"),
                "race": pick(["white", "black", "asian", None], n),
                "ethnicity": pick(["hispanic", "not hispanic", None], n),
                "site": pick([f"site{i}" for i in range(20)], n),
                "death_date": _dates(rng, n, "2020-01-01", "2030-01-01").set(
                    pl.Series(rng.random(n) < 0.9), None
                ),
            }
        ),
    )
    m = 50 * n
    tests = list(TESTS)
    test_idx = rng.integers(0, len(tests), m)
    units = np.empty(m, dtype=object)
    for i, name in enumerate(tests):
        sel = test_idx == i
        accepted = list(TESTS[name].factors) + ["mmol/L"]  # a few out-of-vocabulary units
        probs = np.full(len(accepted), 0.999 / (len(accepted) - 1))
        probs[-1] = 0.001
        units[sel] = np.asarray(accepted, dtype=object)[
            rng.choice(len(accepted), sel.sum(), p=probs)
        ]
    write(
        "measurements",
        pl.DataFrame(
            {
                "patient_id": pids(m),
                "test": pl.Series(np.asarray(tests, dtype=object)[test_idx]),
                "value": np.round(rng.gamma(2.0, 50.0, m), 2),
                "unit": pl.Series(units),
                "measured_on": _dates(rng, m, "2018-01-01", "2025-06-30"),
            }
        ),
    )
    a = 10 * n
    items = list(ASSESSMENT_ITEMS)
    item_idx = rng.integers(0, len(items), a)
    values = np.empty(a, dtype=object)
    for i, item in enumerate(items):
        sel = item_idx == i
        values[sel] = np.asarray(ASSESSMENT_ITEMS[item], dtype=object)[
            rng.integers(0, len(ASSESSMENT_ITEMS[item]), sel.sum())
        ]
    write(
        "assessments",
        pl.DataFrame(
            {
                "patient_id": pids(a),
                "item": pl.Series(np.asarray(items, dtype=object)[item_idx]),
                "value": pl.Series(values),
                "assessed_on": _dates(rng, a, "2018-01-01", "2025-06-30"),
            }
        ),
    )
    d = 3 * n
    write(
        "diagnoses",
        pl.DataFrame(
            {
                "patient_id": pids(d),
                "code": pick(
                    ["C90.0", "C900", "c90.1", "I48.0", "B20", "K90.0", "Z21", "E11.9"], d
                ),
                "diagnosed_on": _dates(rng, d, "2010-01-01", "2025-06-30"),
            }
        ),
    )
    md = 3 * n
    write(
        "medications",
        pl.DataFrame(
            {
                "patient_id": pids(md),
                "drug": pick(
                    ["Rifampicin", "ciprofloxacin ", "aspirin", "St Johns Wort", "dexamethasone"],
                    md,
                ),
                "route": pick(["oral", "topical", None, "iv"], md),
                "start_date": _dates(rng, md, "2015-01-01", "2025-06-30"),
                "end_date": _dates(rng, md, "2025-07-01", "2026-06-30"),
            }
        ),
    )
    write(
        "procedures",
        pl.DataFrame(
            {
                "patient_id": pids(n),
                "category": pick(
                    ["major_surgery", "radiotherapy", "bone_marrow_biopsy", "other"], n
                ),
                "performed_on": _dates(rng, n, "2015-01-01", "2025-06-30"),
            }
        ),
    )
    write(
        "lesions",
        pl.DataFrame(
            {
                "patient_id": pids(n),
                "imaged_on": _dates(rng, n, "2015-01-01", "2025-06-30"),
                "site": pick(["chest wall", "liver", "skin", "paraspinal"], n),
                "longest_diameter_cm": np.round(rng.gamma(2.0, 1.5, n), 1),
                "bone_contiguous": pl.Series(rng.random(n) < 0.5),
            }
        ),
    )
    t = int(2.5 * n)
    write(
        "therapies",
        pl.DataFrame(
            {
                "patient_id": pids(t),
                "line_number": rng.integers(1, 6, t),
                "regimen": pick(["VRd", "KRd", "DRd", "PomDex"], t),
                "start_date": _dates(rng, t, "2015-01-01", "2025-06-30"),
                "end_date": _dates(rng, t, "2015-01-01", "2026-06-30"),
                "investigational": pl.Series(rng.random(t) < 0.05),
            }
        ),
    )


def make_registry(n: int, out: Path, fmt: str) -> str:
    """Write the registry with the project generator if present, else the quick stand-in."""
    try:
        from feasibility.synth import generate_registry
    except ImportError:
        make_quick_registry(n, out, fmt)
        return "quick numpy stand-in"
    generate_registry(n, seed=1, out_dir=out, format=fmt, defects="realistic")
    return "feasibility.synth"


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def current_rss_gib() -> float:
    """Resident memory now (Linux /proc), to tell the retained tables from the load peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024**2
    except OSError:
        pass
    return float("nan")


def cpu_seconds() -> float:
    """User + system CPU time of this process (all threads): robust to a busy machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=1_000_000)
    parser.add_argument("--format", choices=["parquet", "csv"], default="parquet")
    parser.add_argument("--data", type=Path, help="an existing registry directory")
    args = parser.parse_args()

    data = args.data
    if data is None:
        data = Path(f"/tmp/feasibility-bench-{args.patients}-{args.format}")
        if not (data / "patients.parquet").exists() and not (data / "patients.csv").exists():
            t0 = time.perf_counter()
            source = make_registry(args.patients, data, args.format)
            print(f"generated {data} with {source} in {time.perf_counter() - t0:.1f} s")
    rss_before = peak_rss_gib()

    from feasibility.registry import load_registry

    load_before = os.getloadavg()[0]
    t0, c0 = time.perf_counter(), cpu_seconds()
    # defer=False: every table read, normalised and de-duplicated now (the default defers
    # typed Parquet tables until first use; bench_screen times that path)
    reg = load_registry(data, progress=True, defer=False)
    t_load, c_load = time.perf_counter() - t0, cpu_seconds() - c0
    rss_after_load, peak_after_load = current_rss_gib(), peak_rss_gib()
    t1 = time.perf_counter()
    rows = {name: lf.select(pl.len()).collect().item() for name, lf in reg.tables.items()}
    frames = {name: lf.collect() for name, lf in reg.tables.items()}
    t_collect = time.perf_counter() - t1
    size_gib = sum(df.estimated_size() for df in frames.values()) / 1024**3

    print(f"registry: {data}")
    for name, count in rows.items():
        print(f"  {name:13s} {count:>12,} rows  {frames[name].estimated_size() / 1024**2:8.1f} MiB")
    print(f"set aside:\n{reg.set_aside}")
    print(f"load_registry: {t_load:.2f} s wall, {c_load:.2f} s CPU (2 cores: wall >= CPU / 2)")
    print(f"machine load average before/after: {load_before:.1f} / {os.getloadavg()[0]:.1f}")
    print(f"collect all normalised tables: {t_collect:.2f} s")
    print(f"normalised tables in memory: {size_gib:.2f} GiB")
    print(f"peak RSS during load: {peak_after_load:.2f} GiB (before load: {rss_before:.2f} GiB)")
    print(f"RSS right after load (tables held): {rss_after_load:.2f} GiB")
    print(f"peak RSS including collecting every table: {peak_rss_gib():.2f} GiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
