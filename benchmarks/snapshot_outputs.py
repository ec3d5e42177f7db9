"""Write patient_status, funnel and impact of every shipped myeloma protocol, in fixed-date
and event mode, for one registry: the files a refactor must leave byte-identical.

    python benchmarks/snapshot_outputs.py REGISTRY OUT_DIR [--engine polars]
    diff -r OUT_BEFORE OUT_AFTER        # no output: nothing changed

Run it on the committed sample and on a 30,000-patient synthetic registry
(``feasibility synth --patients 30000 --seed 7 --out /tmp/reg30k``) with the code before
and after a change (e.g. a ``git worktree`` of the old commit on PYTHONPATH).
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import feasibility as fz
from feasibility.csvsafe import write_csv

PROTOCOLS = ("pomalidomide-ixazomib-dex", "isatuximab-pomalidomide-dex")
MODES = {
    "fixed": dt.date(2024, 6, 30),
    "event": fz.IndexEvents(
        table="therapies",
        where="line_number >= 2",
        start=dt.date(2020, 1, 1),
        end=dt.date(2024, 6, 30),
    ),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("registry")
    ap.add_argument("out")
    ap.add_argument("--engine", default="polars")
    args = ap.parse_args()
    reg = fz.load_registry(args.registry)
    for proto in PROTOCOLS:
        for mode, index in MODES.items():
            kw = (
                {} if args.engine == "polars" else {"engine": args.engine}
            )  # runs on older code too
            res = fz.screen(reg, proto, index, **kw)
            out = Path(args.out) / f"{proto}-{mode}"
            out.mkdir(parents=True, exist_ok=True)
            write_csv(res.patient_status, out / "patient_status.csv")
            write_csv(res.funnel(), out / "funnel.csv")
            write_csv(res.impact(), out / "impact.csv")
            print(f"{out}: {res.n_patients} patients, {res.n_eligible} eligible", flush=True)


if __name__ == "__main__":
    main()
