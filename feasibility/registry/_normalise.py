"""Normalise typed tables to the forms the engine compares, and set aside unusable values.

Every mapping comes from :mod:`feasibility.schema`, so the loader, the validation
suites and the engine share one vocabulary. Vocabulary columns (test, unit, item,
assessment value, sex, procedure category) are read as Enums matched exactly; only
the values that did not match exactly (usually few) are fetched again as written
and mapped (trim, case) through a Python function, so clean data costs one cast.

Values outside a vocabulary are never guessed: the value becomes null (patients'
sex) or the row leaves the normalised table (measurements, assessments,
procedures). Each such case is counted in a :class:`SetAside` record.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import polars as pl

from feasibility.plausibility import LESION_DIAMETER_RANGE, PLAUSIBLE_RANGES
from feasibility.schema import (
    ASSESSMENT_ITEMS,
    NON_SYSTEMIC_ROUTES,
    PROCEDURE_CATEGORIES,
    SEX_CODES,
    TABLES,
    TESTS,
    canonical_drug_expr,
)

from ._read import ROW

#: Normalised measurement tests, their canonical units, accepted unit spellings,
#: assessment items and values as Enums (one byte per row). Grades come first and in
#: numeric order, so comparing grades orders them as numbers would.
TEST_ENUM = pl.Enum(list(TESTS))
CANONICAL_UNIT_ENUM = pl.Enum(sorted({t.canonical_unit for t in TESTS.values()}))
UNIT_ENUM = pl.Enum(sorted({u for t in TESTS.values() for u in t.factors}))
ITEM_ENUM = pl.Enum(list(ASSESSMENT_ITEMS))
ASSESSMENT_VALUE_ENUM = pl.Enum(
    sorted({v for vs in ASSESSMENT_ITEMS.values() for v in vs if v.isdigit()}, key=int)
    + sorted({v for vs in ASSESSMENT_ITEMS.values() for v in vs if not v.isdigit()})
)
SEX_ENUM = pl.Enum(sorted(SEX_CODES))
CATEGORY_ENUM = pl.Enum(sorted(PROCEDURE_CATEGORIES))
UNITS = UNIT_ENUM.categories.to_list()

#: Columns read as Enums (exact match first), per table.
VOCABULARIES: dict[str, dict[str, pl.Enum]] = {
    "patients": {"sex": SEX_ENUM},
    "measurements": {"test": TEST_ENUM, "unit": UNIT_ENUM},
    "assessments": {"item": ITEM_ENUM, "value": ASSESSMENT_VALUE_ENUM},
    "procedures": {"category": CATEGORY_ENUM},
}

EXAMPLES = 5

SET_ASIDE_SCHEMA = {
    "table": pl.String,
    "column": pl.String,
    "problem": pl.String,
    "rows": pl.Int64,
    "example_rows": pl.String,
    "example_values": pl.String,
}


@dataclass(frozen=True)
class SetAside:
    """How many rows of one table had one kind of unusable value, with a few examples."""

    table: str
    column: str
    problem: str
    rows: int
    example_rows: str
    example_values: str


#: A normaliser's answer: the normalised frame, not yet filtered, and the rows to keep
#: (None: all). The loader combines this with the duplicate mask and filters once.
Normalised = tuple[pl.DataFrame, "pl.Series | None"]


def raw_name(column: str) -> str:
    """Where :meth:`Context.resolve` keeps a vocabulary column as written (Categorical)."""
    return f"__raw_{column}"


@dataclass
class Context:
    """What a normaliser collects besides the frame: the set-aside findings."""

    table: str
    found: list[SetAside] = field(default_factory=list)
    outside_masks: dict[str, pl.Series] = field(default_factory=dict)
    #: Why rows leave the normalised table: (reason, mask), in the order recorded. The
    #: loader attributes each row it leaves out to the first reason that holds for it.
    left_out: list[tuple[str, pl.Series]] = field(default_factory=list)

    def resolve(
        self, df: pl.DataFrame, column: str, enum: pl.Enum, fn: Callable[[str], str | None]
    ) -> pl.DataFrame:
        """Map a Categorical vocabulary column to ``enum`` through ``fn`` (None: unusable).

        ``fn`` runs once per distinct value; rows are mapped with a lookup table indexed
        by the categorical code. The column as written moves to ``raw_name(column)``.
        """
        codes, texts = _categories(df.get_column(column))
        mapped = [fn(text) for text in texts]
        size = (int(codes.max()) + 1) if len(codes) else 1  # type: ignore[arg-type]
        lookup = pl.repeat(None, size, dtype=enum, eager=True).scatter(
            codes, pl.Series(mapped, dtype=enum)
        )
        unmatched = [
            code
            for code, text, value in zip(codes.to_list(), texts, mapped, strict=True)
            if value is None and text.strip()
        ]
        code = pl.col(column).to_physical()
        df = df.with_columns(
            pl.lit(lookup).gather(code).alias(column), pl.col(column).alias(raw_name(column))
        )
        missed = df.get_column(column).null_count() - df.get_column(raw_name(column)).null_count()
        if unmatched and missed:  # else nothing is outside: skip a pass over the rows
            outside = pl.repeat(False, size, dtype=pl.Boolean, eager=True).scatter(unmatched, True)
            mask = df.select(pl.lit(outside).gather(pl.col(raw_name(column)).to_physical()))
            self.outside_masks[column] = mask.to_series().fill_null(False)
        return df

    def outside(self, df: pl.DataFrame, column: str) -> pl.Series:
        """Mask of rows whose ``column`` was written but matches nothing in the vocabulary."""
        if column not in self.outside_masks:
            return pl.repeat(False, df.height, dtype=pl.Boolean, eager=True)
        return self.outside_masks[column]

    def written(self, df: pl.DataFrame, column: str, index: pl.Series) -> pl.Series:
        """``column`` at ``index`` as written in the file (vocabulary columns included)."""
        source = raw_name(column) if raw_name(column) in df.columns else column
        return df.get_column(source).gather(index).cast(pl.String)

    def count(
        self,
        df: pl.DataFrame,
        column: str,
        problem: str,
        mask: pl.Series,
        show: Callable[[pl.Series], pl.Series] | None = None,
        *,
        leaves: bool = False,
    ) -> None:
        """Record the rows where ``mask`` holds, with a few row numbers and values; with
        ``leaves`` those rows also leave the normalised table for this reason."""
        total = int(mask.sum())
        if not total:
            return
        if leaves:
            self.left_out.append((f"{problem} ({column})", mask))
        index = mask.arg_true().head(200)
        rows = df.get_column(ROW).gather(index.head(EXAMPLES)).cast(pl.String).to_list()
        shown = (show or (lambda i: self.written(df, column, i)))(index)
        values = shown.fill_null("(missing)").unique(maintain_order=True).head(EXAMPLES)
        self.found.append(
            SetAside(self.table, column, problem, total, ", ".join(rows), ", ".join(values))
        )


#: Above this many process-wide categories, map only the column's distinct values.
_MAX_GLOBAL_CATEGORIES = 100_000


def _categories(column: pl.Series) -> tuple[pl.Series, list[str]]:
    """Codes and texts of the categories a Categorical column may hold.

    Categories are process-wide; reading them from the dtype avoids a pass over the
    rows. If the process holds very many (someone cast ids to Categorical), the
    column's own distinct values are used instead.
    """
    everything = column.dtype.categories.to_series()  # type: ignore[attr-defined]
    if everything.len() <= _MAX_GLOBAL_CATEGORIES:
        return pl.Series(range(everything.len()), dtype=pl.UInt32), everything.to_list()
    distinct = column.unique().drop_nulls()
    return distinct.to_physical().cast(pl.UInt32), distinct.cast(pl.String).to_list()


def _drop_raw(df: pl.DataFrame) -> pl.DataFrame:
    return df.drop(c for c in df.columns if c.startswith("__raw_"))


def filter_columns(box: list[pl.DataFrame], keep: pl.Series) -> pl.DataFrame:
    """``df.filter(keep)`` one column at a time, releasing each source column as it goes.

    Filtering a 50-million-row frame at once holds two full copies; column by column
    the peak is one copy plus one column. ``df`` comes in a one-element list that is
    emptied, so that (if the caller keeps no other reference) this holds the only one.
    """
    df = box.pop()
    # each column leaves as one chunk: the engine's filters and selects over a frame whose
    # columns are chunked differently rechunk whole columns (GiBs at 85M rows) every time
    everything = bool(keep.all())
    columns = {}
    for name in df.columns:
        kept = df.get_column(name)
        df = df.drop(name)  # the source column goes before the copies are made
        if not everything:
            kept = kept.filter(keep)
        columns[name] = kept.rechunk()
        del kept
    return pl.DataFrame(columns)


def _mask(df: pl.DataFrame, expr: pl.Expr) -> pl.Series:
    return df.select(expr.fill_null(False)).to_series()


def strip_ids(ids: pl.Series) -> pl.Series:
    """patient_id trimmed, blank -> null; the string pass is paid only when some id needs it.

    Series-level, so the eager loader (whole column) and the lazy scans (batch by batch)
    share it; the answer for a value does not depend on the other values of the batch.
    """
    untidy = ids.str.starts_with(" ") | ids.str.ends_with(" ") | (ids.str.len_bytes() == 0)
    if not untidy.any():
        return ids
    stripped = ids.str.strip_chars()
    return (
        pl.select(pl.when(stripped.str.len_bytes() > 0).then(stripped)).to_series().alias(ids.name)
    )


def ids_expr() -> pl.Expr:
    """patient_id through :func:`strip_ids`."""
    return pl.col("patient_id").map_batches(strip_ids, return_dtype=pl.String, is_elementwise=True)


_STRING = pl.String()


def per_distinct(expr: pl.Expr, dtype: pl.DataType = _STRING) -> Callable[[pl.Series], pl.Series]:
    """A Series function: ``expr`` (over the Series' own name, null to null) evaluated once
    per distinct value and mapped back onto the rows.

    Codes, drugs and routes have a few hundred spellings over millions of rows, so string
    work per distinct value plus one lookup per row is several times cheaper."""

    def mapped(column: pl.Series) -> pl.Series:
        distinct = column.unique().drop_nulls()
        values = distinct.to_frame().select(expr).to_series()
        return column.replace_strict(distinct, values, default=None, return_dtype=dtype)

    return mapped


def vocabulary(enum: pl.Enum, fn: Callable[[str], str | None]) -> Callable[[pl.Series], pl.Series]:
    """A Series function: strings to ``enum``, exact spellings by a cast, any other spelling
    through ``fn`` once per distinct value (None: outside the vocabulary, null).

    The lazy scans' counterpart of :meth:`Context.resolve` (which also keeps the spelling as
    written for the set-aside counts); ``fn`` maps an exact spelling to itself.
    """

    def mapped(column: pl.Series) -> pl.Series:
        exact = column.cast(enum, strict=False)
        if exact.null_count() == column.null_count():
            return exact
        index = (exact.is_null() & column.is_not_null()).arg_true()
        written = column.gather(index)
        distinct = written.unique()
        values = pl.Series([fn(v) for v in distinct.to_list()], dtype=enum)
        fixed = written.replace_strict(distinct, values, default=None, return_dtype=enum)
        return exact.scatter(index, fixed)

    return mapped


def _lower(value: str) -> str:
    return value.strip().lower()


def _in(vocabulary: object, fn: Callable[[str], str]) -> Callable[[str], str | None]:
    def mapped(value: str) -> str | None:
        result = fn(value)
        return result if result in vocabulary else None  # type: ignore[operator]

    return mapped


def patients(df: pl.DataFrame, ctx: Context) -> Normalised:
    """Sex trimmed and upper-cased; outside F/M/U it becomes null and is counted.

    Rows sharing a patient_id but differing in a field (contract 5.1): that field becomes
    null for the patient on every such row (counted as ``conflicting_duplicate``), so the
    rows become exact duplicates and one is kept; no row "wins"."""
    df = ctx.resolve(df, "sex", *SPELLINGS["sex"])
    ctx.count(df, "sex", "sex_outside_vocabulary", ctx.outside(df, "sex"))
    df = _drop_raw(df.with_columns(ids_expr(), pl.col("sex").cast(pl.String)))
    return _null_conflicts(df, ctx), None


def _null_conflicts(df: pl.DataFrame, ctx: Context) -> pl.DataFrame:
    """Null each field whose value differs between rows of the same patient_id."""
    pid = pl.col("patient_id")
    repeated = df.filter(pid.is_not_null() & pid.is_duplicated())
    if repeated.is_empty():
        return df
    fields = [c for c in TABLES["patients"] if c != "patient_id"]
    differs = repeated.group_by("patient_id").agg(pl.col(c).n_unique() > 1 for c in fields)
    for column in fields:
        ids = differs.filter(pl.col(column)).get_column("patient_id")
        if ids.is_empty():
            continue
        mask = _mask(df, pid.is_in(ids.implode()))
        ctx.count(
            df,
            column,
            "conflicting_duplicate",
            mask,
            _ids_at(df),
        )
        df = df.with_columns(pl.when(mask).then(None).otherwise(pl.col(column)).alias(column))
    return df


def _ids_at(frame: pl.DataFrame) -> Callable[[pl.Series], pl.Series]:
    """The patient_id of ``frame`` at the given row positions (examples of a finding)."""
    return lambda index: frame.get_column("patient_id").gather(index)


def _code_expr() -> pl.Expr:
    code = (
        pl.first()
        .str.replace_all(".", "", literal=True)
        .str.replace_all(" ", "", literal=True)
        .str.strip_chars()
        .str.to_uppercase()
    )
    return pl.when(code.str.len_bytes() > 0).then(code)


def _drug_expr() -> pl.Expr:
    # contract 5.3: the one drug-name normaliser (schema.canonical_drug as an expression)
    return canonical_drug_expr(pl.first())


def _route_expr() -> pl.Expr:
    route = pl.first().str.strip_chars().str.to_lowercase()
    return pl.when(route.str.len_bytes() > 0).then(route)


#: Series functions shared by the eager normalisers and the lazy scans (``_scan.py``).
CODE = per_distinct(_code_expr())
DRUG = per_distinct(_drug_expr())
ROUTE = per_distinct(_route_expr())
#: How each vocabulary column's spellings map to its Enum (None: outside the vocabulary),
#: with the Enum: one definition for Context.resolve and for vocabulary().
SPELLINGS: dict[str, tuple[pl.Enum, Callable[[str], str | None]]] = {
    "sex": (SEX_ENUM, _in(SEX_CODES, lambda v: v.strip().upper())),
    "test": (TEST_ENUM, _in(TESTS, _lower)),
    "unit": (UNIT_ENUM, _in(UNITS, str.strip)),
    "item": (ITEM_ENUM, _in(ASSESSMENT_ITEMS, _lower)),
    "value": (ASSESSMENT_VALUE_ENUM, _in(ASSESSMENT_VALUE_ENUM.categories.to_list(), _lower)),
    "category": (CATEGORY_ENUM, _in(PROCEDURE_CATEGORIES, _lower)),
}


def systemic_expr() -> pl.Expr:
    """Route null or not topical/ophthalmic/otic (the route already normalised)."""
    return pl.col("route").is_null() | ~pl.col("route").is_in(sorted(NON_SYSTEMIC_ROUTES))


def assessment_valid_expr() -> pl.Expr:
    """The (normalised) value is in its (normalised) item's vocabulary; null if no item."""
    valid = pl.lit(False)
    for name, values in ASSESSMENT_ITEMS.items():
        valid = (
            pl.when(pl.col("item") == name)
            .then(pl.col("value").is_in(list(values)))
            .otherwise(valid)
        )
    return valid


def diagnoses(df: pl.DataFrame, ctx: Context) -> Normalised:
    """ICD-10 code without dot or spaces, upper case (as schema.normalize_icd10); original kept."""
    df = df.with_columns(
        ids_expr(),
        pl.col("code").map_batches(CODE, return_dtype=pl.String).alias("code"),
        pl.col("code").alias("source_code"),
    )
    return df, None


def measurements(df: pl.DataFrame, ctx: Context) -> Normalised:
    """Values in the canonical unit of their test; unknown tests and units leave the table."""
    df = ctx.resolve(df, "test", *SPELLINGS["test"])
    df = ctx.resolve(df, "unit", *SPELLINGS["unit"])
    df = df.with_columns(_factor("test", "unit").alias("__factor"))

    test_outside = ctx.outside(df, "test")
    unit_outside = ctx.outside(df, "unit")
    known = pl.col("test").is_not_null()
    usable = pl.col("__factor").is_not_null()
    ctx.count(df, "test", "missing_value", _mask(df, ~known) & ~test_outside, leaves=True)
    ctx.count(df, "test", "unknown_test", test_outside, leaves=True)
    ctx.count(
        df,
        "unit",
        "missing_value",
        _mask(df, known & pl.col("unit").is_null()) & ~unit_outside,
        leaves=True,
    )

    def pair(index: pl.Series) -> pl.Series:
        tests = df.get_column("test").gather(index).cast(pl.String)
        return tests + ": " + ctx.written(df, "unit", index).fill_null("(missing)")

    wrong_unit = _mask(df, known & pl.col("unit").is_not_null() & ~usable)
    ctx.count(
        df,
        "unit",
        "unit_outside_vocabulary",
        (wrong_unit | unit_outside) & _mask(df, known),
        pair,
        leaves=True,
    )
    no_value = _mask(df, usable & pl.col("value").is_null())
    ctx.count(
        df,
        "value",
        "missing_value",
        no_value,
        lambda i: df.get_column("test").gather(i).cast(pl.String),
        leaves=True,
    )

    def written_value(index: pl.Series) -> pl.Series:
        tests = df.get_column("test").gather(index).cast(pl.String)
        values = df.get_column("value").gather(index).cast(pl.String)
        return tests + ": " + values + " " + ctx.written(df, "unit", index).fill_null("")

    implausible = _mask(df, usable & pl.col("value").is_not_null() & ~plausible_expr())
    ctx.count(df, "value", "implausible_value", implausible, written_value, leaves=True)

    keep = _mask(df, measurement_usable())
    return df.select(stored_measurement_columns()), keep


def measurement_usable() -> pl.Expr:
    """A known test, a unit accepted for it and a value that is plausible once converted
    to the canonical unit (contract 5.2; test and unit normalised)."""
    return (
        _factor("test", "unit").is_not_null()
        & pl.col("value").is_not_null()
        & plausible_expr().fill_null(False)
    )


#: PLAUSIBLE_RANGES per test, by the position of the test in TEST_ENUM (no bound: ±inf).
_LOW = pl.Series([PLAUSIBLE_RANGES.get(t, (-math.inf, math.inf))[0] for t in TESTS])
_HIGH = pl.Series([PLAUSIBLE_RANGES.get(t, (-math.inf, math.inf))[1] for t in TESTS])


def plausible_expr() -> pl.Expr:
    """``value`` (as written) times its unit factor lies in its test's plausible range:
    finite, and inside ``feasibility.plausibility.PLAUSIBLE_RANGES`` (both inclusive)."""
    canonical = pl.col("value") * _factor("test", "unit")
    index = pl.col("test").to_physical().cast(pl.UInt32)
    return canonical.is_finite() & canonical.is_between(
        pl.lit(_LOW).gather(index), pl.lit(_HIGH).gather(index)
    )


def stored_measurement_columns() -> list[pl.Expr | str]:
    """What is stored of a normalised measurement; ``measurements_view`` derives the rest."""
    return [
        ROW,
        ids_expr(),
        "test",
        "measured_on",
        pl.col("value").alias("source_value"),
        pl.col("unit").alias("source_unit"),
    ]


_FACTORS = pl.Series([TESTS[t].factors.get(u) for t in TESTS for u in UNITS], dtype=pl.Float64)
_CANONICAL = pl.Series([TESTS[t].canonical_unit for t in TESTS], dtype=CANONICAL_UNIT_ENUM)


def _factor(test: str, unit: str) -> pl.Expr:
    """Factor to the canonical unit, looked up by position (test index x unit index);
    null when the unit is not accepted for the test."""
    key = pl.col(test).to_physical().cast(pl.UInt32) * len(UNITS) + pl.col(unit).to_physical().cast(
        pl.UInt32
    )
    return pl.lit(_FACTORS).gather(key)


def measurements_view(stored: pl.LazyFrame) -> pl.LazyFrame:
    """The normalised measurements as consumers see them: ``value`` and ``unit`` in the
    canonical unit are computed from ``source_value``/``source_unit`` when collected
    (a multiply per row) instead of being stored, saving 9 bytes a row in memory."""
    return stored.select(
        ROW,
        "patient_id",
        "test",
        (pl.col("source_value") * _factor("test", "source_unit")).alias("value"),
        pl.lit(_CANONICAL).gather(pl.col("test").to_physical()).alias("unit"),
        "measured_on",
        "source_value",
        "source_unit",
    )


VIEWS: dict[str, Callable[[pl.LazyFrame], pl.LazyFrame]] = {"measurements": measurements_view}


def assessments(df: pl.DataFrame, ctx: Context) -> Normalised:
    """Item and value trimmed and lower-cased; unknown items and values outside the item's
    vocabulary leave the table."""
    df = ctx.resolve(df, "item", *SPELLINGS["item"])
    df = ctx.resolve(df, "value", *SPELLINGS["value"])
    valid = assessment_valid_expr()
    item_outside = ctx.outside(df, "item")
    value_outside = ctx.outside(df, "value")
    known = pl.col("item").is_not_null()
    ctx.count(df, "item", "missing_value", _mask(df, ~known) & ~item_outside, leaves=True)
    ctx.count(df, "item", "unknown_item", item_outside, leaves=True)
    value_missing = _mask(df, known & pl.col("value").is_null()) & ~value_outside

    def pair(index: pl.Series) -> pl.Series:
        items = df.get_column("item").gather(index).cast(pl.String)
        return items + ": " + ctx.written(df, "value", index).fill_null("(missing)")

    ctx.count(
        df,
        "value",
        "missing_value",
        value_missing,
        lambda i: df.get_column("item").gather(i).cast(pl.String),
        leaves=True,
    )
    outside = _mask(df, known & ~valid.fill_null(False)) & ~value_missing
    ctx.count(df, "value", "value_outside_vocabulary", outside, pair, leaves=True)
    return _drop_raw(df.with_columns(ids_expr())), _mask(df, valid)


def medications(df: pl.DataFrame, ctx: Context) -> Normalised:
    """Drug through the contract's synonyms (as schema.canonical_drug); route trimmed and
    lower-cased; ``systemic`` unless the route is topical, ophthalmic or otic."""
    df = df.with_columns(
        ids_expr(),
        pl.col("drug").map_batches(DRUG, return_dtype=pl.String).alias("drug"),
        pl.col("drug").alias("source_drug"),
        pl.col("route").map_batches(ROUTE, return_dtype=pl.String).alias("route"),
    )
    return df.with_columns(systemic_expr().alias("systemic")), None


def procedures(df: pl.DataFrame, ctx: Context) -> Normalised:
    """Category trimmed and lower-cased; outside the contract's four the row leaves the table."""
    df = ctx.resolve(df, "category", *SPELLINGS["category"])
    outside = ctx.outside(df, "category")
    missing = _mask(df, pl.col("category").is_null()) & ~outside
    ctx.count(df, "category", "missing_value", missing, leaves=True)
    ctx.count(df, "category", "category_outside_vocabulary", outside, leaves=True)
    keep = _mask(df, pl.col("category").is_not_null())
    return _drop_raw(df.with_columns(ids_expr(), pl.col("category").cast(pl.String))), keep


def ids_only(df: pl.DataFrame, ctx: Context) -> Normalised:
    """Lesions and therapies: their booleans and integers were parsed when typing."""
    return df.with_columns(ids_expr()), None


def diameter_expr() -> pl.Expr:
    """longest_diameter_cm, null when outside LESION_DIAMETER_RANGE (contract 5.2: a
    diameter no lesion has is set aside; the lesion stays, its size unknown)."""
    low, high = LESION_DIAMETER_RANGE
    d = pl.col("longest_diameter_cm")
    return pl.when(d.is_finite() & d.is_between(low, high)).then(d).alias("longest_diameter_cm")


def lesions(df: pl.DataFrame, ctx: Context) -> Normalised:
    """Booleans parsed when typing; a diameter outside LESION_DIAMETER_RANGE is set aside."""
    d = pl.col("longest_diameter_cm")
    implausible = _mask(df, d.is_not_null() & diameter_expr().is_null())
    ctx.count(df, "longest_diameter_cm", "implausible_value", implausible)
    return df.with_columns(ids_expr(), diameter_expr()), None


NORMALISERS: dict[str, Callable[[pl.DataFrame, Context], Normalised]] = {
    "patients": patients,
    "diagnoses": diagnoses,
    "measurements": measurements,
    "assessments": assessments,
    "medications": medications,
    "procedures": procedures,
    "lesions": lesions,
    "therapies": ids_only,
}
