"""The screening engine: rules compiled to polars lazy queries, evaluated for all patients at once."""

from feasibility.engine.index import IndexEvents
from feasibility.results import screen  # the engine's entry point, returning a ScreenResult

__all__ = ["screen", "IndexEvents"]
