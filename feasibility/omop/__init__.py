"""OMOP CDM 5.4 databases as registries: read them (``load_omop``), write one
(``write_omop``), check their OMOP conformance (``omop_conformance``).

A directory of OMOP tables (Parquet or CSV) or a DuckDB file is mapped to the eight
registry tables with the reviewed ``mapping.yaml`` and the database's own vocabulary,
then loaded by the native loader; ``load_registry`` does this by itself when it sees a
``person`` table (or ``format="omop"``). See ``docs/OMOP.md``.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "load_omop": "feasibility.omop.reader",
    "omop_tables": "feasibility.omop.reader",
    "OmopRegistry": "feasibility.omop.reader",
    "open_omop": "feasibility.omop.source",
    "is_omop": "feasibility.omop.source",
    "load_mapping": "feasibility.omop.mapping",
    "write_omop": "feasibility.omop.writer",
    "omop_conformance": "feasibility.omop.conformance",
}


def __getattr__(name: str) -> Any:
    """Import lazily, so ``feasibility.protocol`` can use ``omop.conceptsets`` cheaply."""
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(name)


__all__ = sorted(_EXPORTS)
