"""The data-quality suites on GX's Spark execution engine (``feasibility validate --engine spark``).

The same checks as the default path (:mod:`feasibility.quality.runner`), with the same
preparation: per table the raw frame and its derived columns are prepared once on the
polars side (:mod:`feasibility.quality.prep`), one frame per row condition, and each batch
is handed to Great Expectations as a **Spark DataFrame** of a GX Spark data source (GX Core
1.x: ``data_sources.add_spark`` -> dataframe asset -> whole-dataframe batch), so every
metric (counts, sets, ranges, regexes, uniqueness, failing row ids) is computed by Spark
jobs instead of pandas. Statuses, counts and failing rows are those of the pandas path.

Two passes per batch keep the number of Spark jobs down: first every expectation with the
``SUMMARY`` result format (GX bundles the counting metrics of one column into one Spark
aggregation), then only the expectations that found failing rows again with ``COMPLETE``
to collect those rows' ids (``_row`` or ``patient_id``).

One dialect difference: ``expect_column_values_to_be_of_type`` names Python/pandas types
in the suites (``str``, ``int``, ``float``, ``bool``, ``date``); on Spark the same checks
name the Spark type classes they mean (:data:`SPARK_TYPES`: ``StringType``,
``IntegralType``, ``FractionalType``, ``BooleanType``, ``DateType``).

What stays on the machine that runs ``validate``: reading the registry and the polars
preparation (derived columns need the patients table, the vocabularies and the loader's
normalisation). The registry therefore still has to fit there; what moves to Spark is the
evaluation of the expectations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from feasibility.quality.gxrun import (
    RESULT_FORMAT,
    BatchOutcome,
    ExpectationConfiguration,
    GXRunner,
    ProgressBarsConfig,
    _parse,
    _quiet,
    gx,
)

__all__ = ["SPARK_TYPES", "SparkBatch", "SparkGXRunner", "to_spark_frame"]

#: ``type_`` of expect_column_values_to_be_of_type in the suites -> the pyspark.sql.types
#: class GX's Spark engine checks with isinstance (base classes cover every width).
SPARK_TYPES: dict[str, str] = {
    "str": "StringType",
    "int": "IntegralType",
    "float": "FractionalType",
    "bool": "BooleanType",
    "date": "DateType",
    "datetime": "TimestampType",
}

#: The first pass: counts and percentages only, no rows.
SUMMARY_FORMAT: dict[str, Any] = {"result_format": "SUMMARY", "partial_unexpected_count": 0}


@dataclass
class SparkBatch:
    """A Spark DataFrame to validate and the name of its row-id column (``_row``,
    ``patient_id`` or ``table``; None for an empty schema frame)."""

    frame: Any  # pyspark.sql.DataFrame
    index: str | None


def _spark_ready(df: pl.DataFrame) -> pl.DataFrame:
    """Enums and categoricals as text (Spark has neither); everything else as is."""
    casts = [
        pl.col(name).cast(pl.String)
        for name, dtype in df.schema.items()
        if isinstance(dtype, (pl.Categorical, pl.Enum))
    ]
    return df.with_columns(casts) if casts else df


def to_spark_frame(spark: Any, df: pl.DataFrame) -> Any:
    """A polars frame as a Spark DataFrame, through Arrow (no per-row Python)."""
    table = _spark_ready(df).to_arrow(compat_level=pl.CompatLevel.oldest())
    return spark.createDataFrame(table)


def _spark_config(config: dict[str, Any]) -> dict[str, Any]:
    """A suite's expectation config in Spark's dialect (see :data:`SPARK_TYPES`)."""
    if config["type"] != "expect_column_values_to_be_of_type":
        return config
    kwargs = dict(config["kwargs"])
    kwargs["type_"] = SPARK_TYPES.get(kwargs["type_"], kwargs["type_"])
    return {**config, "kwargs": kwargs}


class SparkGXRunner(GXRunner):
    """A :class:`~feasibility.quality.gxrun.GXRunner` whose batches are Spark DataFrames
    validated by GX's Spark execution engine (the session: :func:`feasibility.spark.session.get_session`)."""

    #: Spark copies nothing per expectation: a condition group is always one batch.
    batch_cells = 10**15

    def __init__(self, spark: Any = None) -> None:
        if spark is None:
            from feasibility.spark.session import get_session

            spark = get_session()
        self.spark = spark
        with _quiet():
            self.context = gx.get_context(mode="ephemeral")
            self.context.variables.progress_bars = ProgressBarsConfig(
                globally=False, metric_calculations=False
            )
            self.source = self.context.data_sources.add_spark("registry")  # type: ignore[assignment]
        self._n = 0

    def frame(self, df: pl.DataFrame, index: str) -> SparkBatch:
        return SparkBatch(to_spark_frame(self.spark, df), index)

    def schema_frame(self, schema: pl.Schema) -> SparkBatch:
        empty = pl.DataFrame(schema={k: v for k, v in schema.items()})
        return SparkBatch(to_spark_frame(self.spark, empty), None)

    def _run(self, batch: SparkBatch, configs: list[dict[str, Any]], name: str, fmt: dict) -> Any:
        self._n += 1
        asset = self.source.add_dataframe_asset(f"{name}#{self._n}")
        try:
            gx_batch = asset.add_batch_definition_whole_dataframe("all").get_batch(
                batch_parameters={"dataframe": batch.frame}
            )
            expectations = [
                ExpectationConfiguration(**_spark_config(c)).to_domain_obj() for c in configs
            ]
            suite = gx.ExpectationSuite(name=f"{name}#{self._n}", expectations=expectations)
            return gx_batch.validate(suite, result_format=fmt)
        finally:
            self.source.delete_asset(asset.name)
            engine = self.source.get_execution_engine()
            engine.batch_manager.reset_batch_cache()
            engine.batch_manager.batch_data_cache.clear()
            cache = getattr(engine, "_metric_cache", None)
            if isinstance(cache, dict):
                cache.clear()

    def validate(  # type: ignore[override]
        self, frame: SparkBatch, configs: list[dict[str, Any]], name: str
    ) -> list[BatchOutcome]:
        """Validate ``configs`` on ``frame``: counts first, failing row ids where any."""
        index = frame.index or "_row"
        with _quiet():
            first = self._run(frame, configs, name, SUMMARY_FORMAT)
            outcomes = {o.check: o for o in (_parse(r, index) for r in first.results)}
            failing = [
                c
                for c in configs
                if (o := outcomes.get(c["meta"]["check"])) is not None
                and not o.exception
                and (o.unexpected_count or 0) > 0
            ]
            if failing and frame.index is not None:
                fmt = dict(RESULT_FORMAT, unexpected_index_column_names=[frame.index])
                second = self._run(frame, failing, name, fmt)
                for r in second.results:
                    o = _parse(r, index)
                    outcomes[o.check] = o
        return [outcomes[c["meta"]["check"]] for c in configs]
