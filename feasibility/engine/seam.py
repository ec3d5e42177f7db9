"""The engine seam: what an engine is given, what it returns, and how one is chosen.

An engine evaluates a parsed :class:`~feasibility.protocol.Protocol` over a registry at an
index specification (one date for everyone, or :class:`~feasibility.engine.index.IndexEvents`)
and returns an :class:`EngineRun`. :class:`~feasibility.results.ScreenResult` depends on
this contract only: funnel, impact, reorder and without recombine ``EngineRun.pairs``;
relax and rescreen call the same engine again with the ``state`` it returned (its cached
tables), so the registry is not read twice.

``EngineRun.pairs`` -- one row per (patient, index) pair:

- ``patient_id`` (String) and ``index_date`` (Date);
- one nullable Boolean column per criterion id of the protocol (true = the criterion
  passes, false = fails, null = unknown), parts of combinations included;
- optionally, evidence columns per compiled leaf ``k`` (see :class:`LeafInfo`):
  ``__k`` (truth, nullable Boolean), ``__k_found`` (Boolean: a record was found),
  ``__k_value`` (Float64, canonical unit), ``__k_date`` (Date), ``__k_detail`` (String).
  An engine without evidence returns no such columns and no leaves; ``why`` and
  ``deciding_values`` then say so.

In fixed-date mode there is one pair per patient and ``pairs`` is in registry order
(``ordered=True``) or any order (``ordered=False``: the result restores registry order).
In event mode a patient has one pair per qualifying index event, none without one.

Engines are named (``polars`` the default, ``reference`` a plain-Python interpreter kept
for the spec tests, ``spark`` on Apache Spark) and imported only when asked for, so an
optional engine's dependencies are never needed by the others.
"""

from __future__ import annotations

import datetime as dt
import importlib
from dataclasses import dataclass, field
from typing import Any, Protocol

import polars as pl

from feasibility.engine.index import IndexEvents
from feasibility.errors import FeasibilityError
from feasibility.protocol import Protocol as ScreeningProtocol
from feasibility.protocol import Rule

#: Key columns of every engine's pairs frame.
PID = "patient_id"
IDX = "index_date"

#: Engine name -> "module:attribute" of a zero-argument factory returning an :class:`Engine`.
ENGINES: dict[str, str] = {
    "polars": "feasibility.engine.evaluate:PolarsEngine",
    "reference": "feasibility.engine.reference:ReferenceEngine",
    "spark": "feasibility.spark.engine:SparkEngine",
}

#: What a registry must offer every engine (``feasibility.registry.Registry`` does).
Index = dt.date | IndexEvents


class RegistryLike(Protocol):
    """What the engines need from a registry (see ``feasibility.registry.Registry``)."""

    tables: dict[str, pl.LazyFrame]

    def has(self, table: str) -> bool: ...


@dataclass
class LeafInfo:
    """What the evidence layer needs to know about one evaluated rule leaf: its column key
    ``k`` in ``pairs``, the criterion it belongs to, the rule node, a readable description,
    and for a thresholded leaf the canonical unit, threshold and operator."""

    key: str
    criterion: str
    rule: Rule
    description: str
    unit: str | None = None
    threshold: float | None = None
    op: str | None = None


@dataclass
class EngineRun:
    """An engine's answer (see the module docstring for the ``pairs`` frame)."""

    pairs: pl.DataFrame
    patient_ids: pl.DataFrame  # one column, patient_id: every patient, registry order
    leaves: dict[str, list[LeafInfo]] = field(default_factory=dict)
    state: Any = None  # handed back to the same engine by relax/rescreen
    ordered: bool = True  # fixed mode: pairs already in registry order
    #: a finished result the engine built itself (Spark aggregates-only: no pairs), which
    #: ``screen`` returns as it is
    result: Any = None


class Engine(Protocol):
    """A screening engine."""

    name: str

    def run(
        self,
        registry: Any,
        protocol: ScreeningProtocol,
        index: Index,
        *,
        progress: bool = False,
        state: Any = None,
    ) -> EngineRun:
        """Evaluate ``protocol`` over ``registry`` (or over ``state``, the tables a
        previous run of this engine kept) at ``index``."""
        ...


def get_engine(engine: str | Engine) -> Engine:
    """The engine called ``engine`` (an :class:`Engine` instance is returned as is)."""
    if not isinstance(engine, str):
        return engine
    target = ENGINES.get(engine)
    if target is None:
        raise FeasibilityError(f"unknown engine {engine!r}; engines are {', '.join(ENGINES)}")
    module, attr = target.split(":")
    try:
        factory = getattr(importlib.import_module(module), attr)
    except ImportError as exc:
        extra = f' (pip install "feasibility[{engine}]")' if engine == "spark" else ""
        raise FeasibilityError(f"engine {engine!r} is not available: {exc}{extra}") from None
    return factory()


__all__ = ["ENGINES", "Engine", "EngineRun", "IDX", "LeafInfo", "PID", "RegistryLike", "get_engine"]
