"""The ``spark`` engine: a protocol screened on Apache Spark.

``SparkEngine().run(registry, protocol, index)`` reads the registry's table files with
Spark (:mod:`feasibility.spark.read`: typed and normalised in Spark), translates every
rule node of the protocol into Spark columns (:mod:`feasibility.spark.translate`),
computes every (patient, index) pair's criterion statuses in Spark, partitioned by
patient, and brings back to the driver only the status frame (patient_id, index_date,
one nullable Boolean per criterion) as polars, through Arrow. Fixed-date mode returns the
pairs in any order (``ordered=False``; the result restores registry order from
``patient_ids``).

Evidence (the leaves' ``__k``, ``__k_found``, ``__k_value``, ``__k_date``, ``__k_detail``
columns behind ``why`` and ``deciding_values``) is off by default: at registry scale it is
tens of columns per patient. ``SparkEngine(evidence=True)`` brings it back with the
statuses; ``SparkEngine(evidence_path=DIR)`` has Spark write the statuses and evidence as
Parquet to ``DIR`` (any filesystem the cluster writes) and brings back the statuses only.

The session is :func:`feasibility.spark.session.get_session` (master ``local[*]`` unless
configured, e.g. by ``--spark-master``).
"""

from __future__ import annotations

import datetime as dt
import re
import time
from typing import Any

import polars as pl

from feasibility.engine.index import IndexEvents
from feasibility.engine.seam import EngineRun
from feasibility.errors import FeasibilityError
from feasibility.protocol import Protocol
from feasibility.schema import TABLES
from feasibility.spark.pairs import index_pairs, where_column
from feasibility.spark.session import SparkState, get_session
from feasibility.spark.session import progress as _progress


def _one_line(exc: BaseException) -> str:
    text = str(exc)
    # Spark's errors carry a JVM stack trace: keep the first meaningful line
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    first = lines[0] if lines else type(exc).__name__
    return re.sub(r"\s+", " ", first)[:400]


class SparkEngine:
    """Screening on Apache Spark (see the module docstring)."""

    name = "spark"

    def __init__(
        self,
        master: str | None = None,
        conf: dict[str, str] | None = None,
        *,
        evidence: bool = False,
        evidence_path: str | None = None,
        aggregates_only: bool = False,
        status_path: str | None = None,
    ) -> None:
        self.master = master
        self.conf = conf
        self.evidence = evidence
        self.evidence_path = evidence_path
        # feasibility.spark.aggregate: patient_status written by Spark to status_path,
        # only funnel and impact counts come back
        self.aggregates_only = aggregates_only
        self.status_path = status_path

    def run(
        self,
        registry: Any,
        protocol: Protocol,
        index: dt.date | IndexEvents,
        *,
        progress: bool = False,
        state: SparkState | None = None,
    ) -> EngineRun:
        try:
            return self._run(registry, protocol, index, progress, state)
        except FeasibilityError:
            raise
        except Exception as exc:
            if type(exc).__module__.startswith(("pyspark", "py4j")):
                raise FeasibilityError(f"engine spark: {_one_line(exc)}") from None
            raise

    def _run(
        self,
        registry: Any,
        protocol: Protocol,
        index: dt.date | IndexEvents,
        progress: bool,
        state: SparkState | None,
    ) -> EngineRun:
        if self.aggregates_only:
            from feasibility.spark.aggregate import run_aggregates

            return run_aggregates(self, registry, protocol, index, progress, state)
        from feasibility.spark.read import ORDER, read_tables
        from feasibility.spark.translate import IDX, PID, Plan, _Context

        t0 = time.perf_counter()
        if state is None:
            spark = get_session(self.master, self.conf)
            _progress(progress, f"reading {getattr(registry, 'path', registry)} with Spark")
            tables = read_tables(spark, registry, set())
            ids = _to_polars(tables.frames["patients"].select(PID, ORDER))
            patient_ids = ids.sort(ORDER).select(pl.col(PID).cast(pl.String))
            state = SparkState(spark, tables, patient_ids)
        spark, tables = state.spark, state.tables
        plan = Plan(protocol, set(tables.present))
        needed = plan.needed_tables()
        if isinstance(index, IndexEvents):
            needed.add(index.table)
        tables.ensure(needed)
        plan.absent = tables.absent
        if isinstance(index, IndexEvents):
            if index.table not in TABLES:
                raise FeasibilityError(f"index events: unknown table {index.table!r}")
            idx: Any = index_pairs(index, tables)
        else:
            idx = index
        evidence = self.evidence or self.evidence_path is not None
        _progress(progress, f"evaluating {len(protocol.criteria)} criteria of {protocol.id}")
        pairs_df = plan.build(tables.frames, idx, _Context(spark, evidence))
        if self.evidence_path is not None:
            pairs_df.write.mode("overwrite").parquet(self.evidence_path)
            statuses = [PID, IDX, *[c.id for c in protocol.criteria]]
            pairs_df = spark.read.parquet(self.evidence_path).select(*statuses)
        pairs = _to_polars(pairs_df)
        pairs = pairs.with_columns(
            pl.col(PID).cast(pl.String),
            pl.col(IDX).cast(pl.Date),
            *[pl.col(c.id).cast(pl.Boolean) for c in protocol.criteria],
        )
        _progress(
            progress,
            f"evaluated {pairs.height:,} patient-index pairs in {time.perf_counter() - t0:.1f}s",
        )
        keep_leaves = self.evidence and self.evidence_path is None
        return EngineRun(
            pairs=pairs,
            patient_ids=state.patient_ids,
            leaves=plan.leaves if keep_leaves else {},
            state=state,
            ordered=False,
        )


def _to_polars(df: Any) -> pl.DataFrame:
    """A Spark DataFrame collected to the driver as polars, through Arrow."""
    out = pl.from_arrow(df.toArrow())
    assert isinstance(out, pl.DataFrame)
    return out


__all__ = ["SparkEngine", "SparkState", "index_pairs", "where_column"]
