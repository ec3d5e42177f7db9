"""The OMOP reader on a real public OMOP CDM 5.4 database (Synthea27Nj, 28 patients).

Every number the screen uses is checked against a DuckDB query written directly on the
raw OMOP tables (LOINC codes, UCUM units and concept ids spelled out in SQL, not taken
from mapping.yaml), so a mapping or reader mistake shows up as a difference.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import polars as pl
import pytest

from feasibility.engine import screen
from feasibility.omop.source import fetch_arrow
from feasibility.plausibility import PLAUSIBLE_RANGES
from feasibility.protocol import load_protocol
from feasibility.registry import load_registry

DATA = Path(__file__).parent / "data" / "omop_synthea27nj"
INDEX = dt.date(2019, 6, 30)

#: test -> (LOINC codes, UCUM unit of the data, factor to our canonical unit)
LABS = {
    "hemoglobin": (("718-7",), "g/dL", 1.0),
    "platelets": (("777-3",), "10*3/uL", 1000.0),
    "wbc": (("6690-2",), "10*3/uL", 1000.0),
    "creatinine": (("2160-0", "38483-4"), "mg/dL", 1.0),
    "weight": (("29463-7",), "kg", 1.0),
}


def _sql(query: str) -> pl.DataFrame:
    con = duckdb.connect()
    try:
        return pl.from_arrow(fetch_arrow(con, query.replace("{D}", str(DATA))))
    finally:
        con.close()


@pytest.fixture(scope="module")
def registry():
    return load_registry(DATA)


def test_detected_as_omop_and_person_count_matches_duckdb(registry) -> None:
    assert type(registry).__name__ == "OmopRegistry"
    n = _sql("select count(distinct person_id) as n from '{D}/person.parquet'")["n"][0]
    assert n == 28
    assert registry.patient_ids.collect().height == n
    sexes = _sql(
        "select person_id::varchar as patient_id, case gender_concept_id when 8507 then 'M' "
        "when 8532 then 'F' else 'U' end as sex, make_date(year_of_birth, month_of_birth, "
        "day_of_birth) as birth_date from '{D}/person.parquet' order by 1"
    )
    got = registry.tables["patients"].select("patient_id", "sex", "birth_date").collect()
    assert got.sort("patient_id").equals(sexes.sort("patient_id"))
    deaths = _sql("select person_id::varchar as patient_id, death_date from '{D}/death.parquet'")
    got = registry.tables["patients"].filter(pl.col("death_date").is_not_null())
    assert (
        got.select("patient_id", "death_date")
        .collect()
        .sort("patient_id")
        .equals(deaths.sort("patient_id"))
    )


@pytest.mark.parametrize("test", sorted(LABS))
def test_every_lab_value_equals_duckdb(registry, test: str) -> None:
    codes, ucum, factor = LABS[test]
    inlist = ", ".join(f"'{c}'" for c in codes)
    expected = _sql(
        f"""
        select m.person_id::varchar as patient_id, m.measurement_date as measured_on,
               m.value_as_number::double * {factor} as value
        from '{{D}}/measurement.parquet' m
        join '{{D}}/concept.parquet' c on c.concept_id = m.measurement_concept_id
        join '{{D}}/concept.parquet' u on u.concept_id = m.unit_concept_id
        where c.vocabulary_id = 'LOINC' and c.concept_code in ({inlist})
          and u.concept_code = '{ucum}' and m.value_as_number is not null
        """
    ).unique()
    assert expected.height > 0
    # contract 5.2: values outside the reviewed plausible range (e.g. Synthea's children's
    # weights in an adult registry) are set aside, never used
    low, high = PLAUSIBLE_RANGES[test]
    expected = expected.filter(pl.col("value").is_between(low, high))
    got = (
        registry.tables["measurements"]
        .filter(pl.col("test") == test)
        .select("patient_id", "measured_on", "value")
        .collect()
        .unique()
    )
    key = ["patient_id", "measured_on", "value"]
    assert got.sort(key).equals(expected.sort(key)), test


@pytest.mark.parametrize(("test", "window"), [("hemoglobin", 365), ("platelets", 365)])
def test_values_the_screen_decided_on_equal_duckdb(registry, test: str, window: int) -> None:
    """The most recent value within the window, per patient, as the screen used it."""
    codes, ucum, factor = LABS[test]
    inlist = ", ".join(f"'{c}'" for c in codes)
    expected = _sql(
        f"""
        select person_id::varchar as patient_id, value_as_number::double * {factor} as value
        from '{{D}}/measurement.parquet' m
        join '{{D}}/concept.parquet' c on c.concept_id = m.measurement_concept_id
        where c.vocabulary_id = 'LOINC' and c.concept_code in ({inlist})
          and measurement_date between date '{INDEX}' - {window} and date '{INDEX}'
        qualify row_number() over (
            partition by person_id order by measurement_date desc, value_as_number desc) = 1
        """
    )
    result = screen(registry, load_protocol("anemia-oral-iron"), INDEX)
    used = (
        result.deciding_values(test)
        .filter(pl.col("value").is_not_null())
        .select("patient_id", "value")
        .unique()
    )
    assert used.height > 0
    assert used.sort("patient_id").equals(expected.sort("patient_id"))


def test_concept_set_with_descendants_equals_recursive_sql(registry) -> None:
    """anemia_conditions = 439777 and its 'Is a' descendants (concept_ancestor is empty)."""
    assert _sql("select count(*) as n from '{D}/concept_ancestor.parquet'")["n"][0] == 0
    expected = _sql(
        """
        with recursive d(id) as (
            select 439777
            union
            select r.concept_id_1 from '{D}/concept_relationship.parquet' r
            join d on r.concept_id_2 = d.id where r.relationship_id = 'Is a'
        )
        select distinct person_id::varchar as patient_id
        from '{D}/condition_occurrence.parquet' where condition_concept_id in (select id from d)
        """
    )
    result = screen(registry, load_protocol("anemia-oral-iron"), INDEX)
    status = result.patient_status
    passed = status.filter(pl.col("anemia_diagnosis") == "pass").select("patient_id")
    # on or before index: every anaemia record in this database is before 2019-06-30?
    dated = _sql(
        f"""
        with recursive d(id) as (
            select 439777
            union
            select r.concept_id_1 from '{{D}}/concept_relationship.parquet' r
            join d on r.concept_id_2 = d.id where r.relationship_id = 'Is a'
        )
        select distinct person_id::varchar as patient_id
        from '{{D}}/condition_occurrence.parquet'
        where condition_concept_id in (select id from d) and condition_start_date <= date '{INDEX}'
        """
    )
    assert expected.height >= dated.height > 0
    assert passed.sort("patient_id").equals(dated.sort("patient_id"))
    # the other patients fail (absent diagnosis), never unknown
    assert set(status["anemia_diagnosis"].unique()) <= {"pass", "fail"}


def test_drugs_roll_up_to_ingredients(registry) -> None:
    """Clinical and branded products count as their ingredient (nsaid_use)."""
    meds = registry.tables["medications"].collect()
    assert {"ibuprofen", "acetaminophen", "lisinopril", "amoxicillin"} <= set(meds["drug"])
    expected = _sql(
        """
        select distinct d.person_id::varchar as patient_id
        from '{D}/drug_exposure.parquet' d
        join '{D}/concept.parquet' c on c.concept_id = d.drug_concept_id
        where regexp_matches(lower(c.concept_name), '(^|[ /(])(ibuprofen|naproxen|aspirin) ')
        """
    )
    got = meds.filter(pl.col("drug").is_in(["ibuprofen", "naproxen", "naproxen sodium", "aspirin"]))
    assert set(got["patient_id"]) == set(expected["patient_id"])


def test_absent_tables_say_why(registry) -> None:
    assert registry.has("measurements") and registry.has("diagnoses")
    assert not registry.has("therapies") and not registry.has("lesions")
    joined = "\n".join(registry.warnings)
    assert "therapies absent" in joined and "episodes" in joined
    assert "lesions absent" in joined


def test_report_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "report"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "feasibility.cli",
            "report",
            "--data",
            str(DATA),
            "--protocol",
            "anemia-oral-iron",
            "--index-date",
            str(INDEX),
            "--out",
            str(out),
            "--quiet",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr
    html = next(out.glob("*.html")).read_text(encoding="utf-8")
    assert "anemia-oral-iron" in html
    assert "therapies absent" in html  # the report says why the table is absent
    assert (out / "funnel.csv").exists() or any(out.glob("**/funnel*.csv"))
