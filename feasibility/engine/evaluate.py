"""Run a protocol over a registry: collect the tables it needs once, evaluate every
(patient, index) pair in one lazy query, and pick one index per patient in event mode.

Only the rows the protocol can read are collected (each table's
:class:`~feasibility.engine.features.Scope`), and they are kept (:class:`TableCache`) so a
result can be re-evaluated with a relaxed or reordered protocol without reading the
registry again; a table is read again only when a new protocol or index needs more rows.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from feasibility.engine.compiler import IDX, PID, Compiler
from feasibility.engine.features import Scope
from feasibility.engine.index import IndexEvents
from feasibility.engine.logic import STATUS_RANK, k_and, to_status
from feasibility.engine.seam import EngineRun
from feasibility.errors import FeasibilityError
from feasibility.protocol import Protocol
from feasibility.schema import EVENT_DATE, TABLES

#: Columns the engine reads from each normalised table (``systemic`` is optional).
ENGINE_COLUMNS: dict[str, list[str]] = {
    "patients": ["patient_id", "sex", "birth_date", "death_date"],
    "diagnoses": ["patient_id", "code", "diagnosed_on"],
    "measurements": ["patient_id", "test", "value", "measured_on"],
    "assessments": ["patient_id", "item", "value", "assessed_on"],
    "medications": ["patient_id", "drug", "route", "start_date", "end_date", "systemic"],
    "procedures": ["patient_id", "category", "performed_on"],
    "lesions": ["patient_id", "imaged_on", "site", "longest_diameter_cm", "bone_contiguous"],
    "therapies": [
        "patient_id",
        "line_number",
        "regimen",
        "start_date",
        "end_date",
        "investigational",
    ],
}


#: Tables from the usually largest to the smallest (rows per patient in real registries).
_SIZE_ORDER = [
    "measurements",
    "assessments",
    "medications",
    "diagnoses",
    "procedures",
    "therapies",
    "lesions",
    "patients",
]


#: Cached tables whose patient_id is kept as a categorical (only grouped, see features.py).
_COMPACT_IDS = ("measurements", "assessments", "diagnoses")
_VOCABULARY_COLUMNS = ("test", "item", "category", "sex")


def _engine_columns(table: str, schema: pl.Schema, collected: bool) -> list[pl.Expr]:
    """The engine's columns of ``table`` as present in ``schema``. Categorical strings (a
    loader may use them) become plain strings where the engine joins on them or uses
    ``.str``; vocabulary columns stay categorical. In a table the cache collects, the
    patient_id of the large measurement tables becomes a categorical: a 4-byte code instead
    of a 16-byte string view a row (a GiB at a million patients) and a cheaper group-by;
    features.py casts it back."""
    cols = []
    for c in ENGINE_COLUMNS[table]:
        if c not in schema:
            continue
        if isinstance(schema[c], pl.Categorical | pl.Enum) and c not in _VOCABULARY_COLUMNS:
            cols.append(pl.col(c).cast(pl.String))
        elif collected and c == PID and table in _COMPACT_IDS and schema[c] == pl.String:
            cols.append(pl.col(c).cast(pl.Categorical))
        else:
            cols.append(pl.col(c))
    return cols


@dataclass
class TableCache:
    """Normalised tables collected in memory, with the registry they came from and the
    rows each holds (its :class:`~feasibility.engine.features.Scope`)."""

    registry: Any
    present: set[str]
    frames: dict[str, pl.DataFrame | pl.LazyFrame] = field(default_factory=dict)
    scopes: dict[str, Scope] = field(default_factory=dict)

    def ensure(self, needs: dict[str, Scope], progress: bool = False) -> None:
        """Collect what ``needs`` asks for that is not cached yet (one scan per table).

        A table the registry already holds in memory (``registry.loaded(t)``) is not
        copied: the engine's selection stays lazy, so row filters run before computed
        columns (the canonical measurement value) and casts, which then touch only the
        rows kept. Any other table is collected, only the engine's columns and only the
        rows of its scope (the date bounds go to the file reader, the keys are checked
        after normalisation), through ``registry.scan`` when the registry offers it (a
        file scan that skips duplicate detection, which no criterion depends on). A table
        cached with a scope that does not cover the new one is read again with both.
        """
        loaded = getattr(self.registry, "loaded", None)
        scan = getattr(self.registry, "scan", None)
        absent = getattr(self.registry, "missing_columns", {})
        to_collect: dict[str, pl.LazyFrame] = {}
        post_filter: dict[str, pl.Expr] = {}
        for t in sorted(needs):
            have = self.scopes.get(t)
            if t not in self.present or (have is not None and have.covers(needs[t])):
                continue
            if loaded is not None and loaded(t):
                lf = self.registry.tables[t]
                self.frames[t] = lf.select(_engine_columns(t, lf.collect_schema(), False))
                self.scopes[t] = Scope()
                continue
            scope = needs[t] if have is None else have.union(needs[t])
            where = scope.where(t)
            if where is not None and EVENT_DATE[t] in absent.get(t, ()):
                where = None  # no date in the file: every row is undated
            if scan is None:
                lf = self.registry.tables[t]
                lf = lf if where is None else lf.filter(where)
            elif where is None:
                lf = scan(t)
            else:
                lf = scan(t, where=where)
            lf = lf.select(_engine_columns(t, lf.collect_schema(), True))
            keep = scope.keep(t)
            if keep is not None and scan is None:
                # a duck-typed registry's plans may be Python sources: polars would have to
                # serialise the key filter's Python function (cloudpickle) to push it into
                # them, so it runs on the collected rows instead
                post_filter[t] = keep
                keep = None
            to_collect[t] = lf if keep is None else lf.filter(keep)
            self.frames.pop(t, None)  # a narrower copy: freed before the wider one is read
            self.scopes[t] = scope
        if not to_collect:
            return
        _progress(progress, f"reading {', '.join(to_collect)}")
        # one table at a time, streaming, the largest first: as fast as collecting them
        # together on two cores (each scan uses both), and the peak memory is then the
        # tables already held plus one scan's morsels, not every scan's buffers at once.
        # Morsels of 500k rows instead of polars' 100k: the loader's per-batch Python
        # functions (spellings, ids) then run a fifth as often (measured ~25% faster).
        with pl.Config(streaming_chunk_size=500_000):
            for t in sorted(to_collect, key=_SIZE_ORDER.index):
                self.frames[t] = self._collect(t, to_collect[t])
                if t in post_filter:
                    self.frames[t] = self.frames[t].filter(post_filter[t])

    def _collect(self, table: str, lf: pl.LazyFrame) -> pl.DataFrame:
        try:
            return lf.collect(engine="streaming")
        except pl.exceptions.PolarsError as exc:
            read_error = getattr(self.registry, "read_error", None)
            if read_error is None:
                raise
            raise read_error(table, exc) from None

    def lazy(self) -> dict[str, pl.LazyFrame]:
        return {t: df.lazy() for t, df in self.frames.items()}


def _progress(on: bool, msg: str) -> None:
    if on:
        print(f"[screen] {msg}", file=sys.stderr, flush=True)


def parse_index_date(value: dt.date | str) -> dt.date:
    """An index date given as a date or an ISO string."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise FeasibilityError(f"index date {value!r} is not an ISO date (YYYY-MM-DD)") from exc


class PolarsEngine:
    """The default engine: the protocol compiled to one polars lazy query over every
    (patient, index) pair (:mod:`feasibility.engine.compiler`), the tables it reads
    collected once and kept as the run's ``state`` (:class:`TableCache`) for relax and
    rescreen."""

    name = "polars"

    def run(
        self,
        registry: Any,
        protocol: Protocol,
        index: dt.date | IndexEvents,
        *,
        progress: bool = False,
        state: TableCache | None = None,
    ) -> EngineRun:
        t0 = time.perf_counter()
        cache = state
        if cache is None:
            present = {t for t in TABLES if registry.has(t)}
            if "patients" not in present:
                raise FeasibilityError("registry has no patients table")
            cache = TableCache(registry, present)
        missing = getattr(cache.registry, "missing_columns", {})
        absent = frozenset((t, c) for t, cols in missing.items() for c in cols)
        compiler = Compiler(protocol, cache.present, absent)
        everything = Scope()
        if isinstance(index, IndexEvents):
            events = index
            if events.table not in TABLES:
                raise FeasibilityError(f"index events: unknown table {events.table!r}")
            # the index events first (all their rows): they bound the dates read elsewhere
            cache.ensure({"patients": everything, events.table: everything}, progress)
            frames = cache.lazy()
            patients = frames["patients"].select(PID).unique(maintain_order=True)
            fixed = None
            if events.table in cache.present:
                idx = events.frame(frames[events.table]).join(patients, on=PID, how="semi")
            else:
                idx = pl.LazyFrame(schema={PID: pl.String, IDX: pl.Date})
            idx = idx.collect().lazy()  # used by every table's features: the pairs once
            lo, hi = (
                idx.select(pl.col(IDX).min().alias("lo"), pl.col(IDX).max().alias("hi"))
                .collect()
                .row(0)
            )
        else:
            fixed = lo = hi = index
        cache.ensure(compiler.scopes(lo, hi), progress)
        frames = cache.lazy()
        patients = frames["patients"].select(PID).unique(maintain_order=True)
        if fixed is not None:
            idx = patients.with_columns(pl.lit(fixed, dtype=pl.Date).alias(IDX))
            idx = idx.collect().lazy()  # used by every table's features: the pairs once
        from feasibility.citation import counts

        _progress(progress, f"evaluating {counts(protocol)} of {protocol.id}")
        # the in-memory engine runs this join-heavy plan several times faster than streaming
        wide = compiler.build(frames, idx, fixed).collect(engine="in-memory")
        _progress(
            progress,
            f"evaluated {wide.height:,} patient-index pairs in {time.perf_counter() - t0:.1f}s",
        )
        return EngineRun(
            pairs=wide,
            patient_ids=patients.collect(),
            leaves=compiler.out.leaves,
            state=cache,
        )


def pick_index(
    pairs: pl.DataFrame, patient_ids: pl.DataFrame, steps: tuple[str, ...], event_mode: bool
) -> pl.DataFrame:
    """One row per patient. Fixed mode: the pairs as they are. Event mode: the first index
    at which ``eligible`` passes, else the best (pass > unknown > fail, ties -> earliest);
    patients without an index event get a null index_date, every criterion unknown and
    ``index_event`` false."""
    crit_steps = [s for s in steps if s != "index_event"]
    if not event_mode:  # one pair per patient, already in registry order (order-keeping joins)
        return pairs
    eligible = to_status(k_and(*[pl.col(s) for s in crit_steps]))
    rank = eligible.replace_strict(STATUS_RANK, return_dtype=pl.Int8)
    best = (
        pairs.with_columns(rank.alias("_rank"))
        .sort([PID, "_rank", IDX])
        .unique(PID, keep="first", maintain_order=True)
        .drop("_rank")
        .with_columns(pl.lit(True).alias("index_event"))
    )
    missing = patient_ids.join(best.select(PID), on=PID, how="anti")
    if missing.height:
        filler = missing.with_columns(pl.lit(False).alias("index_event"))
        best = pl.concat([best, filler], how="diagonal_relaxed")
    return patient_ids.join(best, on=PID, how="left", maintain_order="left")
