"""The screening engine: rules compiled to polars lazy queries, evaluated for all patients at once."""

from feasibility.engine.evaluate import screen
from feasibility.engine.index import IndexEvents

__all__ = ["screen", "IndexEvents"]
