"""OMOP conformance checks in the manner of OHDSI's Data Quality Dashboard (DQD).

They run on the OMOP tables themselves (before mapping), complementing the registry
suites that run on the mapped tables; every finding names its OMOP table, column and
the concepts involved. Check names follow DQD's:

- ``standardConceptRecordCompleteness``: concept_id 0 or missing (not mapped).
- ``isStandardValidConcept``: a non-zero concept_id that is not a standard, valid concept
  of the database's vocabulary (including ids the ``concept`` table does not have).
- ``measureUnitCompleteness``: a measurement with a number but no unit concept.
- ``withinObservationPeriod``: an event dated outside every observation period of its person.
- ``plausibleAfterBirth`` / ``plausibleBeforeDeath``: an event before the year of birth, or
  more than 60 days after death (DQD's allowance).

Thresholds (percent of rows allowed to fail) follow DQD's defaults where we know them and
are marked as ours otherwise; ``status`` is ``pass``/``fail``/``not_applicable``.
"""

from __future__ import annotations

import polars as pl

from .source import OmopSource

#: (table, concept column) pairs checked for standard-concept conformance.
CONCEPT_FIELDS: tuple[tuple[str, str], ...] = (
    ("person", "gender_concept_id"),
    ("condition_occurrence", "condition_concept_id"),
    ("measurement", "measurement_concept_id"),
    ("measurement", "unit_concept_id"),
    ("observation", "observation_concept_id"),
    ("drug_exposure", "drug_concept_id"),
    ("procedure_occurrence", "procedure_concept_id"),
    ("episode", "episode_concept_id"),
)
#: (table, event date column) pairs checked against observation periods, birth and death.
EVENT_DATES: tuple[tuple[str, str], ...] = (
    ("condition_occurrence", "condition_start_date"),
    ("measurement", "measurement_date"),
    ("observation", "observation_date"),
    ("drug_exposure", "drug_exposure_start_date"),
    ("procedure_occurrence", "procedure_date"),
    ("episode", "episode_start_date"),
)
THRESHOLDS: dict[str, float] = {
    "standardConceptRecordCompleteness": 5.0,  # ours (DQD varies by field)
    "isStandardValidConcept": 0.0,  # DQD default
    "measureUnitCompleteness": 5.0,  # ours
    "withinObservationPeriod": 5.0,  # ours
    "plausibleAfterBirth": 1.0,  # DQD default
    "plausibleBeforeDeath": 1.0,  # DQD default
}
CATEGORY: dict[str, str] = {
    "standardConceptRecordCompleteness": "completeness",
    "isStandardValidConcept": "conformance",
    "measureUnitCompleteness": "completeness",
    "withinObservationPeriod": "plausibility",
    "plausibleAfterBirth": "plausibility",
    "plausibleBeforeDeath": "plausibility",
}
SCHEMA: dict[str, pl.DataType] = {
    "check": pl.String(),
    "category": pl.String(),
    "table": pl.String(),
    "column": pl.String(),
    "rows_checked": pl.Int64(),
    "rows_failed": pl.Int64(),
    "pct_failed": pl.Float64(),
    "threshold_pct": pl.Float64(),
    "status": pl.String(),
    "concepts": pl.String(),
    "description": pl.String(),
}
_EXAMPLES = 5


#: The ``examples`` column (``omop_conformance(..., examples=True)``): the most frequent
#: failing concepts with their row counts, for the report (which discloses each count).
EXAMPLE_DTYPE = pl.List(
    pl.Struct({"concept_id": pl.Int64, "concept_name": pl.String, "rows": pl.Int64})
)
Example = tuple[int | None, str | None, int]


def _row(
    check: str,
    table: str,
    column: str,
    checked: int,
    failed: int,
    examples: list[Example] | None,
    text: str,
) -> dict:
    pct = 100.0 * failed / checked if checked else 0.0
    threshold = THRESHOLDS[check]
    status = "not_applicable" if not checked else ("fail" if pct > threshold else "pass")
    return {
        "check": check,
        "category": CATEGORY[check],
        "table": table,
        "column": column,
        "rows_checked": checked,
        "rows_failed": failed,
        "pct_failed": round(pct, 3),
        "threshold_pct": threshold,
        "status": status,
        "concepts": "; ".join(
            f"{cid} {name or '(not in concept table)'} ({n})" for cid, name, n in examples or []
        ),
        "description": text,
        "examples": [
            {"concept_id": cid, "concept_name": name, "rows": n} for cid, name, n in examples or []
        ],
    }


def _examples(frame: pl.DataFrame, column: str, concept: pl.DataFrame) -> list[Example]:
    """The most frequent failing concepts: (concept_id, concept_name, rows)."""
    if frame.height == 0 or column not in frame.columns:
        return []
    top = (
        frame.group_by(column)
        .len()
        .sort(["len", column], descending=[True, False])
        .head(_EXAMPLES)
        .join(
            concept.select(pl.col("concept_id").alias(column), "concept_name"),
            on=column,
            how="left",
        )
    )
    return [(cid, name, int(n)) for cid, n, name in top.iter_rows()]


def omop_conformance(database: object, *, examples: bool = False) -> pl.DataFrame:
    """Run the checks on an OMOP database: an :class:`OmopSource`, an ``OmopRegistry`` (its
    ``source``) or a path; one row per check, table and column (``SCHEMA``). ``concepts``
    names the most frequent failing concepts as ``id name (rows)``; ``examples=True`` adds
    them as a list column ``examples`` (:data:`EXAMPLE_DTYPE`)."""
    source = getattr(database, "source", database)
    if not isinstance(source, OmopSource):
        from .source import open_omop

        source = open_omop(database)  # type: ignore[arg-type]
    if source.has("concept"):
        concept = (
            source.get("concept")
            .select(
                pl.col("concept_id").cast(pl.Int64),
                pl.col("concept_name").cast(pl.String),
                pl.col("standard_concept").cast(pl.String),
                *(
                    [pl.col("invalid_reason").cast(pl.String)]
                    if "invalid_reason" in source.get("concept").collect_schema()
                    else [pl.lit(None, pl.String).alias("invalid_reason")]
                ),
            )
            .collect()
        )
    else:
        concept = pl.DataFrame(
            schema={"concept_id": pl.Int64, "concept_name": pl.String, "standard_concept": pl.String,
                    "invalid_reason": pl.String}
        )  # fmt: skip
    standard = concept.filter(
        (pl.col("standard_concept") == "S") & pl.col("invalid_reason").is_null()
    )["concept_id"]
    rows: list[dict] = []
    for table, column in CONCEPT_FIELDS:
        if not source.has(table) or column not in source.get(table).collect_schema():
            continue
        ids = source.get(table).select(pl.col(column).cast(pl.Int64, strict=False)).collect()
        zero = ids.filter(pl.col(column).fill_null(0) == 0)
        rows.append(
            _row("standardConceptRecordCompleteness", table, column, ids.height, zero.height, None,
                 f"{table}.{column} is 0 or missing (the source value was not mapped)")
        )  # fmt: skip
        bad = ids.filter(
            (pl.col(column).fill_null(0) != 0) & ~pl.col(column).is_in(standard.implode())
        )
        rows.append(
            _row("isStandardValidConcept", table, column, ids.height - zero.height, bad.height,
                 _examples(bad, column, concept),
                 f"{table}.{column} is not a standard, valid concept of the vocabulary")
        )  # fmt: skip
    if source.has("measurement"):
        m = source.get("measurement")
        have = m.collect_schema().names()
        if "unit_concept_id" in have and "value_as_number" in have:
            numbers = (
                m.filter(pl.col("value_as_number").is_not_null())
                .select(
                    pl.col("measurement_concept_id").cast(pl.Int64),
                    pl.col("unit_concept_id").cast(pl.Int64),
                )
                .collect()
            )
            missing = numbers.filter(pl.col("unit_concept_id").fill_null(0) == 0)
            rows.append(
                _row("measureUnitCompleteness", "measurement", "unit_concept_id", numbers.height,
                     missing.height, _examples(missing, "measurement_concept_id", concept),
                     "a measurement with value_as_number has no unit concept (concepts: the tests)")
            )  # fmt: skip
    rows += _date_checks(source, concept)
    schema: dict[str, pl.DataType] = {**SCHEMA, "examples": EXAMPLE_DTYPE}
    out = pl.DataFrame(rows or None, schema=schema)
    return out if examples else out.drop("examples")


def _date_checks(source: OmopSource, concept: pl.DataFrame) -> list[dict]:
    rows: list[dict] = []
    person = source.get("person").select(
        pl.col("person_id").cast(pl.Int64), pl.col("year_of_birth").cast(pl.Int64)
    )
    death = (
        source.get("death")
        .select(pl.col("person_id").cast(pl.Int64), "death_date")
        .group_by("person_id")
        .agg(pl.col("death_date").min())
        if source.has("death")
        else None
    )
    periods = (
        source.get("observation_period").select(
            pl.col("person_id").cast(pl.Int64),
            pl.col("observation_period_start_date").alias("op_start"),
            pl.col("observation_period_end_date").alias("op_end"),
        )
        if source.has("observation_period")
        else None
    )
    for table, column in EVENT_DATES:
        if not source.has(table) or column not in source.get(table).collect_schema():
            continue
        lf = source.get(table)
        concept_col = f"{table.split('_')[0]}_concept_id"
        if table == "procedure_occurrence":
            concept_col = "procedure_concept_id"
        cols = [pl.col("person_id").cast(pl.Int64), pl.col(column).alias("d")]
        if concept_col in lf.collect_schema():
            cols.append(pl.col(concept_col).cast(pl.Int64))
        events = lf.select(cols).filter(pl.col("d").is_not_null()).with_row_index("_i")
        n = events.select(pl.len()).collect().item()
        if periods is not None:
            inside = (
                events.join(periods, on="person_id", how="inner")
                .filter((pl.col("d") >= pl.col("op_start")) & (pl.col("d") <= pl.col("op_end")))
                .select("_i")
                .unique()
            )
            outside = events.join(inside, on="_i", how="anti").collect()
            rows.append(
                _row("withinObservationPeriod", table, column, n, outside.height,
                     _examples(outside, concept_col, concept),
                     f"{table}.{column} falls outside every observation_period of the person")
            )  # fmt: skip
        with_person = events.join(person, on="person_id", how="left")
        before = with_person.filter(pl.col("d").dt.year() < pl.col("year_of_birth")).collect()
        rows.append(
            _row("plausibleAfterBirth", table, column, n, before.height,
                 _examples(before, concept_col, concept),
                 f"{table}.{column} is before the person's year of birth")
        )  # fmt: skip
        if death is not None:
            after = (
                events.join(death, on="person_id", how="inner")
                .filter(pl.col("d") > pl.col("death_date") + pl.duration(days=60))
                .collect()
            )
            rows.append(
                _row("plausibleBeforeDeath", table, column, n, after.height,
                     _examples(after, concept_col, concept),
                     f"{table}.{column} is more than 60 days after the person's death")
            )  # fmt: skip
    return rows


def with_omop_source(failing: pl.DataFrame, registry: object) -> pl.DataFrame:
    """Add the OMOP provenance (``source_table``, ``concept_id``) of each failing registry row
    (columns ``table`` and ``row``, as in ``ValidationResult.unexpected``)."""
    raw = getattr(registry, "raw", {})
    parts = []
    for table in failing["table"].unique().to_list() if "table" in failing.columns else []:
        if table not in raw:
            continue
        schema = raw[table].collect_schema().names()
        if "source_table" not in schema:
            continue
        keep = ["_row", "source_table", *(["concept_id"] if "concept_id" in schema else [])]
        prov = raw[table].select(keep).collect().with_columns(pl.lit(table).alias("table"))
        parts.append(prov.rename({"_row": "row"}))
    if not parts or "row" not in failing.columns:
        return failing
    prov = pl.concat(parts, how="diagonal_relaxed").with_columns(
        pl.col("row").cast(failing.schema["row"], strict=False),
        pl.col("concept_id").cast(pl.Int64, strict=False),
    )
    return failing.join(prov, on=["table", "row"], how="left")
