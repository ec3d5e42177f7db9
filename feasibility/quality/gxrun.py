"""Run GX expectations on a polars frame: bridge through pandas via Arrow, quietly and fast.

GX Core has no polars backend, so each batch is handed over as a pandas DataFrame:
text, date and boolean columns as Arrow-backed extension arrays (no copy of the text),
numeric columns as numpy arrays (GX's pandas engine only vectorises ``between`` for
numpy dtypes; Arrow-backed numbers fall back to a Python call per value). The frame's
index is the row id (``_row`` or ``patient_id``), so failing ids come back as index
values without a per-row lookup.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
# GX probes for pyspark on import; with the [spark] extra installed, pyspark 4 warns that
# pandas 3 is "not yet fully supported". The pandas path never runs pyspark and the Spark
# path hands GX Spark frames (no pandas), so the warning says nothing about this run.
warnings.filterwarnings(
    "ignore", message="PySpark does not yet fully support pandas", category=FutureWarning
)

import great_expectations as gx  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import polars as pl  # noqa: E402
from great_expectations.data_context.types.base import ProgressBarsConfig  # noqa: E402
from great_expectations.execution_engine import pandas_execution_engine  # noqa: E402
from great_expectations.expectations.expectation_configuration import (  # noqa: E402
    ExpectationConfiguration,
)

__all__ = ["BatchOutcome", "GXRunner", "gx", "to_gx_frame"]

#: Result format: every failing row id (index values only, no values), few examples.
RESULT_FORMAT: dict[str, Any] = {
    "result_format": "COMPLETE",
    "partial_unexpected_count": 5,
    "exclude_unexpected_values": True,
    "return_unexpected_index_query": False,
}

_NUMERIC = (
    pl.Float32,
    pl.Float64,
    pl.Int8,
    pl.Int16,
    pl.Int32,
    pl.Int64,
    pl.UInt8,
    pl.UInt16,
    pl.UInt32,
    pl.UInt64,
)


def to_gx_frame(df: pl.DataFrame, index: str) -> pd.DataFrame:
    """A polars frame as the pandas frame GX validates, indexed by ``index``.

    Numbers become numpy float64/int64 (nulls as NaN), enums pandas categoricals (codes
    kept), everything else Arrow-backed (categoricals as text).
    """
    data: dict[str, Any] = {}
    for name, series in df.drop(index).to_dict().items():
        dtype = series.dtype
        if isinstance(dtype, pl.Enum):
            # codes index the Enum's categories: a pandas Categorical without touching text
            codes = series.to_physical().cast(pl.Int32).fill_null(-1).to_numpy()
            data[name] = pd.Categorical.from_codes(codes, categories=list(dtype.categories))
            continue
        if isinstance(dtype, pl.Categorical):
            series = series.cast(pl.String)
        if isinstance(dtype, _NUMERIC):
            if series.null_count() or dtype.is_float():
                data[name] = series.cast(pl.Float64).to_numpy()
            else:
                data[name] = series.cast(pl.Int64).to_numpy()
        else:
            arrow = series.to_arrow()
            data[name] = pd.arrays.ArrowExtensionArray(arrow)
    idx = df.get_column(index)
    pidx = pd.Index(
        idx.cast(pl.Int64).to_numpy() if idx.dtype.is_integer() else idx.to_list(), name=index
    )
    return pd.DataFrame(data, index=pidx)


def schema_frame(schema: pl.Schema) -> pd.DataFrame:
    """An empty pandas frame with the Arrow types of ``schema`` (categoricals as text)."""
    cols = {
        name: (pl.String if isinstance(dtype, (pl.Categorical, pl.Enum)) else dtype)
        for name, dtype in schema.items()
    }
    frame = pl.DataFrame(schema=cols).to_pandas(use_pyarrow_extension_array=True)
    frame.index.name = "_row"
    return frame


@dataclass
class BatchOutcome:
    """The parsed result of one expectation on one batch."""

    check: str
    success: bool | None
    element_count: int | None
    unexpected_count: int | None
    unexpected_percent: float | None
    unexpected_ids: list[Any]
    missing_count: int | None = None
    observed: Any = None
    exception: str | None = None


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """No GX log noise, no progress bars, and no whole-frame fingerprint hash per batch."""
    loggers = [logging.getLogger(n) for n in ("great_expectations", "great_expectations.core")]
    levels = [lg.level for lg in loggers]
    threshold = pandas_execution_engine.HASH_THRESHOLD
    old_tqdm = os.environ.get("TQDM_DISABLE")
    try:
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        # GX hashes every batch under 1 GB to fingerprint it; we never use the fingerprint
        # and it costs seconds per batch on large tables.
        pandas_execution_engine.HASH_THRESHOLD = 0
        os.environ["TQDM_DISABLE"] = "1"
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)
        pandas_execution_engine.HASH_THRESHOLD = threshold
        if old_tqdm is None:
            os.environ.pop("TQDM_DISABLE", None)
        else:
            os.environ["TQDM_DISABLE"] = old_tqdm


class GXRunner:
    """One ephemeral GX context; validates lists of expectation configs on polars frames."""

    def __init__(self) -> None:
        with _quiet():
            self.context = gx.get_context(mode="ephemeral")
            self.context.variables.progress_bars = ProgressBarsConfig(
                globally=False, metric_calculations=False
            )
            self.source = self.context.data_sources.add_pandas("registry")
        self._n = 0

    #: up to this many cells a condition group is one batch (runner.BATCH_CELLS)
    batch_cells: int | None = None

    def frame(self, df: pl.DataFrame, index: str) -> Any:
        """The batch GX validates for ``df`` (here a pandas frame indexed by ``index``;
        feasibility.spark.quality.SparkGXRunner: a Spark DataFrame)."""
        return to_gx_frame(df, index)

    def schema_frame(self, schema: pl.Schema) -> Any:
        """An empty batch with the types of ``schema`` (for the schema checks)."""
        return schema_frame(schema)

    def validate(
        self, frame: pd.DataFrame, configs: list[dict[str, Any]], name: str
    ) -> list[BatchOutcome]:
        """Validate ``configs`` (GX expectation configs with ``meta.check``) on ``frame``."""
        self._n += 1
        with _quiet():
            asset = self.source.add_dataframe_asset(f"{name}#{self._n}")
            batch = asset.add_batch_definition_whole_dataframe("all").get_batch(
                batch_parameters={"dataframe": frame}
            )
            expectations = [ExpectationConfiguration(**c).to_domain_obj() for c in configs]
            suite = gx.ExpectationSuite(name=f"{name}#{self._n}", expectations=expectations)
            fmt = dict(RESULT_FORMAT, unexpected_index_column_names=[frame.index.name])
            result = batch.validate(suite, result_format=fmt)
            self.source.delete_asset(asset.name)
            # GX caches every batch's data and metrics in the execution engine; drop them,
            # or each validated chunk would stay in memory until the context goes away.
            engine = self.source.get_execution_engine()
            engine.batch_manager.reset_batch_cache()
            engine.batch_manager.batch_data_cache.clear()
            # computed metrics hold per-row boolean series of each batch
            cache = getattr(engine, "_metric_cache", None)
            if isinstance(cache, dict):
                cache.clear()
            del batch
        return [_parse(r, frame.index.name) for r in result.results]


def _parse(r: Any, index_name: str) -> BatchOutcome:
    res = r.result or {}
    info = r.exception_info or {}
    exception = None
    if info.get("raised_exception"):
        exception = str(info.get("exception_message") or "exception")
    ids: list[Any] = []
    for item in res.get("unexpected_index_list") or []:
        if isinstance(item, dict) and isinstance(item.get(index_name), list):
            ids.extend(item[index_name])
        elif isinstance(item, dict) and index_name in item:
            ids.append(item[index_name])
        else:
            ids.append(item)
    count = res.get("unexpected_count")
    return BatchOutcome(
        check=r.expectation_config.meta.get("check"),
        success=None if exception else bool(r.success),
        element_count=res.get("element_count"),
        unexpected_count=None if count is None else int(count),
        unexpected_percent=None
        if res.get("unexpected_percent") is None
        else float(res["unexpected_percent"]),
        unexpected_ids=[i.item() if isinstance(i, np.generic) else i for i in ids],
        missing_count=None if res.get("missing_count") is None else int(res["missing_count"]),
        observed=res.get("observed_value"),
        exception=exception,
    )
