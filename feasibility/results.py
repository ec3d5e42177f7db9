"""ScreenResult: per-patient statuses, evidence, funnel and criterion impact of one screen.

Everything here recombines the evaluated statuses in memory: reordering the funnel or
dropping a criterion never re-reads the registry, and relaxing a threshold or window
re-evaluates from the tables cached by :func:`screen`.

Definitions (documented in docs and the report):

- ``eligible`` = Kleene AND over the funnel steps (``measurable_disease`` stands for its
  two parts; in event mode the step ``index_event`` comes first).
- funnel ``remaining``: patients passing every step so far; ``remaining_with_unknown``:
  passing or unknown on every step so far; ``excluded``: drop in ``remaining``.
- impact ``fail_standalone``: patients failing the criterion, whatever else;
  ``fail_unique``: patients failing this criterion and *passing* every other step (the
  patients this criterion alone removes); ``unknown``: patients unknown on it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

from feasibility.csvsafe import write_csv
from feasibility.engine.evaluate import parse_index_date, pick_index
from feasibility.engine.index import IndexEvents
from feasibility.engine.logic import k_and, to_status
from feasibility.engine.seam import IDX, PID, Engine, EngineRun, LeafInfo, get_engine
from feasibility.protocol import (
    Protocol,
    deciding_measure,
    load_protocol,
    parse_window,
    relax_rule,
)

INDEX_EVENT = "index_event"


def write_atomically(out_dir: str | Path, fill: Callable[[Path], None]) -> list[Path]:
    """Have ``fill`` write files into a temporary directory beside ``out_dir``, then move
    each into ``out_dir`` (created if needed): a reader never sees half-written files.
    Returns the paths written, sorted."""
    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".screen-", dir=out.parent))
    try:
        fill(tmp)
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for f in sorted(tmp.iterdir()):
            os.replace(f, out / f.name)
            written.append(out / f.name)
        return written
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class ScreenResult:
    """The outcome of :func:`screen`. Quiet; all frames are polars."""

    def __init__(
        self,
        *,
        protocol: Protocol,
        pairs: pl.DataFrame,
        patient_ids: pl.DataFrame,
        leaves: dict[str, list[LeafInfo]],
        index: dt.date | IndexEvents,
        engine: Engine,
        registry: Any,
        state: Any,
        steps: tuple[str, ...],
    ) -> None:
        self.protocol = protocol
        self.index = index
        self.steps = steps
        self._pairs = pairs
        self._ids = patient_ids
        self._leaves = leaves
        self.engine = engine
        self._registry = registry
        self._state = state
        self._picked: pl.DataFrame | None = None

    # ------------------------------------------------------------------ basics
    @property
    def event_mode(self) -> bool:
        return isinstance(self.index, IndexEvents)

    @property
    def criterion_ids(self) -> list[str]:
        """Status columns of patient_status, protocol order (parts of combinations included)."""
        return [c.id for c in self.protocol.criteria]

    def label(self, step: str) -> str:
        if step == INDEX_EVENT:
            return f"Has an index event ({self.index.describe()})"  # type: ignore[union-attr]
        return self.protocol.criterion(step).label

    @property
    def _wide(self) -> pl.DataFrame:
        """One row per patient: Boolean statuses (true = pass) and evidence columns."""
        if self._picked is None:
            self._picked = pick_index(self._pairs, self._ids, self.steps, self.event_mode)
        return self._picked

    def _eligible(self, steps: tuple[str, ...] | list[str] | None = None) -> pl.Expr:
        return k_and(*[pl.col(s) for s in (steps or self.steps)])

    @property
    def patient_status(self) -> pl.DataFrame:
        """Contract section 4: patient_id, index_date, one column per criterion, eligible."""
        cols = [pl.col(PID), pl.col(IDX)]
        cols += [to_status(pl.col(c)).alias(c) for c in self.criterion_ids]
        if self.event_mode:
            cols.append(to_status(pl.col(INDEX_EVENT)).alias(INDEX_EVENT))
        cols.append(to_status(self._eligible()).alias("eligible"))
        return self._wide.select(cols)

    @property
    def n_patients(self) -> int:
        return self._wide.height

    @property
    def n_eligible(self) -> int:
        return int(self._wide.select(self._eligible().fill_null(False).sum()).item())

    # ------------------------------------------------------------------ funnel & impact
    def _order(self, order: list[str] | tuple[str, ...] | None) -> list[str]:
        if order is None:
            return list(self.steps)
        order = list(order)
        unknown = [s for s in order if s not in self.steps]
        if unknown:
            raise ValueError(f"not funnel steps: {unknown}; steps are {list(self.steps)}")
        if len(set(order)) != len(order):
            raise ValueError("order lists a step twice")
        return order + [s for s in self.steps if s not in order]

    def funnel(self, order: list[str] | tuple[str, ...] | None = None) -> pl.DataFrame:
        """Contract section 4 funnel. ``order`` lists step ids to put first (others follow
        in protocol order); the last ``remaining`` never depends on the order."""
        steps = self._order(order)
        exprs = []
        acc_p = pl.lit(True)
        acc_u = pl.lit(True)
        for i, s in enumerate(steps):
            acc_p = acc_p & pl.col(s).fill_null(False)
            acc_u = acc_u & pl.col(s).fill_null(True)
            exprs += [acc_p.sum().alias(f"p{i}"), acc_u.sum().alias(f"u{i}")]
        counts = self._wide.select(exprs).row(0) if exprs else ()
        n = self.n_patients
        rows = [(0, "registry", "Patients in the registry", n, n, 0)]
        prev = n
        for i, s in enumerate(steps):
            rem, remu = int(counts[2 * i]), int(counts[2 * i + 1])
            rows.append((i + 1, s, self.label(s), rem, remu, prev - rem))
            prev = rem
        return pl.DataFrame(
            rows,
            schema={
                "step": pl.Int64,
                "criterion": pl.String,
                "label": pl.String,
                "remaining": pl.Int64,
                "remaining_with_unknown": pl.Int64,
                "excluded": pl.Int64,
            },
            orient="row",
        )

    def impact(self) -> pl.DataFrame:
        """Per step: fail_standalone, fail_unique (fails this, passes every other step),
        unknown, pass."""
        exprs = []
        for s in self.steps:
            others = [pl.col(o).fill_null(False) for o in self.steps if o != s]
            fail = pl.col(s) == False  # noqa: E712 - null stays null, sum ignores it
            exprs += [
                fail.fill_null(False).sum().alias(f"{s}|fs"),
                (fail.fill_null(False) & k_and(*others)).sum().alias(f"{s}|fu"),
                pl.col(s).is_null().sum().alias(f"{s}|u"),
                pl.col(s).fill_null(False).sum().alias(f"{s}|p"),
            ]
        row = self._wide.select(exprs).row(0, named=True)
        return pl.DataFrame(
            [
                (s, self.label(s), row[f"{s}|fs"], row[f"{s}|fu"], row[f"{s}|u"], row[f"{s}|p"])
                for s in self.steps
            ],
            schema={
                "criterion": pl.String,
                "label": pl.String,
                "fail_standalone": pl.Int64,
                "fail_unique": pl.Int64,
                "unknown": pl.Int64,
                "pass": pl.Int64,
            },
            orient="row",
        )

    # ------------------------------------------------------------------ evidence
    def _criterion_leaves(self, cid: str) -> list[LeafInfo]:
        return self._leaves.get(cid, [])

    def evidence(
        self, criterion: str | None = None, patient_id: str | list[str] | None = None
    ) -> pl.DataFrame:
        """Long evidence: patient_id, index_date, criterion, status, part, part_result,
        value (canonical unit), unit, date, detail. One row per patient, criterion and rule part.

        ``part_result`` is the truth of the part's proposition (``true``/``false``/``unknown``,
        or ``no record``); for an exclusion a ``true`` part is what excludes."""
        return self._evidence_query(criterion, patient_id).collect()

    def _evidence_query(
        self, criterion: str | None = None, patient_id: str | list[str] | None = None
    ) -> pl.LazyFrame:
        """:meth:`evidence` as a lazy query (``write`` streams it to Parquet: tens of
        millions of rows at a million patients)."""
        wide = self._wide.lazy()
        if patient_id is not None:
            ids = [patient_id] if isinstance(patient_id, str) else list(patient_id)
            wide = wide.filter(pl.col(PID).is_in(ids))
        crits = [criterion] if criterion else self.criterion_ids
        frames = []
        for cid in crits:
            infos = self._criterion_leaves(cid)
            if not infos:
                frames.append(
                    wide.select(
                        PID,
                        IDX,
                        pl.lit(cid).alias("criterion"),
                        to_status(pl.col(cid)).alias("status"),
                        pl.lit(self.protocol.criterion(cid).rule_obj.describe()).alias("part"),
                        pl.lit("combination").alias("part_result"),
                        pl.lit(None, pl.Float64).alias("value"),
                        pl.lit(None, pl.String).alias("unit"),
                        pl.lit(None, pl.Date).alias("date"),
                        pl.lit(None, pl.String).alias("detail"),
                    )
                )
            for info in infos:
                k = info.key
                if k and f"__{k}" not in self._wide.columns:
                    continue
                frames.append(
                    wide.select(
                        PID,
                        IDX,
                        pl.lit(cid).alias("criterion"),
                        to_status(pl.col(cid)).alias("status"),
                        pl.lit(info.description).alias("part"),
                        pl.when(pl.col(f"__{k}_found") | pl.col(f"__{k}").is_not_null())
                        .then(
                            pl.when(pl.col(f"__{k}"))
                            .then(pl.lit("true"))
                            .when(~pl.col(f"__{k}"))
                            .then(pl.lit("false"))
                            .otherwise(pl.lit("unknown"))
                        )
                        .otherwise(pl.lit("no record"))
                        .alias("part_result"),
                        pl.col(f"__{k}_value").alias("value"),
                        pl.lit(info.unit, pl.String).alias("unit"),
                        pl.col(f"__{k}_date").alias("date"),
                        pl.col(f"__{k}_detail").alias("detail"),
                    )
                )
        if not frames:
            return pl.LazyFrame()
        return pl.concat(frames, how="vertical_relaxed")

    def why(self, patient_id: str) -> pl.DataFrame:
        """Why is this patient (not) eligible? One row per criterion part, failing first,
        then unknown, then passing; parts hold the deciding value, date and code/drug/lesion."""
        ev = self.evidence(patient_id=patient_id)
        if ev.height == 0:
            raise KeyError(f"no patient {patient_id!r} in this screen")
        order = {c: i for i, c in enumerate(self.criterion_ids)}
        rank = {"fail": 0, "unknown": 1, "pass": 2}
        return (
            ev.with_columns(
                pl.col("status").replace_strict(rank, return_dtype=pl.Int8).alias("_r"),
                pl.col("criterion").replace_strict(order, return_dtype=pl.Int32).alias("_o"),
            )
            .sort("_r", "_o", maintain_order=True)
            .drop("_r", "_o", IDX)
        )

    def deciding_values(self, criterion: str) -> pl.DataFrame:
        """patient_id, measure, value (canonical unit), unit, threshold (canonical), op, status
        for a criterion with numeric thresholds (one row per patient and thresholded part)."""
        infos = [i for i in self._criterion_leaves(criterion) if i.threshold is not None]
        if not infos:
            raise ValueError(f"{criterion!r} has no numeric threshold")
        frames = []
        for info in infos:
            measure = deciding_measure(info.rule)
            frames.append(
                self._wide.select(
                    PID,
                    pl.lit(measure).alias("measure"),
                    pl.col(f"__{info.key}_value").alias("value"),
                    pl.lit(info.unit, pl.String).alias("unit"),
                    pl.lit(info.threshold, pl.Float64).alias("threshold"),
                    pl.lit(info.op, pl.String).alias("op"),
                    to_status(pl.col(criterion)).alias("status"),
                )
            )
        return pl.concat(frames)

    # ------------------------------------------------------------------ variants
    def with_index_event(self) -> ScreenResult:
        """Event mode: the same screen over the patients with a qualifying index event
        only (each at the index the screen chose), without the ``index_event`` step.
        What the report's impact, readiness, cohort and thresholds are computed over: a
        patient with no index event has no index date and nothing to screen. Fixed-date
        mode: the result itself."""
        if not self.event_mode:
            return self
        spec = dataclasses.replace(
            self._spec(), steps=tuple(s for s in self.steps if s != INDEX_EVENT)
        )
        sub = ScreenResult(**spec.__dict__)
        sub._picked = self._wide.filter(pl.col(INDEX_EVENT).fill_null(False))
        return sub

    def without(self, *criteria: str) -> ScreenResult:
        """The same screen with funnel steps dropped (eligible recomputed; in event mode
        the best index is re-chosen). No re-evaluation."""
        for c in criteria:
            if c not in self.steps:
                raise ValueError(f"{c!r} is not a funnel step; steps are {list(self.steps)}")
        new = dataclasses.replace(
            self._spec(), steps=tuple(s for s in self.steps if s not in criteria)
        )
        return ScreenResult(**new.__dict__)

    def reorder(self, order: list[str]) -> ScreenResult:
        """The same screen with the funnel steps in ``order`` (others follow)."""
        new = dataclasses.replace(self._spec(), steps=tuple(self._order(order)))
        return ScreenResult(**new.__dict__)

    def rescreen(self, protocol: Protocol | str | Path, index: Any = None) -> ScreenResult:
        """Evaluate another protocol (or variant) from the tables already in memory."""
        return screen(
            self._registry,
            protocol,
            index if index is not None else self.index,
            engine=self.engine,
            _state=self._state,
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
        """Re-evaluate with one criterion's threshold (in ``unit``, default the protocol's)
        and/or window (days, ``'30d'`` or ``'ever'``) changed. ``measure`` picks the test or
        item when the criterion has several thresholded parts. Steps dropped with
        :meth:`without` stay dropped."""
        crit = self.protocol.criterion(criterion)
        win = None if window is None else parse_window(window, criterion, "window")
        rule = relax_rule(crit.rule_obj, criterion, threshold, unit, win, measure)
        proto = self.protocol.replace_criterion(dataclasses.replace(crit, rule_obj=rule))
        res = self.rescreen(proto)
        dropped = [s for s in res.steps if s not in self.steps]
        return res.without(*dropped) if dropped else res

    def _spec(self) -> _Spec:
        return _Spec(
            self.protocol,
            self._pairs,
            self._ids,
            self._leaves,
            self.index,
            self.engine,
            self._registry,
            self._state,
            self.steps,
        )

    # ------------------------------------------------------------------ output
    def write(self, out_dir: str | Path, *, order: list[str] | None = None) -> list[Path]:
        """Write patient_status.csv, funnel.csv, impact.csv and evidence.parquet atomically:
        into a temporary directory first, then moved into ``out_dir``."""

        def fill(tmp: Path) -> None:
            # formula-like text (a patient id or label starting with "=") is neutralised
            write_csv(self.patient_status, tmp / "patient_status.csv")
            write_csv(self.funnel(order), tmp / "funnel.csv")
            write_csv(self.impact(), tmp / "impact.csv")
            self._evidence_query().sink_parquet(tmp / "evidence.parquet")

        return write_atomically(out_dir, fill)

    def __repr__(self) -> str:
        return f"ScreenResult({self.protocol.id}, patients={self.n_patients}, eligible={self.n_eligible})"


@dataclasses.dataclass
class _Spec:
    protocol: Protocol
    pairs: pl.DataFrame
    patient_ids: pl.DataFrame
    leaves: dict[str, list[LeafInfo]]
    index: Any
    engine: Engine
    registry: Any
    state: Any
    steps: tuple[str, ...]


def screen(
    registry: Any,
    protocol: Protocol | str | Path,
    index_date: dt.date | str | IndexEvents,
    *,
    engine: str | Engine = "polars",
    progress: bool = False,
    _state: Any = None,
) -> ScreenResult:
    """Screen every patient of ``registry`` against ``protocol``.

    ``index_date`` is a date (the same index for everyone) or :class:`IndexEvents`
    (event mode: each qualifying event is an index; a patient counts once, at the first
    index where they are eligible, else at their best index). ``engine`` names the engine
    (``polars``, the default; ``reference``; ``spark``) or is an engine object (see
    :mod:`feasibility.engine.seam`). Quiet unless ``progress`` (stderr).
    ``feasibility.screen`` and ``feasibility.engine.screen`` are this function.
    """
    proto = protocol if isinstance(protocol, Protocol) else load_protocol(protocol)
    index = index_date if isinstance(index_date, IndexEvents) else parse_index_date(index_date)
    eng = get_engine(engine)
    run: EngineRun = eng.run(registry, proto, index, progress=progress, state=_state)
    if run.result is not None:  # e.g. feasibility.spark.aggregate.AggregatesResult
        return run.result
    pairs = run.pairs
    if not run.ordered and not isinstance(index, IndexEvents):
        pairs = run.patient_ids.join(pairs, on=PID, how="left", maintain_order="left")
    steps = (("index_event",) if isinstance(index, IndexEvents) else ()) + tuple(proto.steps)
    return ScreenResult(
        protocol=proto,
        pairs=pairs,
        patient_ids=run.patient_ids,
        leaves=run.leaves,
        index=index,
        engine=eng,
        registry=registry,
        state=run.state,
        steps=steps,
    )
