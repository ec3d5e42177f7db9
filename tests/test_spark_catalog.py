"""Registry tables of a Spark catalog (``CatalogRegistry``, ``screen --spark-database`` /
``--spark-tables``) on real local Spark: the committed sample saved as catalog tables
(``saveAsTable`` into databases whose location is a temporary directory) gives the
statuses of the same tables read as files, and bad input stops with one line naming the
table and column, as with files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from polars.testing import assert_frame_equal

import feasibility as fz
from feasibility.cli import main
from feasibility.errors import FeasibilityError
from feasibility.spark.engine import SparkEngine
from feasibility.spark.read import CatalogRegistry
from feasibility.spark.session import get_session

SAMPLE = Path(__file__).resolve().parents[1] / "data_samples" / "registry"
FIXED = dt.date(2024, 6, 30)
DB, BAD = "feasibility_test_registry", "feasibility_test_bad"


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    """The sample's tables saved in database DB (and patients once more as
    ``patients_copy``); database BAD for bad input. Both live in a temporary directory."""
    spark = get_session()
    root = tmp_path_factory.mktemp("warehouse")
    for db in (DB, BAD):
        spark.sql(f"DROP DATABASE IF EXISTS {db} CASCADE")
        spark.sql(f"CREATE DATABASE {db} LOCATION '{root / db}'")
    for f in sorted(SAMPLE.glob("*.parquet")):
        spark.read.parquet(str(f)).write.saveAsTable(f"{DB}.{f.stem}")
    spark.table(f"{DB}.patients").write.saveAsTable(f"{DB}.patients_copy")
    yield spark
    for db in (DB, BAD):
        spark.sql(f"DROP DATABASE IF EXISTS {db} CASCADE")


def test_catalog_tables_give_the_statuses_of_the_files(spark):
    protocol = "pomalidomide-ixazomib-dex"
    catalog = fz.screen(CatalogRegistry(DB), protocol, FIXED, engine="spark")
    files = fz.screen(str(SAMPLE), protocol, FIXED, engine="spark")
    assert_frame_equal(catalog.patient_status, files.patient_status)
    polars = fz.screen(fz.load_registry(SAMPLE), protocol, FIXED)
    assert_frame_equal(catalog.patient_status, polars.patient_status)


def test_screen_cli_on_catalog_tables_aggregates_only(spark, tmp_path):
    """``--spark-database`` with ``--spark-tables`` overriding one table, event mode,
    aggregates only: the polars engine's funnel.csv and impact.csv on the files."""
    index = ["--index-events", "therapies", "--index-where", "line_number >= 2"]
    common = ["screen", "--protocol", "isatuximab-pomalidomide-dex", *index, "--quiet"]
    assert main([*common, "--data", str(SAMPLE), "--out", str(tmp_path / "polars")]) == 0
    catalog = ["--spark-database", DB, "--spark-tables", f"patients={DB}.patients_copy"]
    spark_args = ["--engine", "spark", "--spark-aggregates-only", *catalog]
    assert main([*common, *spark_args, "--out", str(tmp_path / "spark")]) == 0
    for name in ("funnel.csv", "impact.csv"):
        assert (tmp_path / "spark" / name).read_bytes() == (tmp_path / "polars" / name).read_bytes()


def _error(registry: CatalogRegistry) -> str:
    with pytest.raises(FeasibilityError) as info:
        SparkEngine().run(registry, fz.load_protocol("pomalidomide-ixazomib-dex"), FIXED)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_a_named_table_that_does_not_exist_is_named(spark):
    message = _error(CatalogRegistry(DB, {"measurements": f"{DB}.labs"}))
    assert "'measurements'" in message and f"{DB}.labs does not exist" in message


def test_a_database_without_patients_is_named(spark):
    message = _error(CatalogRegistry(BAD))
    assert "'patients'" in message and f"{BAD}.patients does not exist" in message


def test_missing_required_column_names_table_and_column(spark):
    spark.createDataFrame([("p1", "F")], "patient_id string, sex string").write.mode(
        "overwrite"
    ).saveAsTable(f"{BAD}.no_birth")
    message = _error(CatalogRegistry(tables={"patients": f"{BAD}.no_birth"}))
    assert "'patients'" in message and "'birth_date'" in message and f"{BAD}.no_birth" in message


def test_unparseable_value_names_table_column_and_row(spark):
    """Text columns of a catalog table are parsed like a CSV file's."""
    rows = [("p1", "C90.0", "2020-01-01"), ("p2", "C90.0", "31/12/2020")]
    schema = "patient_id string, code string, diagnosed_on string"
    spark.createDataFrame(rows, schema).coalesce(1).write.mode("overwrite").saveAsTable(
        f"{BAD}.dx_text"
    )
    registry = CatalogRegistry(DB, {"diagnoses": f"{BAD}.dx_text"})
    message = _error(registry)
    assert "'diagnoses'" in message and "'diagnosed_on'" in message
    assert "row 2" in message and "31/12/2020" in message and f"{BAD}.dx_text" in message


def test_unknown_table_key_and_other_engines_are_refused(spark):
    with pytest.raises(FeasibilityError, match="'patient' is not a registry table"):
        CatalogRegistry(tables={"patient": f"{DB}.patients"})
    with pytest.raises(FeasibilityError, match="Spark engine only"):
        fz.screen(CatalogRegistry(DB), "pomalidomide-ixazomib-dex", FIXED)
