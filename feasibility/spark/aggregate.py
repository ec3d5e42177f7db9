"""Funnel and impact aggregated in Spark, and the aggregates-only screen.

:func:`per_patient` is the event-mode choice of one index per patient
(:func:`feasibility.engine.evaluate.pick_index`) as a Spark plan, :func:`aggregate` the
funnel and impact counts of :class:`~feasibility.results.ScreenResult` (``funnel``,
``impact``, ``n_patients``, ``n_eligible``) as one Spark aggregation: only a handful of
numbers come back to the driver.

``SparkEngine(aggregates_only=True, status_path=DIR)`` (``feasibility screen --engine spark
--spark-aggregates-only``) uses them for registries whose status frame is too large for the
driver: Spark writes patient_status (the contract table of ``patient_status.csv``: patient_id,
index_date, one ``pass``/``fail``/``unknown`` column per criterion, ``index_event`` in event
mode, ``eligible``; in no particular row order) as Parquet to ``DIR``, then aggregates the
funnel and impact from that Parquet. ``fz.screen`` then returns an :class:`AggregatesResult`:
a :class:`~feasibility.results.ScreenResult` without per-patient frames. What works on it:
``funnel(order)`` (another order is one more Spark aggregation over ``DIR``), ``impact()``,
``n_patients``, ``n_eligible``, ``reorder``, ``steps``, ``label``, ``criterion_ids``,
``event_mode``, ``status_path`` and ``write`` (funnel.csv and impact.csv only). What needs
the statuses it never received (``patient_status``, ``evidence``, ``why``,
``deciding_values``, ``with_index_event``, ``without``, ``relax``, ``rescreen``) stops with
one line saying where the statuses are.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import polars as pl

from feasibility.csvsafe import write_csv
from feasibility.engine.index import IndexEvents
from feasibility.engine.logic import FAIL, PASS, UNKNOWN
from feasibility.engine.seam import IDX, PID, EngineRun
from feasibility.errors import FeasibilityError
from feasibility.protocol import Protocol
from feasibility.results import INDEX_EVENT, ScreenResult, write_atomically

FUNNEL_SCHEMA = {
    "step": pl.Int64,
    "criterion": pl.String,
    "label": pl.String,
    "remaining": pl.Int64,
    "remaining_with_unknown": pl.Int64,
    "excluded": pl.Int64,
}
IMPACT_SCHEMA = {
    "criterion": pl.String,
    "label": pl.String,
    "fail_standalone": pl.Int64,
    "fail_unique": pl.Int64,
    "unknown": pl.Int64,
    "pass": pl.Int64,
}


def _k_and(cols: list[Any]) -> Any:
    """Kleene AND of Spark Boolean columns (SQL AND is three-valued: false wins, then null)."""
    from pyspark.sql import functions as F

    out = F.lit(True)
    for c in cols:
        out = out & c
    return out


def _status(col: Any) -> Any:
    """Nullable Boolean -> ``pass`` / ``fail`` / ``unknown`` (``to_status``)."""
    from pyspark.sql import functions as F

    return F.when(col, F.lit(PASS)).when(~col, F.lit(FAIL)).otherwise(F.lit(UNKNOWN))


def _truth(col: Any) -> Any:
    """``pass`` / ``fail`` / anything else -> true / false / null (``from_status``)."""
    from pyspark.sql import functions as F

    return F.when(col == PASS, F.lit(True)).when(col == FAIL, F.lit(False))


def per_patient(
    pairs: Any, patients: Any, criteria: list[str], steps: tuple[str, ...], event_mode: bool
) -> Any:
    """One row per patient (``pick_index`` in Spark): fixed mode, the pairs as they are;
    event mode, the first index at which ``eligible`` passes, else the best (pass > unknown
    > fail, ties -> earliest), with ``index_event`` true, and for patients without an index
    event a null index_date, every criterion unknown and ``index_event`` false."""
    from pyspark.sql import functions as F

    if not event_mode:
        return pairs.select(PID, IDX, *criteria)
    crit_steps = [F.col(f"`{s}`") for s in steps if s != INDEX_EVENT]
    eligible = _k_and(crit_steps)
    rank = F.when(eligible, F.lit(0)).when(~eligible, F.lit(2)).otherwise(F.lit(1))
    fields = [F.col(f"`{c}`").alias(f"c{i}") for i, c in enumerate(criteria)]
    # (rank, index_date) is unique per patient: the struct's minimum is the chosen pair
    best = pairs.groupBy(PID).agg(
        F.min(F.struct(rank.alias("r"), F.col(IDX).alias("d"), *fields)).alias("b")
    )
    best = best.select(
        PID,
        F.col("b.d").alias(IDX),
        *[F.col(f"b.c{i}").alias(c) for i, c in enumerate(criteria)],
        F.lit(True).alias(INDEX_EVENT),
    )
    out = patients.select(PID).join(best, on=PID, how="left")
    return out.select(
        PID,
        IDX,
        *criteria,
        F.coalesce(F.col(INDEX_EVENT), F.lit(False)).alias(INDEX_EVENT),
    )


def status_frame(wide: Any, criteria: list[str], steps: tuple[str, ...], event_mode: bool) -> Any:
    """:func:`per_patient`'s frame as the contract's patient_status table (the columns and
    values of ``ScreenResult.patient_status``)."""
    from pyspark.sql import functions as F

    cols = [F.col(PID), F.col(IDX)]
    cols += [_status(F.col(f"`{c}`")).alias(c) for c in criteria]
    if event_mode:
        cols.append(_status(F.col(INDEX_EVENT)).alias(INDEX_EVENT))
    cols.append(_status(_k_and([F.col(f"`{s}`") for s in steps])).alias("eligible"))
    return wide.select(*cols)


@dataclass(frozen=True)
class Counts:
    """What :func:`aggregate` brings back: patients, eligible, per funnel step (in
    ``order``) remaining and remaining_with_unknown, and per step the impact counts."""

    n: int
    eligible: int
    order: tuple[str, ...]
    remaining: tuple[tuple[int, int], ...]
    impact: dict[str, tuple[int, int, int, int]]  # fail_standalone, fail_unique, unknown, pass


def aggregate(
    df: Any, steps: tuple[str, ...], order: tuple[str, ...] | None = None, *, statuses: bool
) -> Counts:
    """Funnel (steps in ``order``, default ``steps``) and impact counts of a per-patient
    frame, in one Spark aggregation. ``statuses``: the step columns hold ``pass``/``fail``/
    ``unknown`` text (a written patient_status) rather than nullable Booleans."""
    from pyspark.sql import functions as F

    order = tuple(order or steps)

    def col(s: str) -> Any:
        c = F.col(f"`{s}`")
        return _truth(c) if statuses else c

    exprs = [F.count(F.lit(1)).alias("n")]
    exprs.append(F.count_if(F.coalesce(_k_and([col(s) for s in steps]), F.lit(False))).alias("e"))
    acc_p, acc_u = F.lit(True), F.lit(True)
    for i, s in enumerate(order):
        acc_p = acc_p & F.coalesce(col(s), F.lit(False))
        acc_u = acc_u & F.coalesce(col(s), F.lit(True))
        exprs += [F.count_if(acc_p).alias(f"p{i}"), F.count_if(acc_u).alias(f"u{i}")]
    for i, s in enumerate(steps):
        fail = F.coalesce(col(s) == F.lit(False), F.lit(False))
        others = [F.coalesce(col(o), F.lit(False)) for o in steps if o != s]
        exprs += [
            F.count_if(fail).alias(f"fs{i}"),
            F.count_if(fail & _k_and(others)).alias(f"fu{i}"),
            F.count_if(col(s).isNull()).alias(f"un{i}"),
            F.count_if(F.coalesce(col(s), F.lit(False))).alias(f"pa{i}"),
        ]
    row = df.agg(*exprs).first()
    assert row is not None
    return Counts(
        n=int(row["n"]),
        eligible=int(row["e"]),
        order=order,
        remaining=tuple((int(row[f"p{i}"]), int(row[f"u{i}"])) for i in range(len(order))),
        impact={
            s: (int(row[f"fs{i}"]), int(row[f"fu{i}"]), int(row[f"un{i}"]), int(row[f"pa{i}"]))
            for i, s in enumerate(steps)
        },
    )


def funnel_frame(counts: Counts, label: Any) -> pl.DataFrame:
    """The funnel table of ``ScreenResult.funnel`` from :class:`Counts` (``label(step)``)."""
    n = counts.n
    rows = [(0, "registry", "Patients in the registry", n, n, 0)]
    prev = n
    for i, (s, (rem, remu)) in enumerate(zip(counts.order, counts.remaining, strict=True)):
        rows.append((i + 1, s, label(s), rem, remu, prev - rem))
        prev = rem
    return pl.DataFrame(rows, schema=FUNNEL_SCHEMA, orient="row")


def impact_frame(counts: Counts, steps: tuple[str, ...], label: Any) -> pl.DataFrame:
    """The impact table of ``ScreenResult.impact`` from :class:`Counts`."""
    rows = [(s, label(s), *counts.impact[s]) for s in steps]
    return pl.DataFrame(rows, schema=IMPACT_SCHEMA, orient="row")


# ---------------------------------------------------------------------------- the result


class AggregatesResult(ScreenResult):
    """An aggregates-only Spark screen (see the module docstring): the funnel and impact
    counts, and ``status_path``, the Parquet directory Spark wrote patient_status to."""

    def __init__(
        self,
        *,
        protocol: Protocol,
        index: dt.date | IndexEvents,
        engine: Any,
        registry: Any,
        state: Any,
        steps: tuple[str, ...],
        status_path: str,
        counts: Counts,
    ) -> None:
        empty = pl.DataFrame(schema={PID: pl.String})
        super().__init__(
            protocol=protocol,
            pairs=empty,
            patient_ids=empty,
            leaves={},
            index=index,
            engine=engine,
            registry=registry,
            state=state,
            steps=steps,
        )
        self.status_path = status_path
        self._counts = {counts.order: counts}

    def _refuse(self, what: str) -> NoReturn:
        raise FeasibilityError(
            f"{what} needs per-patient statuses, which an aggregates-only Spark screen never "
            f"collects: Spark wrote patient_status to {self.status_path} (Parquet); read it "
            "there, or screen without aggregates_only"
        )

    def _count(self, order: tuple[str, ...]) -> Counts:
        got = self._counts.get(order)
        if got is None:
            spark = self._state.spark
            df = spark.read.parquet(self.status_path)
            got = aggregate(df, self.steps, order, statuses=True)
            self._counts[order] = got
        return got

    # what works -------------------------------------------------------------------------
    @property
    def n_patients(self) -> int:
        return next(iter(self._counts.values())).n

    @property
    def n_eligible(self) -> int:
        return next(iter(self._counts.values())).eligible

    def funnel(self, order: list[str] | tuple[str, ...] | None = None) -> pl.DataFrame:
        return funnel_frame(self._count(tuple(self._order(order))), self.label)

    def impact(self) -> pl.DataFrame:
        return impact_frame(self._count(tuple(self.steps)), self.steps, self.label)

    def reorder(self, order: list[str]) -> AggregatesResult:
        steps = tuple(self._order(order))
        new = AggregatesResult(
            protocol=self.protocol,
            index=self.index,
            engine=self.engine,
            registry=self._registry,
            state=self._state,
            steps=steps,
            status_path=self.status_path,
            counts=self._count(steps),
        )
        return new

    def write(self, out_dir: str | Path, *, order: list[str] | None = None) -> list[Path]:
        """Write funnel.csv and impact.csv atomically (patient_status is at ``status_path``;
        there is no evidence)."""

        def fill(tmp: Path) -> None:
            write_csv(self.funnel(order), tmp / "funnel.csv")
            write_csv(self.impact(), tmp / "impact.csv")

        return write_atomically(out_dir, fill)

    def __repr__(self) -> str:
        return (
            f"AggregatesResult({self.protocol.id}, patients={self.n_patients}, "
            f"eligible={self.n_eligible}, statuses={self.status_path})"
        )

    # what needs the statuses --------------------------------------------------------------
    @property
    def _wide(self) -> pl.DataFrame:
        self._refuse("this")

    @property
    def patient_status(self) -> pl.DataFrame:
        self._refuse("patient_status")

    def evidence(self, criterion: str | None = None, patient_id: Any = None) -> pl.DataFrame:
        self._refuse("evidence")

    def _evidence_query(self, criterion: str | None = None, patient_id: Any = None) -> Any:
        self._refuse("evidence")

    def why(self, patient_id: str) -> pl.DataFrame:
        self._refuse("why")

    def deciding_values(self, criterion: str) -> pl.DataFrame:
        self._refuse("deciding_values")

    def with_index_event(self) -> ScreenResult:
        self._refuse("with_index_event")

    def without(self, *criteria: str) -> ScreenResult:
        self._refuse("without (in event mode it re-chooses each patient's index)")

    def rescreen(self, protocol: Any, index: Any = None) -> ScreenResult:
        raise FeasibilityError(
            "rescreen/relax on an aggregates-only Spark screen would overwrite the statuses "
            f"at {self.status_path}; call fz.screen with SparkEngine(aggregates_only=True, "
            "status_path=<another directory>) and the changed protocol"
        )

    def relax(
        self,
        criterion: str,
        *,
        threshold: float | None = None,
        unit: str | None = None,
        window: int | str | None = None,
        measure: str | None = None,
    ) -> ScreenResult:
        return self.rescreen(self.protocol)


# ---------------------------------------------------------------------------- the run


def run_aggregates(
    engine: Any,
    registry: Any,
    protocol: Protocol,
    index: dt.date | IndexEvents,
    progress: bool,
    state: Any,
) -> EngineRun:
    """``SparkEngine(aggregates_only=True)``: statuses evaluated and written by Spark to
    ``engine.status_path``, funnel and impact aggregated by Spark; the :class:`EngineRun`
    carries the finished :class:`AggregatesResult` (``result``) and no pairs."""
    import time

    from feasibility.spark.pairs import index_pairs
    from feasibility.spark.read import read_tables
    from feasibility.spark.session import SparkState, get_session
    from feasibility.spark.session import progress as _progress
    from feasibility.spark.translate import Plan, _Context

    if not engine.status_path:
        raise FeasibilityError(
            "aggregates_only needs status_path: the directory Spark writes patient_status "
            "to as Parquet (on a cluster, storage the executors write: s3a://, abfss://, ...)"
        )
    if engine.evidence or engine.evidence_path is not None:
        raise FeasibilityError("aggregates_only writes no evidence; drop evidence/evidence_path")
    t0 = time.perf_counter()
    if state is None:
        spark = get_session(engine.master, engine.conf)
        _progress(progress, f"reading {getattr(registry, 'path', registry)} with Spark")
        tables = read_tables(spark, registry, set())
        state = SparkState(spark, tables, pl.DataFrame(schema={PID: pl.String}))
    spark, tables = state.spark, state.tables
    plan = Plan(protocol, set(tables.present))
    needed = plan.needed_tables()
    event_mode = isinstance(index, IndexEvents)
    if isinstance(index, IndexEvents):
        needed.add(index.table)
    tables.ensure(needed)
    plan.absent = tables.absent
    idx: Any = index_pairs(index, tables) if isinstance(index, IndexEvents) else index
    _progress(progress, f"evaluating {len(protocol.criteria)} criteria of {protocol.id}")
    pairs = plan.build(tables.frames, idx, _Context(spark, False))
    criteria = [c.id for c in protocol.criteria]
    steps = ((INDEX_EVENT,) if event_mode else ()) + tuple(protocol.steps)
    wide = per_patient(pairs, tables.frames["patients"], criteria, steps, event_mode)
    path = str(engine.status_path)
    status_frame(wide, criteria, steps, event_mode).write.mode("overwrite").parquet(path)
    _progress(progress, f"wrote patient_status to {path} in {time.perf_counter() - t0:.1f}s")
    counts = aggregate(spark.read.parquet(path), steps, statuses=True)
    _progress(progress, f"aggregated funnel and impact of {counts.n:,} patients")
    result = AggregatesResult(
        protocol=protocol,
        index=index,
        engine=engine,
        registry=registry,
        state=state,
        steps=steps,
        status_path=path,
        counts=counts,
    )
    empty = pl.DataFrame(schema={PID: pl.String})
    return EngineRun(pairs=empty, patient_ids=empty, state=state, result=result)


__all__ = [
    "AggregatesResult",
    "Counts",
    "aggregate",
    "funnel_frame",
    "impact_frame",
    "per_patient",
    "run_aggregates",
    "status_frame",
]
