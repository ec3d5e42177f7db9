"""Benchmark: `feasibility screen` beside a hand-written DuckDB SQL screen of the same
protocol (benchmarks/duckdb_screen.py), on the same registry, in turn, in one run.

    python benchmarks/bench_vs_duckdb.py --data benchmarks/_data/registry_1m --repeat 3

Each run is a fresh process (so peak memory is its own), measured with ``os.wait4``: wall
time, CPU time (user + system, all threads) and peak resident memory. Runs alternate
(feasibility, duckdb, feasibility, ...) so a noisy machine affects both alike; the medians
and their ratios are printed. Both write their outputs (the CLI: patient_status.csv,
funnel.csv, impact.csv, evidence.parquet; DuckDB: patient_status.csv, funnel.csv).
Target (issue 12): feasibility / duckdb <= 1.0 in wall, CPU and memory.

The two statuses are then compared criterion by criterion: the SQL is an independent
reading of the contract, so any difference is printed with an example patient.

Then two figures of feasibility alone, one run each (fresh processes too): event mode
(``--index-events therapies --index-where "line_number >= 2"``, index 2022-2024, outputs
written) and relax from memory (in one process: screen, then ``relax("hemoglobin",
threshold=7.5)`` from the tables the screen kept; the relax is timed on its own and set
beside a DuckDB re-run, which is what changing a threshold costs with the SQL).
``--no-extra`` skips them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def measure(cmd: list[str]) -> dict[str, float]:
    """Run ``cmd`` to completion; its wall time, CPU time and peak RSS (GiB)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    err = proc.stderr.read().decode() if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{err}")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss": usage.ru_maxrss / 1024**2}


RELAX = """
import json, resource, sys, time
import feasibility as fz
t0, c0 = time.perf_counter(), time.process_time()
reg = fz.load_registry(sys.argv[1])
res = fz.screen(reg, "pomalidomide-ixazomib-dex", sys.argv[2])
t1, c1 = time.perf_counter(), time.process_time()
relaxed = res.relax("hemoglobin", threshold=7.5)
n = relaxed.n_eligible
t2, c2 = time.perf_counter(), time.process_time()
print(json.dumps({"screen_wall": t1 - t0, "screen_cpu": c1 - c0, "relax_wall": t2 - t1,
                  "relax_cpu": c2 - c1, "eligible": res.n_eligible, "relaxed_eligible": n,
                  "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2}))
"""


def measure_json(cmd: list[str]) -> dict[str, float]:
    """Run ``cmd`` (which prints one JSON line of figures); its figures and peak RSS."""
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:3])} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def compare(ours: Path, theirs: Path) -> list[str]:
    """Criteria whose statuses differ between the two screens, with counts and an example."""
    import polars as pl

    a = pl.read_csv(ours / "patient_status.csv", infer_schema=False)
    b = pl.read_csv(theirs / "patient_status.csv", infer_schema=False)
    lines = [f"patients: feasibility {a.height:,}, duckdb {b.height:,}"]
    joined = a.join(b, on="patient_id", how="inner", suffix="_sql")
    for column in a.columns:
        if column in ("patient_id", "index_date") or f"{column}_sql" not in joined.columns:
            continue
        diff = joined.filter(pl.col(column) != pl.col(f"{column}_sql"))
        if diff.height:
            pid, x, y = diff.select("patient_id", column, f"{column}_sql").row(0)
            lines.append(f"  {column}: {diff.height:,} differ (e.g. {pid}: {x} vs {y})")
    if len(lines) == 1:
        lines.append("  every status identical")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=HERE / "_data" / "registry_1m")
    parser.add_argument("--index-date", default="2024-06-30")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-extra", action="store_true", help="skip event mode and relax")
    args = parser.parse_args(argv)
    if not args.data.exists():
        print(
            f"no registry at {args.data}: feasibility synth --patients 1000000 --seed 1 --out {args.data}",
            file=sys.stderr,
        )
        return 2
    work = Path(tempfile.mkdtemp(prefix="bench_vs_duckdb_"))
    ours_cmd = [
        sys.executable,
        "-m",
        "feasibility.cli",
        "screen",
        "--data",
        str(args.data),
        "--protocol",
        "pomalidomide-ixazomib-dex",
        "--index-date",
        args.index_date,
    ]
    sql_cmd = [
        sys.executable,
        str(HERE / "duckdb_screen.py"),
        "--data",
        str(args.data),
        "--index-date",
        args.index_date,
    ]
    runs: dict[str, list[dict[str, float]]] = {"feasibility": [], "duckdb": []}
    print(f"registry {args.data}, index {args.index_date}, {args.repeat} runs each, in turn")
    print(f"load average before: {os.getloadavg()[0]:.1f} (2 cores)")
    for i in range(args.repeat):
        for name, cmd in (("feasibility", ours_cmd), ("duckdb", sql_cmd)):
            out = work / f"{name}_{i}"
            if out.exists():
                subprocess.run(["rm", "-rf", str(out)], check=True)
            r = measure([*cmd, "--out", str(out)])
            runs[name].append(r)
            print(
                f"  {name:<12} run {i + 1}: {r['wall']:7.2f} s wall {r['cpu']:7.2f} s CPU {r['rss']:6.2f} GiB"
            )
    med = {
        n: {k: statistics.median(r[k] for r in rs) for k in ("wall", "cpu", "rss")}
        for n, rs in runs.items()
    }
    print(f"{'median':<14}{'wall s':>10}{'CPU s':>10}{'peak GiB':>10}")
    for name, m in med.items():
        print(f"{name:<14}{m['wall']:10.2f}{m['cpu']:10.2f}{m['rss']:10.2f}")
    ratio = {k: med["feasibility"][k] / med["duckdb"][k] for k in ("wall", "cpu", "rss")}
    print(
        f"{'ratio':<14}{ratio['wall']:10.2f}{ratio['cpu']:10.2f}{ratio['rss']:10.2f}"
        f"   (feasibility / duckdb; target <= 1.00: {'met' if max(ratio.values()) <= 1 else 'NOT met'})"
    )
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    print("agreement (independent SQL reading of the contract):")
    for line in compare(work / "feasibility_0", work / "duckdb_0"):
        print(line)
    if not args.no_extra:
        extra(args, ours_cmd, work, med["duckdb"])
    return 0


def extra(args: argparse.Namespace, ours_cmd: list[str], work: Path, sql: dict) -> None:
    """Event mode and relax from memory (feasibility only, one run each)."""
    events = [
        *ours_cmd[: ours_cmd.index("--index-date")],
        "--index-events",
        "therapies",
        "--index-where",
        "line_number >= 2",
        "--index-from",
        "2022-01-01",
        "--index-to",
        "2024-12-31",
        "--out",
        str(work / "feasibility_events"),
    ]
    r = measure(events)
    print(
        f"event mode (therapy lines >= 2 starting 2022-2024, outputs written): "
        f"{r['wall']:.2f} s wall {r['cpu']:.2f} s CPU {r['rss']:.2f} GiB"
    )
    f = measure_json([sys.executable, "-c", RELAX, str(args.data), args.index_date])
    print(
        f"relax hemoglobin to 7.5 g/dL from memory: {f['relax_wall']:.2f} s wall "
        f"{f['relax_cpu']:.2f} s CPU (after a screen of {f['screen_wall']:.2f} s wall "
        f"{f['screen_cpu']:.2f} s CPU in the same process; peak {f['rss']:.2f} GiB; "
        f"eligible {f['eligible']:,} -> {f['relaxed_eligible']:,})"
    )
    print(
        f"  relax / DuckDB re-run: {f['relax_wall'] / sql['wall']:.2f} wall, "
        f"{f['relax_cpu'] / sql['cpu']:.2f} CPU"
    )


if __name__ == "__main__":
    sys.exit(main())
