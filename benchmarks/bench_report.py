"""Benchmark: build the offline HTML report (suppression, charts, HTML) from a screened
registry; print the time of each stage, the peak memory and the report size.

    python benchmarks/bench_report.py                       # data_samples/registry (5,000)
    python benchmarks/bench_report.py --data benchmarks/_data/registry_1m

Stages: load + screen (not the report's cost, shown for context), data-quality validation
(optional, ``--validate``), then ``build_report`` twice: cold (builds the Vega bundle when
not cached) and warm. The report's own cost is independent of the registry size except for
the cohort-by-step table and the histograms, which are single polars aggregations.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import tempfile
import time
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parent.parent / "data_samples" / "registry"


def _peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--index-date", default="2024-06-30")
    parser.add_argument("--validate", action="store_true", help="include GX validation")
    args = parser.parse_args(argv)

    from feasibility.engine import screen
    from feasibility.protocol import load_protocol
    from feasibility.registry import load_registry
    from feasibility.report import build_report

    t0 = time.perf_counter()
    registry = load_registry(args.data)
    protocol = load_protocol("pomalidomide-ixazomib-dex")
    result = screen(registry, protocol, dt.date.fromisoformat(args.index_date))
    n = result.funnel()["remaining"][0]
    t1 = time.perf_counter()
    print(f"patients: {n:,}")
    print(f"load + screen: {t1 - t0:.2f} s")
    validation = None
    if args.validate:
        from feasibility.quality import validate_registry

        validation = validate_registry(registry, index_date=args.index_date)
        t2 = time.perf_counter()
        print(f"validation: {t2 - t1:.2f} s")
    with tempfile.TemporaryDirectory() as tmp:
        for run in ("cold", "warm"):
            s = time.perf_counter()
            path = build_report(
                Path(tmp) / run, protocol, result, registry=registry, validation=validation
            )
            print(f"build_report ({run}): {time.perf_counter() - s:.2f} s")
        print(f"report.html: {path.stat().st_size / 1e6:.2f} MB")
    print(f"peak RSS: {_peak_gib():.2f} GiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
