"""Streaming table writers: one file per table, appended chunk by chunk.

Parquet goes through one ``pyarrow.parquet.ParquetWriter`` per table (a row group per
chunk, zstd, plain large_string/date32/float64/int64/bool columns, min/max statistics
for date and number columns); CSV through polars,
header once, ISO dates, empty field for null. Both are byte-for-byte deterministic for
the same input frames and library versions.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from feasibility.schema import TABLES

FORMATS = ("parquet", "csv")


def _empty(table: str) -> pl.DataFrame:
    return pl.DataFrame(schema=TABLES[table])


class TableWriter:
    """Appends frames (already in contract column order and dtypes) to ``<table>.<format>``."""

    def __init__(self, out_dir: Path, table: str, fmt: str) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
        self.table = table
        self.fmt = fmt
        self.path = out_dir / f"{table}.{fmt}"
        self.rows = 0
        self._pq: pq.ParquetWriter | None = None
        self._schema: pa.Schema | None = None
        self._csv: BinaryIO | None = None

    def write(self, df: pl.DataFrame) -> None:
        df = df.select([pl.col(c).cast(t) for c, t in TABLES[self.table].items()])
        if self.fmt == "parquet":
            arrow = df.to_arrow(compat_level=pl.CompatLevel.oldest())
            if self._pq is None:
                self._schema = arrow.schema
                # Statistics only for dates and numbers: string min/max (patient_id, test,
                # unit) cost a third of the write time and no reader filters on them.
                stats = [c for c, t in TABLES[self.table].items() if t != pl.String()]
                self._pq = pq.ParquetWriter(
                    self.path, self._schema, compression="zstd", write_statistics=stats
                )
            self._pq.write_table(arrow.cast(self._schema), row_group_size=max(df.height, 1))
        else:
            if self._csv is None:
                self._csv = open(self.path, "wb")  # noqa: SIM115 - closed in close()
                df.write_csv(self._csv, include_header=True)
            else:
                df.write_csv(self._csv, include_header=False)
        self.rows += df.height

    def close(self) -> None:
        if self._pq is None and self._csv is None:
            self.write(_empty(self.table))
        if self._pq is not None:
            self._pq.close()
            self._pq = None
        if self._csv is not None:
            self._csv.close()
            self._csv = None
