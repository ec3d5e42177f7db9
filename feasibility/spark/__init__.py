"""Apache Spark support: the ``spark`` screening engine, its SparkSession, GX validation on Spark.

Nothing here imports pyspark when ``feasibility`` (or this package) is imported: pyspark is
an optional extra (``pip install "feasibility[spark]"``, plus Java 17) and is loaded by
:func:`feasibility.spark.session.get_session` on first use.

- :mod:`feasibility.spark.session`: ``get_session(master, conf)`` (lean local defaults) and
  ``configure(master, conf)`` (what the CLI's ``--spark-master``/``--spark-conf`` set);
- :mod:`feasibility.spark.engine`: ``SparkEngine``, engine ``"spark"`` of the engine seam;
- :mod:`feasibility.spark.quality`: the Great Expectations suites on GX's Spark execution
  engine (``feasibility validate --engine spark``).
"""

from __future__ import annotations

from typing import Any

__all__ = ["configure", "get_session", "parse_conf"]


def __getattr__(name: str) -> Any:
    # session.py imports pyspark only inside get_session; importing it here is cheap
    if name in __all__:
        from feasibility.spark import session

        return getattr(session, name)
    raise AttributeError(f"module 'feasibility.spark' has no attribute {name!r}")
