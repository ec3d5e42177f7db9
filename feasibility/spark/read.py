"""Read a registry's table files with Spark, typed and normalised as the engine needs them.

The Spark engine does not take the tables the polars loader holds in memory: each table
file (``<table>.parquet`` or ``<table>.csv`` of a native registry directory, on any
filesystem Spark reads) is read by Spark and typed and normalised in Spark, for the
columns the engine reads, with the loader's rules (``feasibility.registry._normalise``):

- patient_id trimmed, blank -> not a patient (the row is left out);
- patients: sex trimmed and upper-cased, outside F/M/U -> null; rows sharing a
  patient_id with different sex, birth_date or death_date: that field is null for the
  patient (contract 5.1), one row per patient kept, with its first position in the file;
- diagnoses: code without dots and spaces, upper case;
- measurements: test trimmed and lower-cased, unit trimmed, value converted to the test's
  canonical unit; rows with an unknown test, an unaccepted unit, no value or a value
  outside the plausible range leave the table (contract 5.2);
- assessments: item and value trimmed and lower-cased; a value outside the item's
  vocabulary leaves the table;
- medications: route trimmed and lower-cased (blank -> null), ``systemic`` unless topical,
  ophthalmic or otic; the drug name canonicalised to its ingredient;
- procedures: category trimmed and lower-cased, outside the vocabulary the row leaves;
- lesions: a diameter outside the plausible range becomes null.

Text columns with few distinct spellings (tests and units, items and values, codes, drugs
and routes) are normalised once per distinct value and joined back (:func:`via_distinct`),
not once per row.

Exact duplicate rows are kept: they change no "latest" and no "any" answer. Typing
follows ``feasibility.registry._read``: a column that already has the contract type is
taken as it is (typed Parquet costs no check); text is parsed and the first value that
does not parse stops the read with a one-line :class:`~feasibility.errors.RegistryError`
naming table, column, row and value. A missing required column is such an error too; a
missing optional column is null for everyone and listed in ``SparkTables.absent``.

A registry whose tables have no file Spark can read (e.g. an OMOP database mapped by
``feasibility.omop``) is handed over from the loader's normalised tables through Arrow.

A :class:`CatalogRegistry` names tables of a Spark catalog or metastore instead of files
(``feasibility screen --spark-database``/``--spark-tables``): each is read with
``spark.table(name)`` and goes through the same typing and normalisation, its errors
naming ``catalog table <name>`` where a file's name its file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import reduce
from pathlib import Path
from typing import Any

import polars as pl
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from feasibility.errors import RegistryError
from feasibility.plausibility import LESION_DIAMETER_RANGE, PLAUSIBLE_RANGES
from feasibility.registry._files import find_table_files
from feasibility.schema import (
    ASSESSMENT_ITEMS,
    NON_SYSTEMIC_ROUTES,
    NULLABLE,
    PROCEDURE_CATEGORIES,
    SEX_CODES,
    TABLES,
    TESTS,
    _drug_vocabulary,
)

PID = "patient_id"
#: Position of a patient's first row in the patients file (registry order).
ORDER = "_order"

#: Columns the engine reads from each normalised table (``systemic`` is derived).
ENGINE_COLUMNS: dict[str, list[str]] = {
    "patients": ["patient_id", "sex", "birth_date", "death_date"],
    "diagnoses": ["patient_id", "code", "diagnosed_on"],
    "measurements": ["patient_id", "test", "value", "unit", "measured_on"],
    "assessments": ["patient_id", "item", "value", "assessed_on"],
    "medications": ["patient_id", "drug", "route", "start_date", "end_date"],
    "procedures": ["patient_id", "category", "performed_on"],
    "lesions": ["patient_id", "imaged_on", "site", "longest_diameter_cm", "bone_contiguous"],
    "therapies": [
        "patient_id",
        "line_number",
        "regimen",
        "start_date",
        "end_date",
        "investigational",
    ],
}

_SPARK_TYPES: dict[type, T.DataType] = {
    pl.String: T.StringType(),
    pl.Date: T.DateType(),
    pl.Float64: T.DoubleType(),
    pl.Int64: T.LongType(),
    pl.Boolean: T.BooleanType(),
}

_KIND = {
    pl.Date: "an ISO-8601 date (YYYY-MM-DD)",
    pl.Float64: "a number",
    pl.Int64: "a whole number",
    pl.Boolean: "a boolean (true/false, 1/0, yes/no, t/f)",
}

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


@dataclass
class SparkTables:
    """The registry as Spark DataFrames: the engine's columns of each present table,
    typed and normalised; ``absent``: (table, column) of optional columns missing from a
    present table's file (their facts are unknown for everyone)."""

    frames: dict[str, DataFrame]
    present: set[str]
    absent: frozenset[tuple[str, str]] = frozenset()
    source: dict[str, str] = field(default_factory=dict)  # table -> file read (or "arrow")
    spark: Any = None
    registry: Any = None
    files: dict[str, Any] = field(default_factory=dict)  # table -> Path, CatalogTable or None

    def ensure(self, tables: set[str]) -> None:
        """Read the present ``tables`` not read yet (a screen reads only what it needs)."""
        for table in sorted((tables & self.present) - set(self.frames)):
            frame, missing, source = _read_table(
                self.spark, self.registry, table, self.files.get(table)
            )
            self.frames[table] = frame
            self.absent = self.absent | {(table, c) for c in missing}
            self.source[table] = source


#: Whitespace Python's ``str.strip`` and polars' ``strip_chars`` remove (Unicode White_Space).
WHITESPACE = "".join(c for c in map(chr, range(0x3001)) if c.isspace())


def _strip(col: Column) -> Column:
    """Trim whitespace on both sides, as the loader does: a character-set trim (much
    cheaper than a regular expression), run only on values whose first or last character
    is whitespace (the trim itself costs about five times the check over tens of
    millions of clean identifiers)."""
    ws = list(WHITESPACE)
    edge = F.substring(col, 1, 1).isin(ws) | F.substring(col, -1, 1).isin(ws)
    return F.when(edge, F.btrim(col, F.lit(WHITESPACE))).otherwise(col)


def lookup(mapping: dict, key: Column) -> Column:
    """``mapping[key]`` (null when absent) as a Spark column: a literal map, so ``key`` is
    evaluated once (a chain of CASE WHEN branches would repeat it per entry)."""
    return F.try_element_at(
        F.create_map(*[F.lit(x) for pair in sorted(mapping.items()) for x in pair]), key
    )


def _blank_null(col: Column) -> Column:
    s = _strip(col)
    return F.when(F.length(s) > 0, s)


# ---------------------------------------------------------------------------- files


@dataclass(frozen=True)
class CatalogTable:
    """A registry table that is a table of the Spark catalog (``spark.table(name)``)."""

    name: str


class CatalogRegistry:
    """A registry whose tables are tables of a Spark catalog or metastore (Hive, Unity
    Catalog, Glue, the session's own catalog) rather than files: ``database`` names where
    the tables are called ``patients``, ``measurements``, ... (``db`` or
    ``catalog.schema``), ``tables`` names tables one by one (``{"patients": "db.pat"}``),
    overriding ``database``. Read with ``spark.table(...)`` and typed and normalised
    exactly like table files. Under ``database``, a table that does not exist is absent
    (its criteria unknown for everyone), except patients; a table named in ``tables``
    must exist. Only the Spark engine reads it: ``fz.screen(CatalogRegistry("db"),
    protocol, index, engine="spark")`` (``feasibility screen --spark-database``/
    ``--spark-tables``)."""

    def __init__(
        self,
        database: str | None = None,
        tables: dict[str, str] | None = None,
        *,
        spark: Any = None,
    ) -> None:
        tables = {k.strip(): v.strip() for k, v in (tables or {}).items()}
        unknown = [t for t in tables if t not in TABLES]
        if unknown:
            raise RegistryError(
                f"catalog tables: {unknown[0]!r} is not a registry table; tables are "
                f"{', '.join(TABLES)}",
                table=unknown[0],
            )
        empty = [t for t, n in tables.items() if not n]
        if empty:
            raise RegistryError(f"catalog tables: no table name for {empty[0]!r}", table=empty[0])
        if not database and "patients" not in tables:
            raise RegistryError(
                "catalog registry: give a database, or a table name for patients",
                table="patients",
            )
        self.database = database.strip() if database else None
        self.table_names = tables
        self._spark = spark
        named = ", ".join(f"{t}={n}" for t, n in tables.items())
        where = [f"database {self.database}"] if self.database else []
        self.path = "Spark catalog " + "; ".join(where + ([f"tables {named}"] if named else []))
        self._exists: dict[str, bool] = {}

    def __repr__(self) -> str:
        return f"CatalogRegistry({self.path})"

    @property
    def spark(self) -> Any:
        if self._spark is None:
            from feasibility.spark.session import get_session

            self._spark = get_session()
        return self._spark

    @property
    def tables(self) -> dict[str, Any]:
        """Not offered: only the Spark engine reads a catalog registry."""
        raise RegistryError(
            f"{self.path}: catalog tables are read by the Spark engine only (engine='spark')"
        )

    def name(self, table: str) -> str | None:
        """The catalog name of ``table`` (None: not in this registry)."""
        if table in self.table_names:
            return self.table_names[table]
        return f"{self.database}.{table}" if self.database else None

    def has(self, table: str) -> bool:
        name = self.name(table)
        if name is None:
            return False
        if table not in self._exists:
            try:
                self._exists[table] = bool(self.spark.catalog.tableExists(name))
            except Exception as exc:  # noqa: BLE001 - e.g. a malformed name, no such catalog
                raise RegistryError(
                    f"table {table!r}: cannot look up catalog table {name}: {_first_line(exc)}",
                    table=table,
                ) from None
        return self._exists[table]

    def sources(self) -> dict[str, CatalogTable]:
        """table -> catalog table of the tables present; a named table (``tables``) or
        patients that does not exist is an error naming it."""
        out: dict[str, CatalogTable] = {}
        for table in TABLES:
            name = self.name(table)
            if name is None:
                continue
            if self.has(table):
                out[table] = CatalogTable(name)
            elif table in self.table_names or table == "patients":
                raise RegistryError(
                    f"table {table!r}: catalog table {name} does not exist", table=table
                )
        return out


def check_catalog_events(registry: CatalogRegistry, index: Any) -> None:
    """Event mode on catalog tables: stop with one line when the events table does not
    exist or no row of it qualifies (as ``check_events`` does for files)."""
    from feasibility.engine.index import IndexEvents

    if not isinstance(index, IndexEvents):
        return
    if not registry.has(index.table):
        raise RegistryError(
            f"--index-events {index.table}: {registry.path} has no {index.table} table "
            f"({registry.name(index.table) or 'not named'}); add it or use --index-date",
            table=index.table,
        )
    from feasibility.spark.pairs import index_pairs

    tables = read_tables(registry.spark, registry, {index.table})
    if (index.table, index.column) in tables.absent:
        raise RegistryError(
            f"--index-events {index.table}: column {index.column!r} is absent from catalog "
            f"table {registry.name(index.table)}; add it or choose another --index-column",
            table=index.table,
            column=index.column,
        )
    if not index_pairs(index, tables).take(1):
        raise RegistryError(
            f"--index-events {index.table}: no row qualifies as an index "
            f"({index.describe()}); widen --index-from/--index-to or loosen --index-where",
            table=index.table,
        )


def registry_files(registry: Any) -> tuple[dict[str, Any], set[str]]:
    """(table -> file Spark reads, :class:`CatalogTable`, or None to hand the loader's
    table over; present tables)."""
    if isinstance(registry, CatalogRegistry):
        sources = registry.sources()
        return dict(sources), set(sources)
    if isinstance(registry, str | Path):
        found = find_table_files(Path(registry))
        return dict(found.files), set(found.files)
    present = {t for t in TABLES if registry.has(t)}
    files = getattr(registry, "files", {}) or {}
    out: dict[str, Path | None] = {}
    for t in present:
        f = files.get(t)
        out[t] = f if f is not None and Path(f).is_file() else None
    return out, present


def catalog_table(spark: SparkSession, table: str, source: CatalogTable) -> DataFrame:
    """``spark.table(name)``; an error is one line naming the table."""
    try:
        return spark.table(source.name)
    except Exception as exc:  # noqa: BLE001 - Spark raises several error types
        raise RegistryError(
            f"table {table!r}: cannot read catalog table {source.name}: {_first_line(exc)}",
            table=table,
        ) from None


def _read_file(spark: SparkSession, table: str, file: Path) -> DataFrame:
    try:
        if file.suffix.lower() == ".csv":
            return (
                spark.read.option("header", True)
                .option("inferSchema", False)
                .option("encoding", "UTF-8")
                .option("mode", "FAILFAST")
                .csv(str(file))
            )
        return spark.read.parquet(str(file))
    except Exception as exc:  # noqa: BLE001 - Spark raises several error types
        raise RegistryError(
            f"table {table!r}: cannot read {file.name}: {_first_line(exc)}", table=table
        ) from None


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0][:300] if lines else type(exc).__name__


def _match_header(table: str, name: str, df: DataFrame) -> DataFrame:
    """Rename columns matching a contract column after trimming and case-folding; refuse a
    header naming one column twice and a missing required column."""
    contract = TABLES[table]
    seen: dict[str, str] = {}
    for col in df.columns:
        key = col.strip().lower()
        if key in seen:
            raise RegistryError(
                f"table {table!r}: column {key!r} appears twice in the header of {name} "
                f"({seen[key]!r} and {col!r}); keep one",
                table=table,
                column=key,
            )
        seen[key] = col
    for key, col in seen.items():
        if col != key and key in contract and key not in df.columns:
            df = df.withColumnRenamed(col, key)
    required = [c for c in contract if c not in NULLABLE.get(table, frozenset())]
    for column in required:
        if column not in df.columns:
            raise RegistryError(
                f"table {table!r}: required column {column!r} is missing from {name} "
                f"(it has: {', '.join(df.columns) or 'no columns'})",
                table=table,
                column=column,
            )
    return df


def _typed(
    table: str, column: str, target: pl.DataType, source: T.DataType | None
) -> tuple[Column, Column | None]:
    """Spark twin of ``feasibility.registry._read._typed``: the typed column and a flag
    of values present in the file that do not parse (None: nothing to parse)."""
    spark_type = _SPARK_TYPES[type(target)]
    col = F.col(f"`{column}`")
    if source is None or isinstance(source, T.NullType):
        return F.lit(None).cast(spark_type), None
    if source == spark_type:
        return col, None
    is_text = isinstance(source, T.StringType)
    numeric = isinstance(source, T.NumericType)
    integral = isinstance(source, T.IntegralType)
    if isinstance(spark_type, T.StringType):
        return col.cast("string"), None
    text = _blank_null(col) if is_text else None
    if isinstance(spark_type, T.DateType):
        if isinstance(source, T.TimestampType | T.TimestampNTZType):
            return F.to_date(col), None
        if text is not None:
            parsed = F.when(text.rlike(r"^\d{4}-\d{1,2}-\d{1,2}$"), text.try_cast("date"))
            return parsed, text.isNotNull() & parsed.isNull()
    elif isinstance(spark_type, T.DoubleType):
        if numeric:
            return col.cast("double"), None
        if text is not None:
            parsed = text.try_cast("double")
            return parsed, text.isNotNull() & parsed.isNull()
    elif isinstance(spark_type, T.LongType):
        if integral:
            return col.cast("long"), None
        if numeric:
            d = col.cast("double")
            whole = ~F.isnan(d) & (F.abs(d) < 9.2e18) & (d == F.round(d, 0))
            parsed = F.when(whole, d.try_cast("long"))
            return parsed, col.isNotNull() & ~F.isnan(d) & parsed.isNull()
        if text is not None:
            d = text.try_cast("double")
            whole = ~F.isnan(d) & (F.abs(d) < 9.2e18) & (d == F.round(d, 0))
            parsed = F.coalesce(text.try_cast("long"), F.when(whole, d.try_cast("long")))
            return parsed, text.isNotNull() & parsed.isNull()
    elif isinstance(spark_type, T.BooleanType):
        if numeric:
            parsed = F.when(col == 1, True).when(col == 0, False)
            return parsed, col.isNotNull() & parsed.isNull()
        if text is not None:
            words = F.create_map(
                *[x for k, v in _BOOLEAN_WORDS.items() for x in (F.lit(k), F.lit(v))]
            )
            parsed = F.try_element_at(words, F.lower(text))
            return parsed, text.isNotNull() & parsed.isNull()
    raise RegistryError(
        f"table {table!r}: column {column!r} has type {source.simpleString()} in the file; "
        f"expected {_KIND.get(type(target), str(target))}",
        table=table,
        column=column,
    )


def _first_bad_row(df: DataFrame, flag: Column, column: str) -> tuple[int | None, Any]:
    """1-based row number (file order) and value of the first row where ``flag`` holds
    (error path only: numbers the rows with an RDD index)."""
    try:
        rows = (
            df.select(flag.alias("bad"), F.col(f"`{column}`").cast("string").alias("v"))
            .rdd.zipWithIndex()
            .filter(lambda r: bool(r[0][0]))
            .take(1)
        )
    except Exception:  # noqa: BLE001 - e.g. Spark Connect has no RDDs
        bad = df.filter(flag).select(F.col(f"`{column}`").cast("string")).take(1)
        return None, bad[0][0] if bad else None
    if not rows:
        return None, None
    (_, value), index = rows[0]
    return int(index) + 1, value


def typed_table(spark: SparkSession, table: str, file: Path) -> tuple[DataFrame, set[str]]:
    """The contract columns the engine reads from a table file, typed (stopping on the
    first value that does not parse), and the optional columns the file lacks."""
    return typed_frame(table, _read_file(spark, table, file), file.name, f"file {file.name}")


def typed_frame(table: str, df: DataFrame, name: str, what: str) -> tuple[DataFrame, set[str]]:
    """:func:`typed_table` of a DataFrame already read (a file, a catalog table): ``name``
    and ``what`` (e.g. ``x.csv`` and ``file x.csv``) name it in errors."""
    raw = _match_header(table, name, df)
    schema = {f.name: f.dataType for f in raw.schema.fields}
    absent = {c for c in TABLES[table] if c not in schema}
    cols: list[Column] = []
    flags: dict[str, Column] = {}
    for column in ENGINE_COLUMNS[table]:
        expr, bad = _typed(table, column, TABLES[table][column], schema.get(column))
        cols.append(expr.alias(column))
        if bad is not None:
            flags[column] = bad
    if flags:
        try:
            hits = raw.select([F.max(b.cast("int")).alias(c) for c, b in flags.items()]).first()
        except Exception as exc:  # noqa: BLE001 - malformed files fail at the first action
            raise RegistryError(
                f"table {table!r}: cannot read {name}: {_first_line(exc)}", table=table
            ) from None
        for column in flags:
            if hits is not None and hits[column]:
                row, value = _first_bad_row(raw, flags[column], column)
                target = TABLES[table][column]
                where = f", row {row}" if row is not None else ""
                raise RegistryError(
                    f"table {table!r}, column {column!r}{where}: cannot read {value!r} as "
                    f"{_KIND.get(type(target), str(target))} ({what})",
                    table=table,
                    column=column,
                    row=row,
                    value=value,
                )
    order = [F.monotonically_increasing_id().alias(ORDER)] if table == "patients" else []
    return raw.select(*cols, *order), absent


def arrow_table(spark: SparkSession, table: str, lf: pl.LazyFrame) -> DataFrame:
    """A loader's normalised table handed to Spark through Arrow (no file to read)."""
    schema = lf.collect_schema()
    cols = []
    for c in ENGINE_COLUMNS[table]:
        if c not in schema:
            cols.append(pl.lit(None, dtype=TABLES[table][c]).alias(c))
        elif isinstance(schema[c], pl.Categorical | pl.Enum):
            cols.append(pl.col(c).cast(pl.String))
        else:
            cols.append(pl.col(c).cast(TABLES[table][c]))
    df = lf.select(cols).collect()
    if table == "patients":
        df = df.with_row_index(ORDER).with_columns(pl.col(ORDER).cast(pl.Int64))
    sdf = spark.createDataFrame(df.to_arrow())
    return sdf.select(*ENGINE_COLUMNS[table], *([ORDER] if table == "patients" else []))


# ---------------------------------------------------------------------------- normalise


#: polars types of the Spark DDL types small tables use
_DDL_TYPES = {"string": pl.String, "double": pl.Float64, "boolean": pl.Boolean, "date": pl.Date}


def small_frame(spark: SparkSession, rows: list[tuple], schema: str) -> DataFrame:
    """A small table made on the driver (``schema``: Spark DDL such as ``"a string, b
    double"``) handed to Spark through Arrow, so Spark reads it in the JVM: a table made
    from Python rows is a Python RDD, and every query that scans it (a broadcast side)
    starts Python workers, seconds each time."""
    names, types = [], []
    for part in schema.split(","):
        name, kind = part.strip().rsplit(" ", 1)
        names.append(name.strip("`"))
        types.append(_DDL_TYPES[kind.lower()])
    frame = pl.DataFrame(rows, schema=dict(zip(names, types, strict=True)), orient="row")
    return spark.createDataFrame(frame.to_arrow()).toDF(*names)


def _ddl(df: DataFrame) -> str:
    return ", ".join(f"`{f.name}` {f.dataType.simpleString()}" for f in df.schema.fields)


#: Most distinct raw values (tuples of the columns normalised together) a table's text
#: columns may have to be normalised once per distinct value; above it (e.g. free-text
#: drug names at national scale), each row is normalised on its own.
DISTINCT_LIMIT = 200_000


def via_distinct(
    df: DataFrame,
    raw: list[str],
    normalise: Callable[[DataFrame], DataFrame],
    how: str,
) -> DataFrame | None:
    """``df`` joined with its ``raw`` columns' normalised values, computed once per
    distinct value instead of once per row.

    Registry text columns (test names, units, items, codes, drug names, routes) hold a
    few hundred or thousand distinct spellings over millions of rows; trimming,
    case-folding, regular expressions and vocabulary lookups per row were most of the
    Spark engine's time. Here one job collects the distinct ``raw`` tuples (at most
    ``DISTINCT_LIMIT``, else None: the caller normalises per row), ``normalise`` (the
    same Spark expressions a per-row normaliser uses, so the answers are the same) maps
    them to a small table whose first columns are ``raw`` and the rest the normalised
    columns, and that table is broadcast and hash-joined on the raw values (null-safe:
    a null raw value finds its own row). ``how`` is ``inner`` (raw values the small
    table leaves out drop their rows) or ``left``. The raw columns stay (an
    ``--index-where`` may read them)."""
    spark = df.sparkSession
    distinct = df.select(*raw).distinct()
    rows = distinct.limit(DISTINCT_LIMIT + 1).collect()
    if len(rows) > DISTINCT_LIMIT:
        return None
    mapped = normalise(small_frame(spark, [tuple(r) for r in rows], _ddl(distinct)))
    table = small_frame(spark, [tuple(r) for r in mapped.collect()], _ddl(mapped))
    keys = [f"_raw_{c}" for c in raw]
    table = table.toDF(*keys, *table.columns[len(raw) :])
    pairs = zip(raw, keys, strict=True)
    on = reduce(lambda a, b: a & b, [F.col(c).eqNullSafe(F.col(k)) for c, k in pairs])
    return df.join(F.broadcast(table), on, how).drop(*keys)


def _in(col: Column, values) -> Column:
    """``col`` if it is one of ``values``, else null (``col`` evaluated once)."""
    return lookup({v: v for v in values}, col)


def _patients(df: DataFrame) -> DataFrame:
    """One row per patient: sex normalised, conflicting fields null (contract 5.1)."""
    df = df.withColumn("sex", _in(F.upper(_strip(F.col("sex"))), SEX_CODES))
    aggs = [F.min(ORDER).alias(ORDER)]
    for c in ("sex", "birth_date", "death_date"):
        # polars' n_unique counts null as a value: null and a value conflict too
        distinct = F.size(F.collect_set(c)) + F.max(F.col(c).isNull().cast("int"))
        aggs.append(F.when(distinct > 1, F.lit(None)).otherwise(F.max(c)).alias(c))
    return df.groupBy(PID).agg(*aggs)


def _diagnosis_code(df: DataFrame) -> DataFrame:
    code = F.upper(_strip(F.regexp_replace(F.col("code"), r"[. ]", "")))
    return df.withColumn("_code", F.when(F.length(code) > 0, code))


def _diagnoses(df: DataFrame) -> DataFrame:
    """Codes without dots and spaces, upper case (once per distinct code)."""
    out = via_distinct(df, ["code"], _diagnosis_code, "left")
    out = _diagnosis_code(df) if out is None else out
    return out.drop("code").withColumnRenamed("_code", "code")


def _measurement_units(spark: SparkSession) -> DataFrame:
    """One row per accepted (test, unit): its factor to the canonical unit and the test's
    plausible range (canonical unit; null bounds: no range). Small: broadcast."""
    rows = []
    for t in TESTS.values():
        low, high = PLAUSIBLE_RANGES.get(t.name, (None, None))
        for unit, factor in t.factors.items():
            rows.append(
                (
                    t.name,
                    unit,
                    float(factor),
                    None if low is None else float(low),
                    None if high is None else float(high),
                )
            )
    schema = "_t string, _u string, _factor double, _low double, _high double"
    return small_frame(spark, rows, schema)


def _measurement_keys(df: DataFrame) -> DataFrame:
    """Raw (test, unit) -> canonical test, unit factor and plausible range: a broadcast
    hash join with the small table of accepted units (an inner join: an unknown test or
    unit, or a null, has no row), not literal-map lookups, which scan their keys one by
    one."""
    units = F.broadcast(_measurement_units(df.sparkSession))
    keyed = df.select(
        "*",
        F.lower(_strip(F.col("test"))).alias("_tn"),
        _strip(F.col("unit")).alias("_un"),
    )
    joined = keyed.join(
        units, (F.col("_tn") == F.col("_t")) & (F.col("_un") == F.col("_u")), "inner"
    )
    return joined.drop("_tn", "_un", "_u")


def _measurements(df: DataFrame) -> DataFrame:
    """Known tests in accepted units, converted to the canonical unit, plausible values
    only. The (test, unit) pairs are normalised once per distinct pair (``via_distinct``;
    the profile of the Spark engine at 50k patients put most of its time in normalising
    these per row)."""
    raw = ["test", "unit"]
    joined = via_distinct(df, raw, lambda d: _measurement_keys(d).select(*raw, *_MEASURE), "inner")
    if joined is None:
        joined = _measurement_keys(df)
    value = F.col("value") * F.col("_factor")
    inside = ~F.isnan(value) & (value >= F.col("_low")) & (value <= F.col("_high"))
    ok = value.isNotNull() & (F.col("_low").isNull() | F.coalesce(inside, F.lit(False)))
    return joined.filter(ok).select(
        PID, F.col("_t").alias("test"), value.alias("value"), "measured_on"
    )


#: The columns a raw (test, unit) pair maps to.
_MEASURE = ["_t", "_factor", "_low", "_high"]


def _assessment_keys(df: DataFrame) -> DataFrame:
    """Raw (item, value) -> item and value trimmed and lower-cased, kept only when the
    value is one the item allows: a broadcast hash join with the small table of allowed
    pairs."""
    allowed = F.broadcast(
        small_frame(
            df.sparkSession,
            sorted({(n, v) for n, vs in ASSESSMENT_ITEMS.items() for v in vs}),
            "_i string, _v string",
        )
    )
    keyed = df.select(
        "*",
        F.lower(_strip(F.col("item"))).alias("_in"),
        F.lower(_strip(F.col("value"))).alias("_vn"),
    )
    joined = keyed.join(
        allowed, (F.col("_in") == F.col("_i")) & (F.col("_vn") == F.col("_v")), "inner"
    )
    return joined.drop("_in", "_vn")


def _assessments(df: DataFrame) -> DataFrame:
    """Known items with one of their allowed values (lower case), normalised once per
    distinct raw (item, value) pair."""
    raw = ["item", "value"]
    joined = via_distinct(df, raw, lambda d: _assessment_keys(d).select(*raw, "_i", "_v"), "inner")
    if joined is None:
        joined = _assessment_keys(df)
    return joined.select(PID, F.col("_i").alias("item"), F.col("_v").alias("value"), "assessed_on")


def canonical_drug_col(col: Column) -> Column:
    """:func:`feasibility.schema.canonical_drug` as a Spark column (the loader's polars
    twin, ``canonical_drug_expr``, step by step): lower case, trimmed, punctuation removed,
    whitespace collapsed, trailing salt or form words dropped, then the vocabulary's
    spellings mapped to their ingredient."""
    trailing, mapping = _drug_vocabulary()
    basic = F.lower(_strip(col))
    basic = F.regexp_replace(basic, r"(?U)[^\w\s]", "")
    basic = _strip(F.regexp_replace(basic, r"(?U)\s+", " "))
    stripped = F.regexp_replace(basic, "(?U)" + trailing, "")
    key = F.when(F.length(stripped) > 0, stripped).otherwise(basic)
    table = F.create_map(*[F.lit(x) for pair in sorted(mapping.items()) for x in pair])
    return F.coalesce(F.try_element_at(table, key), key)


def _medication_keys(df: DataFrame) -> DataFrame:
    """``_drug`` (canonical ingredient), ``_route`` (trimmed, lower case, blank -> null)
    and ``systemic`` (no route, or one not topical/ophthalmic/otic) of raw drug and route."""
    route = F.lower(_strip(F.col("route")))
    route = F.when(F.length(route) > 0, route)
    df = df.select("*", canonical_drug_col(F.col("drug")).alias("_drug"), route.alias("_route"))
    systemic = F.col("_route").isNull() | ~F.col("_route").isin(sorted(NON_SYSTEMIC_ROUTES))
    return df.withColumn("systemic", systemic)


def _medications(df: DataFrame) -> DataFrame:
    """Drug names canonicalised and routes normalised once per distinct (drug, route):
    ``drug`` is the canonical ingredient, as in the loader's table (an ``--index-where``
    on drug reads the same names in both engines)."""
    raw = ["drug", "route"]
    out = via_distinct(
        df, raw, lambda d: _medication_keys(d).select(*raw, "_drug", "_route", "systemic"), "left"
    )
    if out is None:
        out = _medication_keys(df)
    out = out.drop("drug", "route")
    return out.withColumnRenamed("_drug", "drug").withColumnRenamed("_route", "route")


def _procedures(df: DataFrame) -> DataFrame:
    category = _in(F.lower(_strip(F.col("category"))), PROCEDURE_CATEGORIES)
    return df.withColumn("category", category).filter(F.col("category").isNotNull())


def _lesions(df: DataFrame) -> DataFrame:
    low, high = LESION_DIAMETER_RANGE
    d = F.col("longest_diameter_cm")
    return df.withColumn("longest_diameter_cm", F.when(~F.isnan(d) & d.between(low, high), d))


def _as_is(df: DataFrame) -> DataFrame:
    return df


#: The loader's normalisation of each table, as far as the engine's columns need it.
NORMALISERS = {
    "patients": _patients,
    "diagnoses": _diagnoses,
    "measurements": _measurements,
    "assessments": _assessments,
    "medications": _medications,
    "procedures": _procedures,
    "lesions": _lesions,
    "therapies": _as_is,
}


def _read_table(spark: SparkSession, registry: Any, table: str, file: Any):
    """(normalised frame, absent optional columns, source) of one present table."""
    if isinstance(file, CatalogTable):
        what = f"catalog table {file.name}"
        df, missing = typed_frame(table, catalog_table(spark, table, file), what, what)
        source = f"catalog:{file.name}"
    elif file is not None:
        df, missing = typed_table(spark, table, file)
        source = str(file)
    else:
        df = arrow_table(spark, table, registry.tables[table])
        missing = set(getattr(registry, "missing_columns", {}).get(table, frozenset()))
        source = "arrow"
    df = df.withColumn(PID, _blank_null(F.col(PID))).filter(F.col(PID).isNotNull())
    return NORMALISERS[table](df), missing, source


def read_tables(spark: SparkSession, registry: Any, tables: set[str] | None = None) -> SparkTables:
    """The registry's present tables (or only ``tables`` of them, patients always) as
    normalised Spark DataFrames (lazy: only the typing check of text columns runs here)."""
    files, present = registry_files(registry)
    if "patients" not in present:
        raise RegistryError("registry has no patients table", table="patients")
    out = SparkTables({}, present)
    out.spark, out.registry, out.files = spark, registry, files
    out.ensure({"patients"} | (present if tables is None else tables))
    return out


__all__ = [
    "ENGINE_COLUMNS",
    "ORDER",
    "CatalogRegistry",
    "CatalogTable",
    "check_catalog_events",
    "SparkTables",
    "read_tables",
    "typed_frame",
]
