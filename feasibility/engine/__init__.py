"""The screening engines and their seam (:mod:`feasibility.engine.seam`): the polars engine
(rules compiled to polars lazy queries, all patients at once) and a plain-Python reference
engine for the spec tests; the Spark engine lives in :mod:`feasibility.spark`.

``feasibility.engine.screen`` is :func:`feasibility.results.screen`, resolved on first use:
the result module depends on the engines, never the reverse.
"""

from typing import Any

from feasibility.engine.index import IndexEvents

__all__ = ["screen", "IndexEvents"]


def __getattr__(name: str) -> Any:
    if name == "screen":
        from feasibility.results import screen

        return screen
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
