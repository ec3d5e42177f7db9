"""Benchmark: `feasibility screen --engine spark` (local Spark) beside the polars engine, and
how the Spark run grows with the registry (time, shuffle bytes).

    # 1M patients: polars and Spark in turn, ratios, outputs compared byte for byte
    python benchmarks/bench_spark.py compare --data benchmarks/_data/registry_1m --repeat 2
    # scaling: one Spark run per registry (and, with --polars, a polars run beside it)
    python benchmarks/bench_spark.py scale --data /tmp/reg_200k --data benchmarks/_data/registry_1m --data /tmp/reg_5m
    # identity (issue 13 point 3): both myeloma protocols x fixed and event mode, polars
    # and Spark, patient_status/funnel/impact compared byte for byte, one line per file
    python benchmarks/bench_spark.py identity --data data_samples/registry
    python benchmarks/bench_spark.py identity --data /work/data_c2/registry_200k --only isatuximab-pomalidomide-dex:event

Every run is a fresh process running exactly ``feasibility screen`` (through
``feasibility.cli.main``), measured from outside over its whole process tree (the Spark
JVM is a child of the Python driver): wall time, CPU time (user + system of every process
of the tree) and peak resident memory of the tree (sum over processes, sampled every
0.2 s). A Spark run also reports, from Spark's status store (the live ``AppStatusStore``
of the SparkContext, which exists with the UI off), the sum over its completed stages of
shuffle write and read bytes, input bytes, spilled bytes, executor run time, and the
number of stages and tasks. ``compare`` writes each engine's patient_status.csv,
funnel.csv and impact.csv and checks they are byte-identical.

Registries: ``feasibility synth --patients N --seed 1 --out DIR`` (population setting).
Spark settings: ``--spark-master`` (default local[*]) and repeatable ``--spark-conf``.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
COMPARED = ("patient_status.csv", "funnel.csv", "impact.csv")
#: Keep every stage in the status store (defaults: 1,000 stages, 1,000 jobs).
STORE_CONF = {
    "spark.ui.retainedStages": "100000",
    "spark.ui.retainedJobs": "100000",
    "spark.sql.ui.retainedExecutions": "10000",
}


# --------------------------------------------------------------------- the measured process


def _stage_metrics(spark) -> dict[str, float]:
    """Sums over the completed stages in the SparkContext's status store."""
    store = spark.sparkContext._jsc.sc().statusStore()
    defaults = [getattr(store, f"stageList$default${i}")() for i in (2, 3, 4, 5)]
    it = store.stageList(None, *defaults).iterator()
    out = {
        "stages": 0,
        "tasks": 0,
        "shuffle_write_bytes": 0,
        "shuffle_read_bytes": 0,
        "input_bytes": 0,
        "spill_disk_bytes": 0,
        "spill_memory_bytes": 0,
        "executor_run_s": 0.0,
        "max_stage_shuffle_write_bytes": 0,
    }
    while it.hasNext():
        s = it.next()
        if s.status().toString() != "COMPLETE":
            continue
        out["stages"] += 1
        out["tasks"] += int(s.numCompleteTasks())
        out["shuffle_write_bytes"] += int(s.shuffleWriteBytes())
        out["shuffle_read_bytes"] += int(s.shuffleReadBytes())
        out["input_bytes"] += int(s.inputBytes())
        out["spill_disk_bytes"] += int(s.diskBytesSpilled())
        out["spill_memory_bytes"] += int(s.memoryBytesSpilled())
        out["executor_run_s"] += int(s.executorRunTime()) / 1000
        out["max_stage_shuffle_write_bytes"] = max(
            out["max_stage_shuffle_write_bytes"], int(s.shuffleWriteBytes())
        )
    return out


def worker(argv: list[str]) -> int:
    """``_run ENGINE JSON_OUT -- <feasibility screen arguments>``: run the command in this
    process and, for Spark, dump the status store's stage totals to JSON_OUT."""
    engine, json_out = argv[0], Path(argv[1])
    args = argv[3:]
    from feasibility.cli import main

    t0 = time.perf_counter()
    code = main(["screen", *args])
    seconds = time.perf_counter() - t0
    metrics: dict[str, float] = {"command_s": seconds}
    if engine == "spark" and code == 0:
        from feasibility.spark.session import get_session

        metrics.update(_stage_metrics(get_session()))
    json_out.write_text(json.dumps(metrics), encoding="utf-8")
    return code


# --------------------------------------------------------------------- measuring from outside


def _tree(pid: int):
    import psutil

    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def measure(cmd: list[str]) -> dict[str, float]:
    """Run ``cmd``; wall time, CPU time and peak RSS (GiB) of its whole process tree."""
    import psutil

    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    cpu: dict[int, float] = {}
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            rss = 0
            for p in _tree(proc.pid):
                try:
                    with p.oneshot():
                        t = p.cpu_times()
                        cpu[p.pid] = t.user + t.system
                        rss += p.memory_info().rss
                except psutil.Error:
                    continue
            peak[0] = max(peak[0], rss)
            done.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    err = proc.stderr.read().decode() if proc.stderr else ""
    _, status, usage = os.wait4(proc.pid, 0)
    done.set()
    sampler.join()
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{err[-4000:]}")
    # the driver's own figure from wait4 (exact), other processes as last sampled
    own = usage.ru_utime + usage.ru_stime
    others = sum(v for k, v in cpu.items() if k != proc.pid)
    rss = max(peak[0], usage.ru_maxrss * 1024)
    return {"wall": wall, "cpu": own + others, "rss": rss / 1024**3, "stderr": err}


def run_screen(
    engine: str, data: Path, out: Path, args: argparse.Namespace
) -> dict[str, float | str]:
    json_out = out.with_suffix(".json")
    screen = [
        "--data",
        str(data),
        "--protocol",
        args.protocol,
        "--index-date",
        args.index_date,
        "--out",
        str(out),
        "--engine",
        engine,
        "--quiet",
    ]
    if engine == "spark":
        screen += ["--spark-master", args.spark_master]
        for key, value in {**STORE_CONF, **dict(c.split("=", 1) for c in args.spark_conf)}.items():
            screen += ["--spark-conf", f"{key}={value}"]
    cmd = [sys.executable, str(Path(__file__).resolve()), "_run", engine, str(json_out), "--"]
    result: dict[str, float | str] = dict(measure([*cmd, *screen]))
    result.update(json.loads(json_out.read_text(encoding="utf-8")))
    result["engine"] = engine
    result["data"] = str(data)
    return result


def patients(data: Path) -> int:
    import polars as pl

    files = sorted(data.glob("patients.*"))
    if not files:
        raise SystemExit(f"{data}: no patients table")
    f = files[0]
    lf = pl.scan_parquet(f) if f.suffix == ".parquet" else pl.scan_csv(f)
    return int(lf.select(pl.len()).collect().item())


def _gib(b: float) -> str:
    return f"{b / 1024**3:.2f} GiB"


def _line(r: dict) -> str:
    text = f"{r['engine']:>6}: wall {r['wall']:7.1f} s, CPU {r['cpu']:7.1f} s, peak RSS {r['rss']:5.2f} GiB"
    if r["engine"] == "spark":
        text += (
            f"; shuffle write {_gib(r['shuffle_write_bytes'])}, read {_gib(r['shuffle_read_bytes'])}, "
            f"input {_gib(r['input_bytes'])}, spill {_gib(r['spill_disk_bytes'])} disk, "
            f"{r['stages']} stages / {r['tasks']} tasks, executor time {r['executor_run_s']:.0f} s"
        )
    return text


def compare(args: argparse.Namespace) -> int:
    data = args.data[0]
    work = Path(tempfile.mkdtemp(prefix="bench_spark_"))
    print(f"{data}: {patients(data):,} patients; master {args.spark_master}; work dir {work}")
    runs: dict[str, list[dict]] = {"polars": [], "spark": []}
    for i in range(args.repeat):
        for engine in ("polars", "spark"):
            r = run_screen(engine, data, work / f"{engine}{i}", args)
            runs[engine].append(r)
            print(f"run {i + 1}: {_line(r)}", flush=True)
    med = {
        e: {k: statistics.median(r[k] for r in rs) for k in ("wall", "cpu", "rss")}
        for e, rs in runs.items()
    }
    print("medians and ratios spark / polars:")
    for k, unit in (("wall", "s"), ("cpu", "s"), ("rss", "GiB")):
        p, s = med["polars"][k], med["spark"][k]
        print(f"  {k:>4}: polars {p:.2f} {unit}, spark {s:.2f} {unit}, ratio {s / p:.1f}x")
    same = all(
        filecmp.cmp(work / "polars0" / f, work / "spark0" / f, shallow=False) for f in COMPARED
    )
    print(f"outputs ({', '.join(COMPARED)}): {'byte-identical' if same else 'DIFFER'}")
    if args.json:
        Path(args.json).write_text(
            json.dumps({"runs": runs, "medians": med, "identical": same}, indent=1, default=str)
        )
    return 0 if same else 1


def scale(args: argparse.Namespace) -> int:
    work = Path(tempfile.mkdtemp(prefix="bench_spark_scale_"))
    print(f"master {args.spark_master}; work dir {work}")
    rows = []
    for data in args.data:
        n = patients(data)
        engines = ("polars", "spark") if args.polars else ("spark",)
        for engine in engines:
            r = run_screen(engine, data, work / f"{engine}_{n}", args)
            r["patients"] = n
            rows.append(r)
            print(f"{n:>10,} patients {_line(r)}", flush=True)
        if args.polars:
            same = all(
                filecmp.cmp(work / f"polars_{n}" / f, work / f"spark_{n}" / f, shallow=False)
                for f in COMPARED
            )
            print(f"{'':>19}outputs: {'byte-identical' if same else 'DIFFER'}")
    spark_rows = [r for r in rows if r["engine"] == "spark"]
    for a, b in zip(spark_rows, spark_rows[1:], strict=False):
        k = b["patients"] / a["patients"]
        print(
            f"{a['patients']:,} -> {b['patients']:,} patients (x{k:.1f}): wall x{b['wall'] / a['wall']:.2f}, "
            f"CPU x{b['cpu'] / a['cpu']:.2f}, shuffle x{b['shuffle_write_bytes'] / max(a['shuffle_write_bytes'], 1):.2f}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1, default=str))
    return 0


def _identity_run(engine: str, data: Path, proto: str, mode: str, out: Path) -> float:
    """One engine's patient_status/funnel/impact of ``proto`` in ``mode`` (the same calls
    and modes as ``benchmarks/snapshot_outputs.py``) written to ``out``; its seconds."""
    sys.path.insert(0, str(HERE))
    from snapshot_outputs import MODES

    import feasibility as fz
    from feasibility.csvsafe import write_csv

    t0 = time.perf_counter()
    reg = fz.load_registry(data)
    res = fz.screen(reg, proto, MODES[mode], engine=engine)
    out.mkdir(parents=True, exist_ok=True)
    write_csv(res.patient_status, out / "patient_status.csv")
    write_csv(res.funnel(), out / "funnel.csv")
    write_csv(res.impact(), out / "impact.csv")
    return time.perf_counter() - t0


def identity(args: argparse.Namespace) -> int:
    """Polars and Spark outputs of both protocols in both index modes, file by file."""
    sys.path.insert(0, str(HERE))
    from snapshot_outputs import MODES, PROTOCOLS

    data = args.data[0]
    work = Path(args.work or tempfile.mkdtemp(prefix="bench_spark_identity_"))
    combos = [(p, m) for p in PROTOCOLS for m in MODES]
    if args.only:
        combos = [tuple(c.split(":", 1)) for c in args.only]  # type: ignore[misc]
    print(f"{data}: {patients(data):,} patients; work dir {work}", flush=True)
    same_all = True
    for proto, mode in combos:
        seconds = {}
        for engine in ("polars", "spark"):
            target = work / engine / f"{proto}-{mode}"
            # each engine in a fresh process (the Spark JVM does not outlive its run)
            cmd = [sys.executable, str(Path(__file__).resolve()), "_identity", engine]
            cmd += [str(data), proto, mode, str(target)]
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode != 0:
                raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-4000:]}")
            seconds[engine] = float(done.stdout.strip().splitlines()[-1])
        for f in COMPARED:
            a, b = work / "polars" / f"{proto}-{mode}" / f, work / "spark" / f"{proto}-{mode}" / f
            same = filecmp.cmp(a, b, shallow=False)
            same_all &= same
            lines = sum(1 for _ in a.open(encoding="utf-8"))
            print(
                f"{proto} {mode:>5} {f:<18} {'identical' if same else 'DIFFERENT'} "
                f"({lines:,} lines; polars {seconds['polars']:.1f} s, spark {seconds['spark']:.1f} s)",
                flush=True,
            )
    print("all identical" if same_all else "SOME FILES DIFFER")
    return 0 if same_all else 1


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "_run":
        return worker(argv[1:])
    if argv and argv[0] == "_identity":
        engine, data, proto, mode, out = argv[1:6]
        print(f"{_identity_run(engine, Path(data), proto, mode, Path(out)):.3f}")
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("compare", "scale", "identity"))
    parser.add_argument(
        "--data", type=Path, action="append", help="registry directory (repeatable for scale)"
    )
    parser.add_argument("--protocol", default="pomalidomide-ixazomib-dex")
    parser.add_argument("--index-date", default="2024-06-30")
    parser.add_argument("--repeat", type=int, default=1, help="compare: runs per engine")
    parser.add_argument("--polars", action="store_true", help="scale: a polars run beside each")
    parser.add_argument("--spark-master", default="local[*]")
    parser.add_argument("--spark-conf", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--json", help="write the figures to this JSON file")
    parser.add_argument(
        "--only",
        action="append",
        metavar="PROTOCOL:MODE",
        help="identity: only this protocol and mode (fixed|event), repeatable",
    )
    parser.add_argument("--work", help="identity: directory for the outputs (default: a temp dir)")
    args = parser.parse_args(argv)
    if not args.data:
        args.data = [HERE / "_data" / "registry_1m"]
    for d in args.data:
        if not d.exists():
            print(
                f"no registry at {d}: feasibility synth --patients N --seed 1 --out {d}",
                file=sys.stderr,
            )
            return 2
    if args.mode == "identity":
        return identity(args)
    return compare(args) if args.mode == "compare" else scale(args)


if __name__ == "__main__":
    sys.exit(main())
