"""OMOP CDM 5.4 -> the eight registry tables (contract section 1), then the native loader.

:func:`omop_tables` maps the OMOP tables to polars frames with the contract's columns
(plus provenance: ``source_table``, ``concept_id``, ``source_concept_id``) using the
reviewed ``mapping.yaml`` and the database's vocabulary. Lookups are computed from the
distinct concepts; the large tables stay lazy queries over the OMOP files.
:func:`load_omop` hands them to the native loader (``load_registry(frames=...)``), so
normalisation, unit conversion, set-aside counting and de-duplication are the same code
as for a native registry, and the screen reads only the columns it needs. A table with no OMOP home in the database (no episodes, no
lesion measurements, no assessment concepts) is absent, and the registry's warnings say
why, so the report does too.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from functools import cached_property
from pathlib import Path
from typing import TypeVar

import polars as pl

from feasibility.registry import Registry
from feasibility.schema import TABLES

from .conceptsets import CODELIST_DIR, load_concept_sets, set_code
from .mapping import ConceptRef, Mapping, load_mapping
from .source import OmopSource, open_omop
from .vocab import Vocabulary

PID = "patient_id"
Frame = TypeVar("Frame", pl.DataFrame, pl.LazyFrame)


@dataclass
class Mapped:
    """The mapped tables (only those the database can fill) and why the others are absent."""

    tables: dict[str, pl.DataFrame | pl.LazyFrame]
    absent: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


#: Tables with a person_id that the reader maps.
_PERSON_TABLES = (
    "person",
    "death",
    "condition_occurrence",
    "measurement",
    "observation",
    "drug_exposure",
    "procedure_occurrence",
    "episode",
)


def _pid(src: OmopSource | None = None, col: str = "person_id") -> pl.Expr:
    """``person_id`` as the registry's string ``patient_id``. Where the database numbers
    its persons densely (as most exports do), each row takes its string from a lookup of
    the strings of 0..max by position instead of formatting its integer (a gather: about
    8x less CPU than the cast on the measurement table); otherwise a cast."""
    ids = pl.col(col).cast(pl.Int64)
    lookup = _id_strings(src) if src is not None else None
    if lookup is None:
        return ids.cast(pl.String).alias(PID)
    return pl.lit(lookup).gather(ids).alias(PID)


def _id_strings(src: OmopSource) -> pl.Series | None:
    """The strings of 0..max(person_id) when every person_id of the mapped tables lies in
    0..max and max is at most about four times the number of persons, else None. (One
    scan of the person_id column of each table: a tenth of a second per 20 M rows.)"""
    if "pid_strings" not in src.cache:
        n = src.get("person").select(pl.len()).collect().item()
        lo, hi = 0, -1
        for table in _PERSON_TABLES:
            if not src.has(table) or "person_id" not in src.get(table).collect_schema():
                continue
            ids = pl.col("person_id").cast(pl.Int64)
            t_lo, t_hi = src.get(table).select(ids.min(), ids.max().alias("hi")).collect().row(0)
            if t_lo is not None:
                lo, hi = min(lo, t_lo), max(hi, t_hi)
        dense = lo >= 0 and 0 <= hi <= min(4 * n + 1_000, 200_000_000)
        src.cache["pid_strings"] = (
            pl.int_range(0, hi + 1, eager=True).cast(pl.String) if dense else None
        )
    return src.cache["pid_strings"]


def _int(col: str) -> pl.Expr:
    return pl.col(col).cast(pl.Int64, strict=False)


def _has_cols(lf: pl.LazyFrame, *cols: str) -> list[pl.Expr]:
    have = lf.collect_schema().names()
    return [pl.col(c) if c in have else pl.lit(None).alias(c) for c in cols]


def _contract(table: str, frame: Frame, extra: list[str]) -> Frame:
    """The contract columns of ``table`` in order and type, then the provenance columns
    (a LazyFrame stays lazy: large tables are streamed to disk, never held whole)."""
    cols = [pl.col(c).cast(t) for c, t in TABLES[table].items()]
    names = frame.collect_schema().names()
    return frame.select(*cols, *[pl.col(c) for c in extra if c in names])


# ---------------------------------------------------------------------- patients


def _patients(src: OmopSource, vocab: Vocabulary, mapping: Mapping) -> pl.DataFrame:
    person = src.get("person")
    p = person.select(
        _pid(src),
        *_has_cols(
            person,
            "gender_concept_id",
            "year_of_birth",
            "month_of_birth",
            "day_of_birth",
            "birth_datetime",
            "race_concept_id",
            "ethnicity_concept_id",
            "race_source_value",
            "ethnicity_source_value",
            "care_site_id",
            "person_source_value",
        ),
    )
    gender = pl.DataFrame(
        {"gender_concept_id": list(mapping.gender), "sex": list(mapping.gender.values())},
        schema={"gender_concept_id": pl.Int64, "sex": pl.String},
    ).lazy()
    names = vocab.names().select("concept_id", "concept_name")
    year = _int("year_of_birth")
    month = _int("month_of_birth")
    day = _int("day_of_birth")
    # OMOP requires only the year; a missing month or day is taken as the middle
    # (1 July, the 15th) and counted in `birth_date_precision` for review.
    from_parts = pl.date(
        year, month.fill_null(7), day.fill_null(pl.when(month.is_null()).then(1).otherwise(15))
    )
    birth_dt = pl.col("birth_datetime")
    schema = p.collect_schema()
    if schema["birth_datetime"] == pl.Null:
        from_dt = pl.lit(None, pl.Date)
    elif isinstance(schema["birth_datetime"], pl.Datetime):
        from_dt = birth_dt.dt.date()
    else:
        from_dt = birth_dt.cast(pl.String).str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False)
    out = (
        p.with_columns(
            _int("gender_concept_id"), _int("race_concept_id"), _int("ethnicity_concept_id")
        )
        .join(gender, on="gender_concept_id", how="left", maintain_order="left")
        .join(
            names.rename({"concept_id": "race_concept_id", "concept_name": "race_name"}),
            on="race_concept_id",
            how="left",
            maintain_order="left",
        )
        .join(
            names.rename({"concept_id": "ethnicity_concept_id", "concept_name": "ethnicity_name"}),
            on="ethnicity_concept_id",
            how="left",
            maintain_order="left",
        )
        .with_columns(
            pl.when(month.is_not_null() & day.is_not_null())
            .then(from_parts)
            .otherwise(pl.coalesce(from_dt, from_parts))
            .alias("birth_date"),
            pl.when(month.is_not_null() & day.is_not_null())
            .then(pl.lit("day"))
            .when(from_dt.is_not_null())
            .then(pl.lit("day"))
            .when(month.is_not_null())
            .then(pl.lit("month"))
            .when(year.is_not_null())
            .then(pl.lit("year"))
            .alias("birth_date_precision"),
            pl.coalesce(
                pl.when(pl.col("race_concept_id") != 0).then(pl.col("race_name")),
                pl.col("race_source_value").cast(pl.String),
            ).alias("race"),
            pl.coalesce(
                pl.when(pl.col("ethnicity_concept_id") != 0).then(pl.col("ethnicity_name")),
                pl.col("ethnicity_source_value").cast(pl.String),
            ).alias("ethnicity"),
            pl.col("care_site_id").cast(pl.Int64, strict=False).alias("care_site_id"),
            pl.lit("person").alias("source_table"),
            pl.col("gender_concept_id").alias("concept_id"),
        )
    )
    sites = pl.col("care_site_id").cast(pl.String)
    if src.has("care_site") and "care_site_name" in src.get("care_site").collect_schema():
        names_ = src.get("care_site").select(
            _int("care_site_id").alias("care_site_id"), pl.col("care_site_name").cast(pl.String)
        )
        out = out.join(names_, on="care_site_id", how="left", maintain_order="left")
        sites = pl.coalesce(pl.col("care_site_name"), sites)
    out = out.with_columns(sites.alias("site"))
    if src.has("death"):
        death = (
            src.get("death")
            .select(_pid(src), pl.col("death_date"))
            .group_by(PID)
            .agg(pl.col("death_date").min())
        )
        out = out.join(death, on=PID, how="left", maintain_order="left")
    else:
        out = out.with_columns(pl.lit(None, pl.Date).alias("death_date"))
    out = out.with_columns(pl.col("person_source_value").cast(pl.String))
    return _contract(
        "patients",
        out.collect(),
        ["source_table", "concept_id", "person_source_value", "birth_date_precision"],
    )


# ---------------------------------------------------------------------- diagnoses


def _diagnoses(src: OmopSource, vocab: Vocabulary, sets_dir: Path) -> pl.LazyFrame:
    """One row per ICD-10 code of each condition (its ICD-10-CM source concept, else every
    ICD-10-CM concept that 'Maps to' its standard concept, else ``OMOP:<concept_id>``),
    plus one row per concept set it belongs to. Lazy: the lookups are computed from the
    distinct concepts; the rows are read when the screen needs them."""
    co = src.get("condition_occurrence")
    rows = co.select(
        _pid(src),
        _int("condition_concept_id").alias("concept_id"),
        *[e.cast(pl.Int64, strict=False) for e in _has_cols(co, "condition_source_concept_id")],
        pl.col("condition_start_date").alias("diagnosed_on"),
    ).rename({"condition_source_concept_id": "source_concept_id"})
    distinct = rows.select("concept_id", "source_concept_id").unique().collect()
    # 1. the source concept is ICD-10(-CM): its code, as recorded
    icd = vocab.icd10_concepts().collect()
    sources = set(distinct["source_concept_id"].drop_nulls().to_list())
    icd_of = {k: v for k, v in icd.iter_rows() if k in sources}
    is_direct = pl.col("source_concept_id").is_in(list(icd_of)).fill_null(False)
    direct = rows.filter(is_direct).with_columns(
        pl.col("source_concept_id")
        .replace_strict(icd_of, return_dtype=pl.String)
        .alias("icd10_code"),
        pl.lit("source_concept").alias("code_from"),
    )
    # 2. otherwise the ICD-10-CM codes that 'Maps to' the standard concept
    reverse = vocab.icd10_sources(distinct["concept_id"].unique().to_list())
    has_reverse = pl.col("concept_id").is_in(reverse["concept_id"].unique().to_list())
    mapped = (
        rows.filter(~is_direct & has_reverse)
        .join(reverse.lazy(), on="concept_id", how="inner", maintain_order="left")
        .with_columns(pl.lit("maps_to").alias("code_from"))
    )
    # 3. concept sets named by code lists: one extra row per set the condition is in
    tagged = []
    present = set(distinct["concept_id"].to_list())
    for cs in load_concept_sets(sets_dir):
        members = [c for c in _resolve_set(vocab, cs) if c in present]
        if members:
            tagged.append(
                rows.filter(pl.col("concept_id").is_in(members)).with_columns(
                    pl.lit(set_code(cs.name)).alias("icd10_code"),
                    pl.lit("concept_set").alias("code_from"),
                )
            )
    # 4. a condition with no ICD-10 code keeps one row naming its concept
    uncoded = rows.filter(~is_direct & ~has_reverse).with_columns(
        ("OMOP:" + pl.col("concept_id").cast(pl.String)).alias("icd10_code"),
        pl.lit("concept").alias("code_from"),
    )
    cols = [
        "patient_id",
        "concept_id",
        "source_concept_id",
        "diagnosed_on",
        "icd10_code",
        "code_from",
    ]
    out = pl.concat([f.select(cols) for f in [direct, mapped, *tagged, uncoded]])
    out = out.rename({"icd10_code": "code"}).with_columns(
        pl.lit("condition_occurrence").alias("source_table")
    )
    return _contract(
        "diagnoses", out, ["source_table", "concept_id", "source_concept_id", "code_from"]
    )


def _resolve_set(vocab: Vocabulary, cs) -> list[int]:
    include: set[int] = set()
    exclude: set[int] = set()
    for item in cs.items:
        ids = vocab.descendants([item.id]) if item.descendants else [item.id]
        (exclude if item.exclude else include).update(ids)
    return sorted(include - exclude)


# ---------------------------------------------------------------------- measurements


def _concept_map(
    vocab: Vocabulary, pairs: Sequence[tuple[Sequence[ConceptRef], str]], name: str
) -> pl.DataFrame:
    ids, labels = [], []
    for refs, label in pairs:
        for cid in vocab.resolve(refs):
            ids.append(cid)
            labels.append(label)
    return pl.DataFrame(
        {"concept_id": ids, name: labels}, schema={"concept_id": pl.Int64, name: pl.String}
    )


def _unit_codes(vocab: Vocabulary) -> pl.LazyFrame:
    return vocab.names().select(
        pl.col("concept_id").alias("unit_concept_id"), pl.col("concept_code").alias("ucum")
    )


def _unit_rules(
    mapping: Mapping,
) -> tuple[dict[str, str], dict[tuple[str, str], tuple[str, float]]]:
    """UCUM -> contract unit: one test-independent renaming for the units every test reads
    the same way (factor 1), and the (test, UCUM) pairs that need their own unit/factor."""
    generic: dict[str, str] = {}
    special: dict[tuple[str, str], tuple[str, float]] = {}
    for test_map in mapping.tests:
        for code, (target, f) in test_map.units.items():
            if f == 1.0 and generic.get(code, target) == target:
                generic[code] = target
            else:
                special[(test_map.test, code)] = (target, f)
    return generic, special


def _unit_of(
    test: str, ucum: str, generic: dict[str, str], special: dict[tuple[str, str], tuple[str, float]]
) -> tuple[str, float]:
    """The contract unit and factor of a value of ``test`` written in ``ucum``."""
    return special.get((test, ucum), (generic.get(ucum, ucum), 1.0))


#: A (concept, unit concept) pair as one integer: OMOP concept ids are 32-bit integers.
_HIGH = 1 << 32
_OFFSET = 1 << 31


def _pair_key(concept: pl.Expr, unit: pl.Expr) -> pl.Expr:
    return concept.cast(pl.UInt64) * _HIGH + (unit.fill_null(0) + _OFFSET).cast(pl.UInt64)


def _perfect_modulus(keys: list[int], limit: int = 1 << 16) -> int | None:
    """The smallest m (up to ``limit``) for which the keys have distinct remainders: the
    rows' pair keys (every one among ``keys``) then find their pair by one modulo and one
    gather from arrays of m slots, cheaper than a binary search per row."""
    for m in range(max(len(keys), 1), limit):
        if len({k % m for k in keys}) == len(keys):
            return m
    return None


def _measurement_pairs(src: OmopSource) -> pl.Series:
    """The distinct (measurement concept, unit concept) pair keys of the whole measurement
    table, sorted (one scan of two integer columns, shared by every use)."""
    if "measurement_pairs" not in src.cache:
        m = src.get("measurement")
        unit = (
            _int("unit_concept_id")
            if "unit_concept_id" in m.collect_schema().names()
            else pl.lit(None, pl.Int64)
        )
        key = _pair_key(_int("measurement_concept_id"), unit)
        keys = m.select(key.unique().alias("k")).collect()["k"].drop_nulls().sort()
        src.cache["measurement_pairs"] = keys
    return src.cache["measurement_pairs"]


def _used(src: OmopSource, table: str) -> set[int]:
    """The concept ids ``<table>.<table>_concept_id`` uses (cached)."""
    if table == "measurement":
        return {k // _HIGH for k in _measurement_pairs(src).to_list()}
    name = f"used:{table}"
    if name not in src.cache:
        column = _int(f"{table.split('_')[0]}_concept_id")
        found = src.get(table).select(column.unique().alias("c")).collect()["c"]
        src.cache[name] = set(found.drop_nulls().to_list())
    return src.cache[name]


def _measurements(src: OmopSource, vocab: Vocabulary, mapping: Mapping) -> pl.LazyFrame:
    """Lab values by LOINC concept, their UCUM unit concept mapped to the contract unit.

    The (test concept, unit concept) pairs of a database are few, so test, unit and factor
    are worked out once per pair (in Python) and a row finds its pair by one binary search
    over the sorted pair keys, then gathers them: no string matching or hash lookup per
    row. ``unit_source_value`` is read only when some pair has no usable unit concept."""
    tests = _concept_map(vocab, [(t.concepts, t.test) for t in mapping.tests], "test")
    test_of = dict(zip(tests["concept_id"].to_list(), tests["test"].to_list(), strict=True))
    generic, special = _unit_rules(mapping)
    m = src.get("measurement")
    have = m.collect_schema().names()
    concept = _int("measurement_concept_id")
    unit_id = _int("unit_concept_id") if "unit_concept_id" in have else pl.lit(None, pl.Int64)
    kept = m.filter(concept.is_in(list(test_of)))
    key = _pair_key(concept, unit_id)
    keys = _measurement_pairs(src)
    keys = keys.filter((keys // _HIGH).is_in(list(test_of)))
    pairs = [(k // _HIGH, k % _HIGH - _OFFSET) for k in keys.to_list()]
    unit_ids = sorted({u for _, u in pairs if u})
    code_of = {
        k: v
        for k, v in _unit_codes(vocab)
        .filter(pl.col("unit_concept_id").is_in(unit_ids))
        .collect()
        .iter_rows()
        if k and v
    }
    p_test: list[str] = []
    p_unit: list[str | None] = []
    p_factor: list[float | None] = []
    p_ucum: list[str | None] = []
    for cid, uid in pairs:
        ucum = code_of.get(uid)
        u, f = _unit_of(test_of[cid], ucum, generic, special) if ucum else (None, None)
        p_test.append(test_of[cid])
        p_unit.append(u)
        p_factor.append(f)
        p_ucum.append(ucum)
    modulus = _perfect_modulus(keys.to_list())
    if modulus is not None:  # a row's slot is its pair key modulo a number no two keys share
        slot = {k % modulus: i for i, k in enumerate(keys.to_list())}
        index = pl.col("_pair") % modulus

        def gather(values: list, dtype: pl.DataType) -> pl.Expr:
            by_slot = [values[slot[j]] if j in slot else None for j in range(modulus)]
            return pl.lit(pl.Series(by_slot, dtype=dtype)).gather(index)

    else:  # a binary search over the sorted keys
        index = pl.lit(keys).search_sorted(pl.col("_pair"))

        def gather(values: list, dtype: pl.DataType) -> pl.Expr:
            return pl.lit(pl.Series(values, dtype=dtype)).gather(index)

    unit_expr = gather(p_unit, pl.String())
    factor: pl.Expr = gather(p_factor, pl.Float64())
    ucum_expr = gather(p_ucum, pl.String())
    source_cols: list[pl.Expr] = []
    if any(u is None for u in p_ucum):
        # rows without a usable unit concept: the unit as written (unit_source_value)
        written = pl.col("unit_source_value")
        s_unit: pl.Expr = written.replace({k: v for k, v in generic.items() if k != v})
        s_factor: pl.Expr = pl.lit(1.0)
        for (test, code), (target, f) in special.items():
            hit = (pl.col("test") == test) & (written == code)
            s_unit = pl.when(hit).then(pl.lit(target)).otherwise(s_unit)
            s_factor = pl.when(hit).then(pl.lit(f)).otherwise(s_factor)
        unit_expr = pl.coalesce(unit_expr, s_unit)
        factor = pl.coalesce(factor, s_factor)
        ucum_expr = pl.coalesce(ucum_expr, written)
        source_cols = [e.cast(pl.String) for e in _has_cols(m, "unit_source_value")]
    rows = (
        kept.select(
            _pid(src),
            concept.alias("concept_id"),
            pl.col("value_as_number").cast(pl.Float64).alias("source_value"),
            unit_id.alias("unit_concept_id"),
            *source_cols,
            pl.col("measurement_date").alias("measured_on"),
            key.alias("_pair"),
        )
        .with_columns(gather(p_test, pl.String()).alias("test"))
        .with_columns(
            (pl.col("source_value") * factor).alias("value"),
            unit_expr.alias("unit"),
            ucum_expr.alias("ucum"),
            pl.lit("measurement").alias("source_table"),
        )
    )
    return _contract(
        "measurements", rows, ["source_table", "concept_id", "unit_concept_id", "ucum"]
    )


def _assessments(src: OmopSource, vocab: Vocabulary, mapping: Mapping) -> pl.LazyFrame | None:
    items = _concept_map(vocab, [(i.concepts, i.item) for i in mapping.items], "item")
    numeric_items = [i.item for i in mapping.items if i.numeric]
    item_of = dict(zip(items["concept_id"].to_list(), items["item"].to_list(), strict=True))
    values = _concept_map(vocab, [([r], v) for r, v in mapping.values], "mapped_value")
    value_of = dict(values.iter_rows())
    parts = []
    for table, date in (("measurement", "measurement_date"), ("observation", "observation_date")):
        if not src.has(table) or not _used(src, table) & set(item_of):
            continue  # no row of this table is an assessment: not scanned
        lf = src.get(table)
        concept = f"{table}_concept_id"
        parts.append(
            lf.filter(_int(concept).is_in(list(item_of)))
            .select(
                _pid(src),
                _int(concept).alias("concept_id"),
                *[e.cast(pl.Float64, strict=False) for e in _has_cols(lf, "value_as_number")],
                *[e.cast(pl.Int64, strict=False) for e in _has_cols(lf, "value_as_concept_id")],
                *[
                    e.cast(pl.String)
                    for e in _has_cols(lf, "value_as_string", "value_source_value")
                ],
                pl.col(date).alias("assessed_on"),
                pl.lit(table).alias("source_table"),
            )
            .with_columns(
                pl.col("concept_id").replace_strict(item_of, return_dtype=pl.String).alias("item")
            )
        )
    if not parts:
        return None
    number = pl.col("value_as_number")
    as_int = pl.when(number.is_not_null() & (number == number.round(0))).then(
        number.cast(pl.Int64, strict=False).cast(pl.String)
    )
    rows = (
        pl.concat(parts)
        .with_columns(
            pl.col("value_as_concept_id")
            .replace_strict(value_of, default=None, return_dtype=pl.String)
            .alias("mapped_value")
        )
        .with_columns(
            pl.coalesce(
                pl.when(pl.col("item").is_in(numeric_items)).then(as_int),
                pl.col("mapped_value"),
                pl.col("value_as_string"),
                pl.col("value_source_value"),
            ).alias("value")
        )
    )
    return _contract("assessments", rows, ["source_table", "concept_id", "value_as_concept_id"])


# ---------------------------------------------------------------------- medications


def _medications(src: OmopSource, vocab: Vocabulary, mapping: Mapping) -> pl.LazyFrame:
    """One row per (exposure, RxNorm ingredient); the ingredient's name is the drug.
    Lazy, like the diagnoses: lookups from the distinct concepts, rows read on demand."""
    de = src.get("drug_exposure")
    rows = de.select(
        _pid(src),
        _int("drug_concept_id").alias("concept_id"),
        *[e.cast(pl.Int64, strict=False) for e in _has_cols(de, "route_concept_id")],
        *[e.cast(pl.String) for e in _has_cols(de, "drug_source_value", "route_source_value")],
        pl.col("drug_exposure_start_date").alias("start_date"),
        pl.col("drug_exposure_end_date").alias("end_date"),
    )
    distinct = rows.select("concept_id", "route_concept_id").unique().collect()
    ing = vocab.ingredients(distinct["concept_id"].unique().to_list())
    names = vocab.names().filter(
        pl.col("concept_id").is_in(
            pl.concat([distinct["concept_id"], distinct["route_concept_id"]]).unique().implode()
        )
    )
    name_of = {
        k: v.lower()
        for k, v in names.select("concept_id", "concept_name").collect().iter_rows()
        if k and v
    }
    route_of = dict(_concept_map(vocab, [([r], n) for r, n in mapping.routes], "route").iter_rows())
    if ing.height == 0:  # no drug reaches an RxNorm ingredient (e.g. source values only)
        joined = rows.with_columns(
            pl.lit(None, pl.Int64).alias("ingredient_concept_id"),
            pl.lit(None, pl.String).alias("ingredient"),
            pl.lit(None, pl.String).alias("ingredient_from"),
        )
    else:  # one row per ingredient of a multi-ingredient drug
        joined = rows.join(
            ing.lazy(),
            left_on="concept_id",
            right_on="drug_concept_id",
            how="left",
            maintain_order="left",
        )
    out = joined.with_columns(
        pl.coalesce(
            "ingredient",
            pl.col("concept_id").replace_strict(name_of, default=None, return_dtype=pl.String),
            "drug_source_value",
        ).alias("drug"),
        pl.when(pl.col("route_concept_id").fill_null(0) != 0)
        .then(
            pl.coalesce(
                pl.col("route_concept_id").replace_strict(
                    route_of, default=None, return_dtype=pl.String
                ),
                pl.col("route_concept_id").replace_strict(
                    name_of, default=None, return_dtype=pl.String
                ),
            )
        )
        .otherwise(pl.col("route_source_value").str.to_lowercase())
        .alias("route"),
        pl.lit("drug_exposure").alias("source_table"),
    )
    return _contract(
        "medications",
        out,
        [
            "source_table",
            "concept_id",
            "ingredient_concept_id",
            "ingredient_from",
            "route_concept_id",
        ],
    )


# ---------------------------------------------------------------------- procedures


def _procedures(src: OmopSource, vocab: Vocabulary, mapping: Mapping) -> pl.DataFrame:
    po = src.get("procedure_occurrence")
    rows = po.select(
        _pid(src),
        _int("procedure_concept_id").alias("concept_id"),
        pl.col("procedure_date").alias("performed_on"),
    )
    cats = []
    for category, refs in mapping.procedures.items():
        for cid in vocab.descendants(vocab.resolve(refs)):
            cats.append((cid, category))
    cat = pl.DataFrame(cats, schema={"concept_id": pl.Int64, "category": pl.String}, orient="row")
    cat = cat.unique("concept_id", keep="first")
    out = (
        rows.join(cat.lazy(), on="concept_id", how="left", maintain_order="left")
        .with_columns(
            pl.col("category").fill_null("other"),
            pl.lit("procedure_occurrence").alias("source_table"),
        )
        .collect()
    )
    return _contract("procedures", out, ["source_table", "concept_id"])


# ---------------------------------------------------------------------- lesions, therapies


def _recorded(
    src: OmopSource, vocab: Vocabulary, refs: Sequence[ConceptRef], tables: tuple[str, ...]
) -> bool:
    """True if the database records this kind of fact: a row of ``tables`` uses one of
    ``refs``, or the vocabulary holds their local (``Feasibility``) concepts, which only a
    database set up for them has. (A full standard vocabulary holds every LOINC concept,
    so a standard concept in ``concept`` alone proves nothing.)"""
    if vocab.known([r for r in refs if r.vocabulary == "Feasibility"]):
        return True
    ids = vocab.resolve(refs)
    return any(src.has(table) and _used(src, table) & set(ids) for table in tables)


def _lesions(src: OmopSource, vocab: Vocabulary, mapping: Mapping) -> pl.LazyFrame | None:
    ids = vocab.resolve(mapping.lesion_concepts)
    if not src.has("measurement"):
        return None
    m = src.get("measurement")
    rows = m.filter(_int("measurement_concept_id").is_in(ids)).select(
        _pid(src),
        _int("measurement_concept_id").alias("concept_id"),
        pl.col("measurement_date").alias("imaged_on"),
        pl.col("value_as_number").cast(pl.Float64).alias("diameter"),
        *[
            e.cast(pl.Int64, strict=False)
            for e in _has_cols(m, "unit_concept_id", "value_as_concept_id")
        ],
        *[e.cast(pl.String) for e in _has_cols(m, "unit_source_value", "value_source_value")],
    )
    if not _recorded(src, vocab, mapping.lesion_concepts, ("measurement",)):
        return None
    factors = pl.DataFrame(
        {"ucum": list(mapping.lesion_units), "factor": list(mapping.lesion_units.values())},
        schema={"ucum": pl.String, "factor": pl.Float64},
    )
    bone = _concept_map(
        vocab, [([r], "true" if v else "false") for r, v in mapping.bone_contiguous], "bone"
    ).rename({"concept_id": "value_as_concept_id"})
    out = (
        rows.join(_unit_codes(vocab), on="unit_concept_id", how="left", maintain_order="left")
        .with_columns(pl.coalesce("ucum", "unit_source_value").alias("ucum"))
        .join(factors.lazy(), on="ucum", how="left", maintain_order="left")
        .join(bone.lazy(), on="value_as_concept_id", how="left", maintain_order="left")
        .with_columns(
            (pl.col("diameter") * pl.col("factor")).alias("longest_diameter_cm"),
            (pl.col("bone") == "true").alias("bone_contiguous"),
            pl.col("value_source_value").alias("site"),
            pl.lit("measurement").alias("source_table"),
        )
    )
    return _contract("lesions", out, ["source_table", "concept_id"])


def _therapies(src: OmopSource, vocab: Vocabulary, mapping: Mapping) -> pl.DataFrame | None:
    if not src.has("episode"):
        return None
    ids = vocab.resolve(mapping.therapy_episodes)
    inv = vocab.resolve(mapping.investigational)
    inv_unknown = vocab.resolve(mapping.investigational_unknown)
    ep = src.get("episode")
    rows = ep.filter(_int("episode_concept_id").is_in(ids)).select(
        _pid(src),
        _int("episode_concept_id").alias("concept_id"),
        _int("episode_number").alias("line_number"),
        *[e.cast(pl.Int64, strict=False) for e in _has_cols(ep, "episode_object_concept_id")],
        *[e.cast(pl.String) for e in _has_cols(ep, "episode_source_value")],
        pl.col("episode_start_date").alias("start_date"),
        pl.col("episode_end_date").alias("end_date"),
    )
    found = rows.collect()
    if found.height == 0:
        return None
    names = vocab.names().select(
        pl.col("concept_id").alias("episode_object_concept_id"), "concept_name"
    )
    out = (
        found.lazy()
        .join(names, on="episode_object_concept_id", how="left", maintain_order="left")
        .with_columns(
            pl.coalesce("episode_source_value", "concept_name").alias("regimen"),
            pl.when(pl.col("episode_object_concept_id").is_in(inv_unknown))
            .then(pl.lit(None, pl.Boolean))
            .otherwise(pl.col("episode_object_concept_id").is_in(inv).fill_null(False))
            .alias("investigational"),
            pl.lit("episode").alias("source_table"),
        )
        .collect()
    )
    return _contract("therapies", out, ["source_table", "concept_id", "episode_object_concept_id"])


# ---------------------------------------------------------------------- all tables


def omop_tables(
    source: OmopSource,
    mapping: Mapping | None = None,
    *,
    codelist_dir: Path = CODELIST_DIR,
    progress: bool = False,
) -> Mapped:
    """Map an opened OMOP database to the registry tables it can fill."""
    mapping = mapping or load_mapping()
    vocab = Vocabulary(source)
    out = Mapped(tables={})

    def step(table: str, fn, *args) -> None:
        t0 = time.perf_counter()
        frame = fn(*args)
        if frame is not None:
            out.tables[table] = frame
            if progress:
                rows = f"{frame.height:,} rows" if isinstance(frame, pl.DataFrame) else "streamed"
                print(
                    f"  omop -> {table}: {rows} ({time.perf_counter() - t0:.1f} s)",
                    file=sys.stderr,
                    flush=True,
                )

    step("patients", _patients, source, vocab, mapping)
    if source.has("condition_occurrence"):
        step("diagnoses", _diagnoses, source, vocab, codelist_dir)
    else:
        out.absent["diagnoses"] = "the OMOP database has no condition_occurrence table"
    if source.has("measurement"):
        step("measurements", _measurements, source, vocab, mapping)
    else:
        out.absent["measurements"] = "the OMOP database has no measurement table"
    refs = [r for i in mapping.items for r in i.concepts]
    if _recorded(source, vocab, refs, ("measurement", "observation")):
        step("assessments", _assessments, source, vocab, mapping)
    if "assessments" not in out.tables:
        out.absent["assessments"] = (
            "no measurement or observation uses a concept mapped to an assessment item "
            "(ECOG, CTCAE grades, pregnancy, breastfeeding) and the vocabulary has none of them"
        )
    if source.has("drug_exposure"):
        step("medications", _medications, source, vocab, mapping)
    else:
        out.absent["medications"] = "the OMOP database has no drug_exposure table"
    if source.has("procedure_occurrence"):
        step("procedures", _procedures, source, vocab, mapping)
    else:
        out.absent["procedures"] = "the OMOP database has no procedure_occurrence table"
    step("lesions", _lesions, source, vocab, mapping)
    if "lesions" not in out.tables:
        out.absent["lesions"] = (
            "OMOP has no standard table for imaged lesions and no measurement uses the "
            "lesion-diameter concepts of mapping.yaml"
        )
    step("therapies", _therapies, source, vocab, mapping)
    if "therapies" not in out.tables:
        out.absent["therapies"] = (
            "lines of therapy come from the oncology extension's episodes "
            "(Treatment Regimen) and the database has none"
        )
    out.notes.append(f"concept hierarchy from {vocab.hierarchy}")
    patients = out.tables["patients"].lazy()
    years = (
        patients.filter(pl.col("birth_date_precision") != "day").select(pl.len()).collect().item()
    )
    if years:
        # no count here: warnings are shown in shared reports as written (the patients
        # table's birth_date_precision column has the exact figure; the report's OMOP
        # section shows it disclosed)
        out.notes.append(
            "some birth dates have only a year or month in OMOP; taken as the middle "
            "(1 July / the 15th), so an age may be off by one year near the birthday"
        )
    return out


@dataclass(frozen=True, eq=False)
class OmopRegistry(Registry):
    """A :class:`Registry` read from an OMOP CDM database.

    ``path`` is the OMOP database; its tables are lazy queries over the OMOP files (``files``
    names them ``<table> (mapped)``). ``omop_absent`` says why each absent table is absent
    (also in ``warnings``); ``fingerprint`` hashes the OMOP files; ``source`` is the opened
    database (for :func:`feasibility.omop.conformance.omop_conformance`).
    """

    source: OmopSource | None = field(default=None, repr=False)
    omop_absent: dict[str, str] = field(default_factory=dict)

    @cached_property
    def fingerprint(self) -> str:
        """sha256 over the OMOP database's files."""
        assert self.source is not None
        return self.source.fingerprint()


def load_omop(
    path: str | Path,
    *,
    progress: bool = False,
    defer: bool = True,
    mapping: Mapping | None = None,
    codelist_dir: Path = CODELIST_DIR,
) -> OmopRegistry:
    """Load an OMOP CDM 5.4 database (directory of Parquet/CSV tables, or DuckDB file)."""
    from feasibility.registry import load_registry

    t0 = time.perf_counter()
    source = open_omop(path)
    if progress:
        print(f"reading OMOP CDM database {path} ({source.kind})", file=sys.stderr, flush=True)
    mapped = omop_tables(source, mapping, codelist_dir=codelist_dir, progress=progress)
    frames = {t: f.lazy() for t, f in mapped.tables.items()}
    if progress:
        print(f"  mapped in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    # the large tables stay lazy queries over the OMOP files: the screen reads only the
    # columns it needs through them, as it does from a native registry's Parquet files
    native = load_registry(path, progress=progress, defer=defer, frames=frames)
    warnings = [f"OMOP: {t} absent: {why}" for t, why in mapped.absent.items()]
    warnings += [f"OMOP: {note}" for note in mapped.notes]
    values = {f.name: getattr(native, f.name) for f in fields(Registry)}
    values.update(path=Path(path), warnings=[*native.warnings, *warnings])
    return OmopRegistry(**values, source=source, omop_absent=dict(mapped.absent))
