"""Read one table file into contract types, stopping on structural problems.

Typing is vectorised: each column is parsed leniently (unparseable -> null) and a
flag marks values that were present in the file but did not parse. One collect
reads the file, types it and computes the flags; the first flagged row (1-based
data row, header excluded) is then reported with its value as written. Parquet
columns that already carry the right type are taken as they are; string columns,
from CSV or Parquet, are parsed the same way.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from feasibility.errors import RegistryError
from feasibility.schema import NULLABLE, TABLES

ROW = "_row"
_FLAG = "__bad__"

_BOOLEAN_WORDS = {
    "true": True,
    "false": False,
    "t": True,
    "f": False,
    "yes": True,
    "no": False,
    "1": True,
    "0": False,
}

_KIND = {
    pl.Date: "an ISO-8601 date (YYYY-MM-DD)",
    pl.Float64: "a number",
    pl.Int64: "a whole number",
    pl.Boolean: "a boolean (true/false, 1/0, yes/no, t/f)",
}


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def _unreadable(table: str, file: Path, exc: BaseException) -> RegistryError:
    found = _scan_csv_rows(file) if file.suffix.lower() == ".csv" else None
    row, detail = found if found else (None, _first_line(exc))
    return RegistryError(
        f"table {table!r}: cannot read {file.name}: {detail}", table=table, row=row
    )


def _scan_csv_rows(file: Path) -> tuple[int | None, str] | None:
    """Find the first malformed record of a CSV file (error path only, so a Python loop is fine)."""
    try:
        with file.open(encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                return None, "the file is empty (a CSV table needs at least a header row)"
            for row_number, record in enumerate(reader, start=1):
                if len(record) > len(header):
                    return row_number, (
                        f"row {row_number} has {len(record)} fields but the header has "
                        f"{len(header)}"
                    )
    except UnicodeDecodeError as exc:
        return None, f"the file is not UTF-8 (byte offset {exc.start} of a line)"
    except csv.Error as exc:
        return None, f"malformed CSV: {exc}"
    return None


@dataclass(frozen=True)
class SourceTable:
    """One table file: its lazy scan with contract column names, and the source schema."""

    table: str
    file: Path
    frame: pl.LazyFrame
    schema: pl.Schema

    @property
    def extra_columns(self) -> list[str]:
        return [c for c in self.schema.names() if c not in TABLES[self.table]]

    @property
    def absent_columns(self) -> frozenset[str]:
        """Contract columns (optional ones: required ones stop the load) not in the file."""
        return frozenset(c for c in TABLES[self.table] if c not in self.schema.names())


def _scan(file: Path) -> pl.LazyFrame:
    if file.suffix.lower() == ".csv":
        return pl.scan_csv(file, infer_schema=False, encoding="utf8")
    return pl.scan_parquet(file)


#: Delimiters a CSV table written with the wrong settings commonly uses.
_OTHER_DELIMITERS = {";": "semicolon", "\t": "tab", "|": "pipe"}


def _csv_header(file: Path) -> list[str] | None:
    """The header row of a CSV file as written (None if it cannot be read: the reader
    reports that with its own message); a header that is not UTF-8 is refused here."""
    try:
        with file.open(encoding="utf-8", newline="") as handle:
            return next(csv.reader(handle), None)
    except UnicodeDecodeError as exc:
        raise RegistryError(
            f"{file.name}: the header is not UTF-8 (byte {exc.start}); registry CSV files must "
            "be UTF-8: re-export them as UTF-8",
            table=file.stem,
        ) from None
    except (csv.Error, OSError):
        return None


def check_header(table: str, file: Path, names: list[str]) -> None:
    """Refuse a header with the same column twice (after trimming and case-folding) and a
    CSV file that looks delimited by something other than a comma."""
    seen: dict[str, str] = {}
    for name in names:
        key = name.strip().lower()
        if key in seen:
            raise RegistryError(
                f"table {table!r}: column {key!r} appears twice in the header of {file.name} "
                f"({seen[key]!r} and {name!r}); keep one",
                table=table,
                column=key,
            )
        seen[key] = name
    if len(names) == 1:
        for delimiter, word in _OTHER_DELIMITERS.items():
            if delimiter in names[0]:
                raise RegistryError(
                    f"table {table!r}: {file.name} looks {word}-delimited (header "
                    f"{names[0][:60]!r}); registry CSV files must be comma-separated: "
                    "re-export with ',' as the delimiter",
                    table=table,
                )


def open_table(table: str, file: Path, frame: pl.LazyFrame | None = None) -> SourceTable:
    """Scan ``file`` (or take ``frame``, a lazy table made elsewhere, e.g. by the OMOP
    reader, with ``file`` naming it), match its header to the contract and check
    required columns."""
    if frame is None and file.suffix.lower() == ".csv":
        header = _csv_header(file)
        if header is not None:
            check_header(table, file, header)
    try:
        frame = _scan(file) if frame is None else frame
        schema = frame.collect_schema()
    except Exception as exc:  # any reader failure means the file cannot be used
        raise _unreadable(table, file, exc) from None
    check_header(table, file, schema.names())
    contract = TABLES[table]
    rename: dict[str, str] = {}
    names = schema.names()
    for name in names:
        key = name.strip().lower()
        if name not in contract and key in contract and key not in names:
            if key in rename.values():
                raise RegistryError(
                    f"table {table!r}: two columns of {file.name} both read as {key!r}",
                    table=table,
                    column=key,
                )
            rename[name] = key
    if rename:
        frame = frame.rename(rename)
        schema = frame.collect_schema()
    if ROW in schema.names():
        frame = frame.drop(ROW)  # ours: the row number in the file
        schema = frame.collect_schema()
    required = [c for c in contract if c not in NULLABLE.get(table, frozenset())]
    for column in required:
        if column not in schema.names():
            raise RegistryError(
                f"table {table!r}: required column {column!r} is missing from {file.name} "
                f"(it has: {', '.join(schema.names()) or 'no columns'})",
                table=table,
                column=column,
            )
    return SourceTable(table=table, file=file, frame=frame, schema=schema)


def _blank_to_null(text: pl.Expr) -> pl.Expr:
    stripped = text.str.strip_chars()
    return pl.when(stripped.str.len_bytes() > 0).then(stripped)


def _typed(
    table: str, column: str, target: pl.DataType, source: pl.DataType | None
) -> tuple[pl.Expr, pl.Expr | None]:
    """The expression typing ``column`` to ``target``, and the flag of unparseable values."""
    col = pl.col(column)
    if source is None:  # an optional column absent from the file
        return pl.lit(None, dtype=target).alias(column), None
    if source == pl.Null:
        return col.cast(target), None
    is_text = source in (pl.String, pl.Categorical) or isinstance(source, pl.Enum)
    if target == pl.String:
        return (col if source == pl.String else col.cast(pl.String)), None
    text = _blank_to_null(col.cast(pl.String)) if is_text else None
    if target == pl.Date:
        if source == pl.Date:
            return col, None
        if isinstance(source, pl.Datetime):
            return col.dt.date(), None
        if text is not None:
            parsed = text.str.to_date("%Y-%m-%d", strict=False)
            return parsed.alias(column), text.is_not_null() & parsed.is_null()
    elif target == pl.Float64:
        # NaN stays NaN: it is a value no lab produces (contract 5.2), which the normaliser
        # sets aside and counts as implausible, not a missing value
        if source.is_numeric():
            return col.cast(pl.Float64), None
        if text is not None:
            parsed = text.cast(pl.Float64, strict=False)
            return parsed.alias(column), text.is_not_null() & parsed.is_null()
    elif target == pl.Int64:
        if source.is_integer():
            return col.cast(pl.Int64, strict=False), col.is_not_null() & col.cast(
                pl.Int64, strict=False
            ).is_null()
        if source.is_float():
            whole = col.is_finite() & (col == col.round(0))
            parsed = pl.when(whole).then(col).cast(pl.Int64, strict=False)
            return parsed.alias(column), col.is_not_null() & ~col.is_nan() & parsed.is_null()
        if text is not None:
            as_float = text.cast(pl.Float64, strict=False)
            whole = as_float.is_finite() & (as_float == as_float.round(0))
            parsed = pl.coalesce(
                text.cast(pl.Int64, strict=False),
                pl.when(whole).then(as_float).cast(pl.Int64, strict=False),
            )
            return parsed.alias(column), text.is_not_null() & parsed.is_null()
    elif target == pl.Boolean:
        if source == pl.Boolean:
            return col, None
        if source.is_numeric():
            parsed = pl.when(col == 1).then(True).when(col == 0).then(False)
            return parsed.alias(column), col.is_not_null() & parsed.is_null()
        if text is not None:
            parsed = text.str.to_lowercase().replace_strict(
                _BOOLEAN_WORDS, default=None, return_dtype=pl.Boolean
            )
            return parsed.alias(column), text.is_not_null() & parsed.is_null()
    raise RegistryError(
        f"table {table!r}: column {column!r} has type {source} in the file; "
        f"expected {_KIND.get(type(target), str(target))}",
        table=table,
        column=column,
    )


def _columns(src: SourceTable) -> list[tuple[str, pl.Expr, pl.Expr | None]]:
    out = []
    for column, target in TABLES[src.table].items():
        expr, bad = _typed(src.table, column, target, src.schema.get(column))
        out.append((column, expr.alias(column), bad))
    return out


def read_typed(src: SourceTable, vocabulary_columns: Iterable[str] = ()) -> pl.DataFrame:
    """Collect the contract columns, typed, with ``_row``; raise on the first unparseable value.

    ``vocabulary_columns`` come back Categorical (four bytes a row instead of a string),
    for the normaliser to map through their few distinct values.
    """
    wanted = set(vocabulary_columns)
    columns = _columns(src)
    flags = {column: bad.alias(_FLAG + column) for column, _, bad in columns if bad is not None}
    exprs = [expr.cast(pl.Categorical) if c in wanted else expr for c, expr, _ in columns]
    query = src.frame.with_row_index(ROW, offset=1).select(ROW, *exprs, *flags.values())
    try:
        # streaming: decodes the file in pieces, so the peak is about the typed frame itself
        df = query.collect(engine="streaming")
    except RegistryError:
        raise
    except Exception as exc:
        raise _unreadable(src.table, src.file, exc) from None
    if flags:
        hits = df.select(pl.col(_FLAG + c).any() for c in flags).row(0)
        for column, hit in zip(flags, hits, strict=True):
            if hit:
                index = int(df.get_column(_FLAG + column).arg_max() or 0)
                raise _unparseable(src, column, index)
        df = df.drop(_FLAG + c for c in flags)
    series = df.get_columns()
    del df  # so each column's chunked original is freed as its copy is made
    return _align_chunks(series)


def _align_chunks(columns: list[pl.Series]) -> pl.DataFrame:
    """Make every fixed-width column one contiguous chunk; leave string columns as read.

    The streaming reader returns hundreds of chunks per column. Once a normaliser
    replaces some columns with single-chunk ones, every ``select`` over the frame sees
    misaligned chunks and polars rechunks whole columns (strings included) each time,
    which cost seconds per call at 85M rows. Rechunking numbers, dates and categoricals
    once is cheap; string columns (patient_id: the costliest copy) stay chunked.
    """
    for i, column in enumerate(columns):
        if column.dtype != pl.String and column.n_chunks() > 1:
            columns[i] = column.rechunk()
            del column
    return pl.DataFrame(columns)


def _unparseable(src: SourceTable, column: str, index: int) -> RegistryError:
    value = src.frame.slice(index, 1).select(pl.col(column).cast(pl.String)).collect().item()
    target = TABLES[src.table][column]
    return RegistryError(
        f"table {src.table!r}, column {column!r}, row {index + 1}: cannot read {value!r} as "
        f"{_KIND.get(type(target), str(target))} (file {src.file.name})",
        table=src.table,
        column=column,
        row=index + 1,
        value=value,
    )


def raw_frame(src: SourceTable) -> pl.LazyFrame:
    """A lazy re-scan typed per schema.TABLES, values as given, plus ``_row`` and extra columns.

    Only call after :func:`read_typed` succeeded: values that do not parse become null here.
    """
    columns = _columns(src)
    extra = [pl.col(c) for c in src.extra_columns]
    return src.frame.with_row_index(ROW, offset=1).select(
        ROW, *(expr for _, expr, _ in columns), *extra
    )


def empty_frame(table: str) -> pl.DataFrame:
    """An empty frame with the contract columns of ``table`` and ``_row``."""
    return pl.DataFrame(schema={ROW: pl.UInt32, **TABLES[table]})
