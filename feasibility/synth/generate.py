"""``generate_registry``: draw a synthetic myeloma registry and write it with its manifest.

Patients are drawn in chunks of ``chunk_size``; chunk ``i`` uses the random stream
``(seed, i)`` for its clinical data and ``(seed, i, 1)`` for its defects, so the same
seed gives the same bytes in every file, and the clean content of a registry does not
depend on the defect level (defects are planted on top of the same draw).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import polars as pl

from feasibility import __version__
from feasibility.errors import FeasibilityError
from feasibility.plausibility import AGE_RANGE, PLAUSIBLE_RANGES
from feasibility.schema import TABLES, TESTS
from feasibility.synth import defects as defect_module
from feasibility.synth.dates import CUTOFF, SHIFT_RANGE
from feasibility.synth.defects import (
    LEVELS,
    MISSING_COLUMNS,
    plant_table,
    rates_for,
)
from feasibility.synth.settings import DEFAULT_SETTING, SETTINGS, setting_for
from feasibility.synth.tables import build_chunk
from feasibility.synth.writer import FORMATS, TableWriter


class SynthError(FeasibilityError, ValueError):
    """Bad arguments to the generator (size, format, defect level, output directory)."""


CHUNK_SIZE = 50_000
ID_WIDTH = 8
DEFECTS_FILE = "_defects.csv"
MANIFEST_FILE = "_manifest.json"
DEFECT_COLUMNS = ("table", "row", "patient_id", "column", "defect")


def patient_ids(numbers: np.ndarray) -> pl.Series:
    """Patient ids as written: ``P`` + the number zero-padded to 8 digits."""
    return pl.select(
        pl.concat_str([pl.lit("P"), pl.Series(numbers).cast(pl.String).str.zfill(ID_WIDTH)])
    ).to_series()


def _with_ids(frame: pl.DataFrame, first: int, n: int) -> pl.DataFrame:
    """Replace the ``pid`` column by ``patient_id`` strings (gathered, not formatted per row)."""
    pid = frame["pid"].to_numpy()
    local = pid - first - 1
    inside = (local >= 0) & (local < n)
    ids = patient_ids(np.arange(first + 1, first + n + 1)).gather(
        pl.Series(np.where(inside, local, 0).astype(np.uint32))
    )
    if not inside.all():
        outside = np.nonzero(~inside)[0]
        ids = ids.scatter(outside, patient_ids(pid[outside]))
    return frame.drop("pid").with_columns(patient_id=ids)


def make_chunk(
    seed: int, i: int, first: int, n: int, n_total: int, rates: dict, setting: str
) -> list[tuple]:
    """Draw chunk ``i`` and plant its defects: (table, frame, rows, columns, classes) per table.

    Depends only on its arguments, so chunks can be made in worker processes.
    """
    chunk = build_chunk(np.random.default_rng([seed, i]), first, n, setting_for(setting))
    drng = np.random.default_rng([seed, i, 1])
    out = []
    for table in TABLES:
        planted = plant_table(drng, table, chunk.tables[table], rates, chunk.birth, chunk.death,
                              first, n_total)  # fmt: skip
        frame = _with_ids(planted.frame, first, n).select(list(TABLES[table]))
        out.append((table, frame, planted.rows, planted.columns, planted.classes))
    return out


def _run(jobs: list[tuple], workers: int) -> Iterator[list[tuple]]:
    """Chunks in order: made one by one, or ahead by ``workers`` threads while we write.

    Threads, not processes: numpy, polars and pyarrow release the GIL in their heavy
    parts, and frames need no pickling between threads.
    """
    if workers <= 0:
        for job in jobs:
            yield make_chunk(*job)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending = [pool.submit(make_chunk, *job) for job in jobs[:workers]]
        for k in range(len(jobs)):
            result = pending.pop(0).result()
            if k + workers < len(jobs):
                pending.append(pool.submit(make_chunk, *jobs[k + workers]))
            yield result


def _log(progress: bool | Callable[[str], None], message: str) -> None:
    if progress is True:
        print(f"synth: {message}", file=sys.stderr, flush=True)
    elif callable(progress):
        progress(message)


def generate_registry(
    n_patients: int,
    seed: int,
    out_dir: str | Path,
    format: str = "parquet",  # noqa: A002 - the documented keyword
    defects: str = "realistic",
    *,
    setting: str = DEFAULT_SETTING,
    chunk_size: int = CHUNK_SIZE,
    workers: int | None = None,
    progress: bool | Callable[[str], None] = False,
) -> dict:
    """Write a synthetic registry of ``n_patients`` to ``out_dir`` and return its manifest.

    Writes the eight contract tables as ``<table>.<format>``, ``_defects.csv`` (one row
    per planted defect: table, 1-based data row in the written file, patient_id, column,
    defect class) and ``_manifest.json`` (seed, size, defect level, rates, counts,
    plausible ranges). ``defects`` is ``none`` (a clean registry), ``realistic`` or
    ``heavy``. Table files of the other format in ``out_dir`` are removed so the
    directory holds exactly one registry.

    Raises :class:`SynthError` (a ``FeasibilityError`` and ``ValueError``) for bad
    arguments or an output path that is not a usable directory.

    ``setting``: ``population`` (a population-based registry: everyone diagnosed in an
    area, median age 69) or ``academic`` (a referral centre: younger, more high-risk
    disease and trial lines, 30% of relapsed patients first seen at relapse); see
    ``settings.py``.

    ``workers``: threads that draw chunks ahead while this one writes (default: one when
    there are more than two chunks, else none). The output does not depend on it.
    """
    if n_patients < 1:
        raise SynthError(f"n_patients must be at least 1, not {n_patients}")
    if format not in FORMATS:
        raise SynthError(f"format must be one of {', '.join(FORMATS)}, not {format!r}")
    if setting not in SETTINGS:
        raise SynthError(f"setting must be one of {', '.join(SETTINGS)}, not {setting!r}")
    if defects not in LEVELS:
        raise SynthError(f"defects must be one of {', '.join(LEVELS)}, not {defects!r}")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise SynthError(f"output {out} exists and is not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SynthError(f"cannot create output directory {out}: {exc.strerror}") from exc
    for table in TABLES:
        for fmt in FORMATS:
            (out / f"{table}.{fmt}").unlink(missing_ok=True)
    rates = rates_for(defects)
    writers = {t: TableWriter(out, t, format) for t in TABLES}
    records: list[pl.DataFrame] = []
    started = time.perf_counter()
    n_chunks = -(-n_patients // chunk_size)
    jobs = [
        (
            seed,
            i,
            i * chunk_size,
            min(chunk_size, n_patients - i * chunk_size),
            n_patients,
            rates,
            setting,
        )
        for i in range(n_chunks)
    ]
    if workers is None:
        workers = 1 if n_chunks > 2 else 0
    try:
        for job, tables in zip(jobs, _run(jobs, workers), strict=True):
            for table, frame, rows, columns, classes in tables:
                offset = writers[table].rows
                writers[table].write(frame)
                if len(rows):
                    records.append(
                        pl.DataFrame(
                            {
                                "table": [table] * len(rows),
                                "row": rows + offset + 1,
                                "patient_id": frame["patient_id"].gather(rows),
                                "column": pl.Series(columns, dtype=pl.String),
                                "defect": pl.Series(classes, dtype=pl.String),
                            }
                        )
                    )
            _log(progress, f"{job[2] + job[3]:,}/{n_patients:,} patients "
                 f"({time.perf_counter() - started:.1f}s)")  # fmt: skip
    finally:
        for w in writers.values():
            w.close()

    defect_frame = _defect_frame(records)
    defect_frame.write_csv(out / DEFECTS_FILE)
    manifest = _manifest(n_patients, seed, format, defects, chunk_size, rates, writers,
                         defect_frame)  # fmt: skip
    manifest["setting"] = setting
    (out / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    _log(progress, f"wrote {out} in {time.perf_counter() - started:.1f}s")
    return manifest


def _defect_frame(records: list[pl.DataFrame]) -> pl.DataFrame:
    schema = pl.Schema(
        {
            "table": pl.String(),
            "row": pl.Int64(),
            "patient_id": pl.String(),
            "column": pl.String(),
            "defect": pl.String(),
        }
    )
    if not records:
        return pl.DataFrame(schema=schema)
    order = {t: i for i, t in enumerate(TABLES)}
    df = pl.concat([r.cast(schema) for r in records])
    return (
        df.with_columns(_t=pl.col("table").replace_strict(order, return_dtype=pl.Int32))
        .sort(["_t", "row"])
        .drop("_t")
    )


def _manifest(n, seed, fmt, level, chunk_size, rates, writers, defects: pl.DataFrame) -> dict:
    classes = defect_module.DEFECT_CLASSES  # as extended by defects.enabled(), if active
    counts = {cls: 0 for cls in classes}
    by_table: dict[str, dict[str, int]] = {cls: {} for cls in classes}
    for (cls, table), k in (
        defects.group_by(["defect", "table"])
        .len()
        .rows_by_key(["defect", "table"], unique=True)
        .items()
    ):
        counts[cls] += k[0]
        by_table[cls][table] = k[0]
    return {
        "generator": "feasibility.synth",
        "version": __version__,
        "seed": seed,
        "n_patients": n,
        "format": fmt,
        "defects": level,
        "chunk_size": chunk_size,
        "tables": {t: {"file": f"{t}.{fmt}", "rows": w.rows} for t, w in writers.items()},
        "defect_classes": list(classes),
        "defect_rates": rates,
        "defect_rate_basis": (
            "fraction of the table's clean rows (before duplicate copies), drawn binomially "
            "per chunk of patients; after_death draws only among rows of patients who died"
        ),
        "defect_counts": counts,
        "defect_counts_by_table": {c: dict(sorted(t.items())) for c, t in by_table.items()},
        "defects_file": DEFECTS_FILE,
        "missing_value_columns": {t: list(c) for t, c in MISSING_COLUMNS.items()},
        "plausible_ranges": {
            test: {"low": lo, "high": hi, "unit": TESTS[test].canonical_unit}
            for test, (lo, hi) in PLAUSIBLE_RANGES.items()
        },
        "age_range": list(AGE_RANGE),
        "date_shift_days": list(SHIFT_RANGE),
        "date_shift": (
            "every date of a patient (birth, death, events) is moved by one random offset "
            "drawn per patient, so intervals between a patient's dates are preserved"
        ),
        "true_data_cutoff": str(np.datetime64(CUTOFF, "D")),
    }
