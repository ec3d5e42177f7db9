"""Write a registry as an OMOP CDM 5.4 database (``feasibility synth --format omop``).

The registry's normalised tables go to the OMOP tables the reader reads, with the
vocabulary rows they need (``concept``, ``vocabulary``; ``concept_relationship`` and
``concept_ancestor`` empty), so that reading the export back gives the same screen:

- person: ``person_id`` 1..n in patient order, ``person_source_value`` the registry id;
  gender 8507/8532/8551 (0 for a missing sex), year/month/day of birth; race and
  ethnicity as source values (concept 0); site as a ``care_site``.
- condition_occurrence: ICD-10-CM source concepts (local ids, vocabulary ``ICD10CM``, code
  with its dot), ``condition_concept_id`` 0: a synthetic registry has no SNOMED mapping.
- measurement: the LOINC (or local) concept of each test, the value and unit as recorded
  at the site (UCUM), so the reader converts units as a real site's data needs.
- observation: assessments (numbers, or yes/no/negative/positive as value concepts).
- drug_exposure: ``drug_concept_id`` 0 and the generic name as ``drug_source_value`` (no
  RxNorm codes in a synthetic registry), route concepts from the mapping.
- procedure_occurrence, episode (lines of therapy), lesions as measurements: the local
  concepts of ``mapping.yaml``.

Patients in event tables without a ``patients`` row (orphans) get a person_id but no
person row, as in the registry. Formats: ``parquet`` (default), ``csv`` or ``duckdb``
(one ``cdm.duckdb`` file; needs the optional ``duckdb`` package).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

from feasibility.registry import Registry

from .mapping import ConceptRef, Mapping, load_mapping

#: Registry unit (as written at a site) -> (UCUM code, OMOP concept_id). Ids checked in
#: the Synthea27Nj vocabulary where marked; the others are local (>= 2,000,000,000).
UCUM: dict[str, tuple[str, int]] = {
    "mg/dL": ("mg/dL", 8840),  # seen
    "umol/L": ("umol/L", 8749),  # seen
    "µmol/L": ("umol/L", 8749),
    "g/dL": ("g/dL", 8713),  # seen
    "g/L": ("g/L", 8636),  # seen
    "/mm3": ("/mm3", 2000000901),
    "/uL": ("/uL", 8647),  # seen
    "10^9/L": ("10*9/L", 9444),  # seen
    "10*9/L": ("10*9/L", 9444),
    "10^3/uL": ("10*3/uL", 8848),  # seen
    "10*3/uL": ("10*3/uL", 8848),
    "%": ("%", 8554),  # seen
    "/150000 events": ("/150000 events", 2000000902),
    "kg": ("kg", 9529),  # seen
    "lb": ("[lb_av]", 8739),
    "ms": ("ms", 9593),  # seen
    "cm": ("cm", 8582),  # seen
}
GENDER_IDS = {"M": 8507, "F": 8532, "U": 8551}
GENDER_NAMES = {8507: "MALE", 8532: "FEMALE", 8551: "UNKNOWN"}
ICD10_BASE = 2_100_000_000
EPISODE_TREATMENT_REGIMEN = ConceptRef("Episode", "Treatment Regimen", 32531)
_VALUE_WORDS = ("yes", "no", "negative", "positive")


def _first_id(refs: tuple[ConceptRef, ...] | list[ConceptRef], local: bool = False) -> ConceptRef:
    """The concept to write: the first with a known id (a local one if ``local``)."""
    for ref in refs:
        if ref.id is not None and (not local or ref.vocabulary == "Feasibility"):
            return ref
    raise ValueError(f"mapping.yaml names no concept with an id among {refs}")


class _Concepts:
    """The concept rows the export needs, collected as they are used."""

    def __init__(self) -> None:
        self.rows: dict[int, tuple] = {}

    def add(
        self,
        cid: int,
        name: str,
        domain: str,
        vocabulary: str,
        cls: str,
        code: str,
        std: str | None = "S",
    ) -> int:
        self.rows.setdefault(cid, (cid, name, domain, vocabulary, cls, std, code))
        return cid

    def ref(self, ref: ConceptRef, name: str, domain: str, cls: str = "Local") -> int:
        assert ref.id is not None
        return self.add(ref.id, name, domain, ref.vocabulary, cls, ref.code)

    def frame(self) -> pl.DataFrame:
        frame = pl.DataFrame(
            list(self.rows.values()),
            schema={
                "concept_id": pl.Int64,
                "concept_name": pl.String,
                "domain_id": pl.String,
                "vocabulary_id": pl.String,
                "concept_class_id": pl.String,
                "standard_concept": pl.String,
                "concept_code": pl.String,
            },
            orient="row",
        )
        return frame.with_columns(
            pl.lit(dt.date(1970, 1, 1)).alias("valid_start_date"),
            pl.lit(dt.date(2099, 12, 31)).alias("valid_end_date"),
            pl.lit(None, pl.String).alias("invalid_reason"),
        ).sort("concept_id")


#: Event tables and the date column their observation period covers.
PERIOD_DATES: dict[str, str] = {
    "condition_occurrence": "condition_start_date",
    "measurement": "measurement_date",
    "observation": "observation_date",
    "drug_exposure": "drug_exposure_start_date",
    "procedure_occurrence": "procedure_date",
    "episode": "episode_start_date",
}


#: Rows of a table file exported per slice (see ``_Tables.lazy_chunks``).
CHUNK_ROWS = 10_000_000
#: Name prefix of the part files of a table exported in slices (removed afterwards).
PART = "_part"


class _Out(dict):
    """The OMOP tables as they are made: kept (``emit`` None) or handed to ``emit`` and
    dropped, keeping only row counts and each person's first and last event date."""

    def __init__(self, emit: Callable[[str, Any], Any] | None, lazy: bool = False) -> None:
        super().__init__()
        self.emit = emit
        #: ``emit`` takes a LazyFrame (streams it to a file and returns a scan of the file)
        self.lazy = lazy and emit is not None
        self.rows: dict[str, int] = {}
        self.spans: list[pl.DataFrame] = []

    def __setitem__(self, name: str, frame: pl.DataFrame | pl.LazyFrame) -> None:
        if isinstance(frame, pl.LazyFrame):
            if not self.lazy:
                frame = frame.collect(engine="streaming")
            else:  # streamed to its file, never held whole; counted from the file
                assert self.emit is not None
                written: pl.LazyFrame = self.emit(name, frame)
                self.rows[name] = int(written.select(pl.len()).collect().item())
                if name in PERIOD_DATES:
                    self.spans.append(
                        written.select("person_id", pl.col(PERIOD_DATES[name]).alias("d"))
                        .drop_nulls()
                        .group_by("person_id")
                        .agg(pl.col("d").min().alias("lo"), pl.col("d").max().alias("hi"))
                        .collect(engine="streaming")
                    )
                return
        self.rows[name] = frame.height
        if name in PERIOD_DATES:
            self.spans.append(
                frame.select("person_id", pl.col(PERIOD_DATES[name]).alias("d"))
                .drop_nulls()
                .group_by("person_id")
                .agg(pl.col("d").min().alias("lo"), pl.col("d").max().alias("hi"))
            )
        if self.emit is None:
            super().__setitem__(name, frame)
        else:
            self.emit(name, frame)


class _Tables:
    """The registry's normalised tables, each collected when asked (not all at once).

    Event tables come through ``Registry.scan`` (what the screen reads: normalised, exact
    duplicates kept, and not cached in the registry), so a million-patient export holds
    one table at a time; ``patients`` is the de-duplicated table (conflicts resolved)."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def __getitem__(self, name: str) -> pl.DataFrame:
        if name == "patients":
            return self.registry.tables[name].collect()
        return self.registry.scan(name).collect(engine="streaming")

    def lazy(self, name: str) -> pl.LazyFrame:
        """The table as a lazy scan (for a table streamed to its file)."""
        return self.registry.scan(name)

    def lazy_chunks(self, name: str, rows: int = CHUNK_ROWS) -> list[pl.LazyFrame]:
        """The table as lazy scans of consecutive slices of its file, in file order (one
        scan when it is small or not a deferred file). Polars' streaming joins hold more
        of a large table than their morsels, so a million-patient measurement table is
        exported a slice at a time (each slice read from its own row groups)."""
        from dataclasses import replace

        from feasibility.registry._scan import scan_normalised

        store = getattr(self.registry, "_store", None)
        src = getattr(store, "sources", {}).get(name)
        if src is None or self.registry.loaded(name):
            return [self.registry.scan(name)]
        n = int(src.frame.select(pl.len()).collect().item())
        if n <= rows:
            return [self.registry.scan(name)]
        return [
            scan_normalised(replace(src, frame=src.frame.slice(offset, rows)))
            for offset in range(0, n, rows)
        ]

    def __iter__(self):
        return iter(self.registry.tables)


def omop_frames(
    registry: Registry,
    mapping: Mapping | None = None,
    emit: Callable[[str, Any], Any] | None = None,
    *,
    lazy: bool = False,
) -> dict[str, pl.DataFrame]:
    """The OMOP tables (and vocabulary rows) for ``registry``'s normalised tables.

    With ``emit``, each table is passed to it as soon as it is made and not kept (a
    million-patient registry then needs about one table's memory); the result is empty.
    ``lazy``: ``emit`` also takes a LazyFrame (the measurement table, the largest by far,
    then streams from the registry's files to the output file) and returns a scan of what
    it wrote.
    """
    mapping = mapping or load_mapping()
    concepts = _Concepts()
    t = _Tables(registry)
    out = _Out(emit, lazy)
    ids = (
        pl.concat(
            [
                registry.scan(name, ["patient_id"])
                .select(pl.col("patient_id").cast(pl.String))
                .unique()  # (keeping the order would hold every row of a large table)
                .collect(engine="streaming")
                for name in t
            ]
        )
        .unique()
        .filter(pl.col("patient_id").is_not_null())
        .sort("patient_id")
    )
    # registry patients first, in file order; then orphans, by id
    order = pl.concat([t["patients"].select("patient_id"), ids]).unique(maintain_order=True)
    pid = order.with_columns(pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("person_id"))

    def with_pid(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.join(pid, on="patient_id", how="inner")

    def lazy_pid(name: str) -> pl.LazyFrame:
        """An event table with person_id, lazily (in registry order)."""
        return t.lazy(name).join(pid.lazy(), on="patient_id", how="inner", maintain_order="left")

    for gid, gname in GENDER_NAMES.items():
        concepts.add(gid, gname, "Gender", "Gender", "Gender", gname[0])
    patients = with_pid(t["patients"])
    sites = (
        patients.select(pl.col("site").drop_nulls().unique().sort())
        .with_row_index("care_site_id", offset=1)
        .with_columns(pl.col("care_site_id").cast(pl.Int64))
    )
    patients = patients.join(sites, on="site", how="left")
    out["care_site"] = sites.select("care_site_id", care_site_name="site")
    out["person"] = patients.select(
        "person_id",
        pl.col("sex")
        .replace_strict(GENDER_IDS, default=0, return_dtype=pl.Int64)
        .alias("gender_concept_id"),
        pl.col("birth_date").dt.year().cast(pl.Int64).alias("year_of_birth"),
        pl.col("birth_date").dt.month().cast(pl.Int64).alias("month_of_birth"),
        pl.col("birth_date").dt.day().cast(pl.Int64).alias("day_of_birth"),
        pl.col("birth_date").cast(pl.Datetime("us")).alias("birth_datetime"),
        pl.lit(0, pl.Int64).alias("race_concept_id"),
        pl.lit(0, pl.Int64).alias("ethnicity_concept_id"),
        "care_site_id",
        pl.col("patient_id").alias("person_source_value"),
        pl.col("sex").alias("gender_source_value"),
        pl.col("race").alias("race_source_value"),
        pl.col("ethnicity").alias("ethnicity_source_value"),
    )
    out["death"] = patients.filter(pl.col("death_date").is_not_null()).select(
        "person_id", "death_date", pl.lit(32817, pl.Int64).alias("death_type_concept_id")
    )
    concepts.add(32817, "EHR", "Type Concept", "Type Concept", "Type Concept", "OMOP4976890")

    # diagnoses: ICD-10-CM source concepts (code with its dot)
    dx = lazy_pid("diagnoses").filter(pl.col("code").is_not_null())
    codes = dx.select(pl.col("code").unique().sort()).collect().with_row_index("n")
    codes = codes.with_columns(
        (pl.col("n").cast(pl.Int64) + ICD10_BASE).alias("source_concept_id"),
        pl.when(pl.col("code").str.len_chars() > 3)
        .then(pl.col("code").str.slice(0, 3) + "." + pl.col("code").str.slice(3))
        .otherwise(pl.col("code"))
        .alias("dotted"),
    )
    for cid, dotted in codes.select("source_concept_id", "dotted").iter_rows():
        concepts.add(cid, f"ICD-10-CM {dotted}", "Condition", "ICD10CM", "ICD10 code", dotted, None)
    dx = dx.join(codes.lazy(), on="code", maintain_order="left")
    out["condition_occurrence"] = (
        dx.with_row_index("condition_occurrence_id", offset=1)
        .select(
            pl.col("condition_occurrence_id").cast(pl.Int64),
            "person_id",
            pl.lit(0, pl.Int64).alias("condition_concept_id"),
            pl.col("diagnosed_on").alias("condition_start_date"),
            pl.lit(32817, pl.Int64).alias("condition_type_concept_id"),
            pl.col("dotted").alias("condition_source_value"),
            "source_concept_id",
        )
        .rename({"source_concept_id": "condition_source_concept_id"})
    )

    # measurements, as recorded (source value and unit), and lesions
    test_ids = {}
    for tm in mapping.tests:
        ref = _first_id(tm.concepts)
        test_ids[tm.test] = concepts.ref(ref, tm.test, "Measurement", "Lab Test")
    unit_rows = {}
    for unit, (code, cid) in UCUM.items():
        concepts.add(
            cid, code, "Unit", "UCUM" if cid < 2_000_000_000 else "Feasibility", "Unit", code
        )
        unit_rows[unit] = (code, cid)
    unit_map = pl.DataFrame(
        [(u, c, i) for u, (c, i) in unit_rows.items()],
        schema={"source_unit": pl.String, "ucum": pl.String, "unit_concept_id": pl.Int64},
        orient="row",
    )

    def measurement_rows(chunk: pl.LazyFrame) -> pl.LazyFrame:
        ms = (
            chunk.join(pid.lazy(), on="patient_id", how="inner", maintain_order="left")
            .with_columns(pl.col("test").cast(pl.String), pl.col("source_unit").cast(pl.String))
            .join(unit_map.lazy(), on="source_unit", how="left", maintain_order="left")
            .with_columns(
                pl.col("test")
                .replace_strict(test_ids, return_dtype=pl.Int64)
                .alias("measurement_concept_id")
            )
        )
        return ms.select(
            "person_id",
            "measurement_concept_id",
            pl.col("measured_on").alias("measurement_date"),
            pl.col("source_value").alias("value_as_number"),
            pl.lit(None, pl.Int64).alias("value_as_concept_id"),
            pl.col("unit_concept_id").fill_null(0),
            pl.col("test").alias("measurement_source_value"),
            pl.coalesce("ucum", "source_unit").alias("unit_source_value"),
            pl.lit(None, pl.String).alias("value_source_value"),
        )

    chunks = t.lazy_chunks("measurements") if out.lazy else [t.lazy("measurements")]
    if len(chunks) == 1:
        meas = measurement_rows(chunks[0])
    else:  # a large table: each slice of the file streamed to a part file, then combined
        assert out.emit is not None
        meas = pl.concat(
            [
                out.emit(f"{PART}{i}", measurement_rows(c).collect(engine="streaming"))
                for i, c in enumerate(chunks)
            ]
        )
    lesion_id = concepts.ref(
        _first_id(mapping.lesion_concepts), "Lesion longest diameter", "Measurement"
    )
    bone = {
        v: concepts.ref(r, f"bone-contiguous: {v}", "Meas Value")
        for r, v in mapping.bone_contiguous
    }
    lesions = (
        with_pid(t["lesions"])
        .lazy()
        .select(
            "person_id",
            pl.lit(lesion_id, pl.Int64).alias("measurement_concept_id"),
            pl.col("imaged_on").alias("measurement_date"),
            pl.col("longest_diameter_cm").alias("value_as_number"),
            pl.when(pl.col("bone_contiguous"))
            .then(pl.lit(bone[True]))
            .when(~pl.col("bone_contiguous"))
            .then(pl.lit(bone[False]))
            .cast(pl.Int64)
            .alias("value_as_concept_id"),
            pl.lit(8582, pl.Int64).alias("unit_concept_id"),
            pl.lit("lesion").alias("measurement_source_value"),
            pl.lit("cm").alias("unit_source_value"),
            pl.col("site").alias("value_source_value"),
        )
    )
    measurement = pl.concat([meas, lesions])
    del meas, lesions
    out["measurement"] = measurement.with_row_index("measurement_id", offset=1).select(
        pl.col("measurement_id").cast(pl.Int64),
        "person_id",
        "measurement_concept_id",
        "measurement_date",
        pl.lit(32817, pl.Int64).alias("measurement_type_concept_id"),
        "value_as_number",
        "value_as_concept_id",
        "unit_concept_id",
        "measurement_source_value",
        "unit_source_value",
        "value_source_value",
    )

    # assessments -> observation
    item_ids = {
        i.item: concepts.ref(_first_id(i.concepts, local=True), i.item, "Observation")
        for i in mapping.items
    }
    numeric = [i.item for i in mapping.items if i.numeric]
    value_ids = {}
    for ref, word in mapping.values:
        if word in _VALUE_WORDS and ref.id is not None and word not in value_ids:
            value_ids[word] = concepts.add(
                ref.id, word.capitalize(), "Meas Value", ref.vocabulary, "Qualifier Value", ref.code
            )
    asm = lazy_pid("assessments").with_columns(
        pl.col("item").cast(pl.String), pl.col("value").cast(pl.String)
    )
    out["observation"] = asm.with_row_index("observation_id", offset=1).select(
        pl.col("observation_id").cast(pl.Int64),
        "person_id",
        pl.col("item")
        .replace_strict(item_ids, return_dtype=pl.Int64)
        .alias("observation_concept_id"),
        pl.col("assessed_on").alias("observation_date"),
        pl.lit(32817, pl.Int64).alias("observation_type_concept_id"),
        pl.when(pl.col("item").is_in(numeric))
        .then(pl.col("value").cast(pl.Float64, strict=False))
        .alias("value_as_number"),
        pl.when(~pl.col("item").is_in(numeric)).then(pl.col("value")).alias("value_as_string"),
        pl.col("value")
        .replace_strict(value_ids, default=None, return_dtype=pl.Int64)
        .alias("value_as_concept_id"),
        pl.col("item").alias("observation_source_value"),
        pl.col("value").alias("value_source_value"),
    )

    # medications
    route_ids = {}
    for ref, route in mapping.routes:
        if ref.id is not None and route not in route_ids:
            route_ids[route] = concepts.add(
                ref.id, f"{route} route", "Route", ref.vocabulary, "Qualifier Value", ref.code
            )
    med = with_pid(t["medications"])
    out["drug_exposure"] = med.select(
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("drug_exposure_id"),
        "person_id",
        pl.lit(0, pl.Int64).alias("drug_concept_id"),
        pl.col("start_date").alias("drug_exposure_start_date"),
        pl.col("end_date").alias("drug_exposure_end_date"),
        pl.lit(32817, pl.Int64).alias("drug_type_concept_id"),
        pl.col("route")
        .replace_strict(route_ids, default=0, return_dtype=pl.Int64)
        .fill_null(0)
        .alias("route_concept_id"),
        pl.col("drug").alias("drug_source_value"),
        pl.col("route").alias("route_source_value"),
    )

    # procedures
    cat_ids = {
        c: concepts.ref(_first_id(refs, local=True), c, "Procedure")
        for c, refs in mapping.procedures.items()
    }
    proc = with_pid(t["procedures"])
    out["procedure_occurrence"] = proc.select(
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("procedure_occurrence_id"),
        "person_id",
        pl.col("category")
        .replace_strict(cat_ids, default=0, return_dtype=pl.Int64)
        .alias("procedure_concept_id"),
        pl.col("performed_on").alias("procedure_date"),
        pl.lit(32817, pl.Int64).alias("procedure_type_concept_id"),
        pl.col("category").alias("procedure_source_value"),
    )

    # therapies -> episodes
    regimen_id = concepts.ref(EPISODE_TREATMENT_REGIMEN, "Treatment Regimen", "Episode", "Episode")
    inv_id = concepts.ref(_first_id(mapping.investigational), "Investigational regimen", "Regimen")
    unknown_ids = [r.id for r in mapping.investigational_unknown if r.id is not None]
    for ref in mapping.investigational_unknown:
        concepts.ref(ref, "Investigational status not recorded", "Regimen")
    th = with_pid(t["therapies"])
    out["episode"] = th.select(
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("episode_id"),
        "person_id",
        pl.lit(regimen_id, pl.Int64).alias("episode_concept_id"),
        pl.col("start_date").alias("episode_start_date"),
        pl.col("end_date").alias("episode_end_date"),
        pl.col("line_number").alias("episode_number"),
        pl.when(pl.col("investigational"))
        .then(pl.lit(inv_id))
        .when(~pl.col("investigational"))
        .then(pl.lit(0))
        .otherwise(pl.lit(unknown_ids[0] if unknown_ids else 0))
        .cast(pl.Int64)
        .alias("episode_object_concept_id"),
        pl.lit(32817, pl.Int64).alias("episode_type_concept_id"),
        pl.col("regimen").alias("episode_source_value"),
    )

    del measurement
    out["observation_period"] = _observation_periods(out.spans)
    out["concept"] = concepts.frame()
    out["concept_relationship"] = pl.DataFrame(
        schema={"concept_id_1": pl.Int64, "concept_id_2": pl.Int64, "relationship_id": pl.String}
    )
    out["concept_ancestor"] = pl.DataFrame(
        schema={"ancestor_concept_id": pl.Int64, "descendant_concept_id": pl.Int64}
    )
    out["vocabulary"] = pl.DataFrame(
        {
            "vocabulary_id": ["Feasibility"],
            "vocabulary_name": ["feasibility local concepts (feasibility/omop/mapping.yaml)"],
            "vocabulary_concept_id": [0],
        }
    )
    return dict(out) if emit is None else {}


def _observation_periods(spans: list[pl.DataFrame]) -> pl.DataFrame:
    """One period per person, from the first to the last dated record."""
    periods = (
        pl.concat(spans)
        .group_by("person_id")
        .agg(
            pl.col("lo").min().alias("observation_period_start_date"),
            pl.col("hi").max().alias("observation_period_end_date"),
        )
        .sort("person_id")
    )
    return periods.select(
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("observation_period_id"),
        "person_id",
        "observation_period_start_date",
        "observation_period_end_date",
        pl.lit(32817, pl.Int64).alias("period_type_concept_id"),
    )


def write_omop(registry: Registry, out_dir: str | Path, format: str = "parquet") -> dict[str, int]:  # noqa: A002
    """Write ``registry`` as an OMOP CDM 5.4 database in ``out_dir``; returns rows per table.

    ``format``: ``parquet`` or ``csv`` (one file per table) or ``duckdb`` (``cdm.duckdb``).
    """
    if format not in ("parquet", "csv", "duckdb"):
        raise ValueError(f"format must be parquet, csv or duckdb, not {format!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows: dict[str, int] = {}
    con = None
    if format == "duckdb":
        import duckdb

        file = out / "cdm.duckdb"
        file.unlink(missing_ok=True)
        con = duckdb.connect(str(file))

    def emit(name: str, frame: pl.DataFrame | pl.LazyFrame) -> pl.LazyFrame | None:
        if isinstance(frame, pl.LazyFrame):  # parquet only (lazy=True below)
            file = out / f"{name}.parquet"
            frame.sink_parquet(file)
            if name.startswith(PART):  # a slice of a table: read back when it is combined
                return pl.scan_parquet(file)
            for part in out.glob(f"{PART}*.parquet"):
                part.unlink()
            written = pl.scan_parquet(file)
            rows[name] = int(written.select(pl.len()).collect().item())
            return written
        if name.startswith(PART):  # a slice of a table, collected: combined when all are written
            frame.write_parquet(out / f"{name}.parquet")
            return pl.scan_parquet(out / f"{name}.parquet")
        rows[name] = frame.height
        if con is not None:
            con.register("_frame", frame.to_arrow())
            con.execute(f'create table "{name}" as select * from _frame')
            con.unregister("_frame")
        elif format == "csv":
            frame.write_csv(out / f"{name}.csv")
        else:
            frame.write_parquet(out / f"{name}.parquet")
        return None

    try:
        omop_frames(registry, emit=emit, lazy=format == "parquet")
    finally:
        if con is not None:
            con.close()
    return rows
