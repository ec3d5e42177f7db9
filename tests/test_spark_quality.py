"""``validate --engine spark``: the GX suites on GX's Spark execution engine give the pandas
path's statuses, counts and failing rows on the committed sample (real Spark, local mode;
Java 17 and pyspark come with the dev extra and .ci/run: no skip).

Also the Spark session and CLI options: no pyspark at import of the package, one-line
errors for a missing Java, a malformed --spark-conf, Spark options without --engine spark.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from feasibility.errors import FeasibilityError

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data_samples" / "registry"
INDEX = dt.date(2024, 6, 30)
TODAY = dt.date(2026, 1, 1)

#: Summary columns compared between the two paths (everything a reader sees per check).
COMPARED = [
    "check",
    "table",
    "column",
    "condition",
    "expectation",
    "severity",
    "status",
    "element_count",
    "unexpected_count",
    "unexpected_percent",
    "patients_affected",
    "examples",
    "note",
    "source",
]


def _script(tmp_path: Path, code: str, env: dict[str, str] | None = None):
    """Run ``code`` as a script file in a fresh interpreter (no Spark session shared)."""
    path = tmp_path / "probe.py"
    path.write_text(code, encoding="utf-8")
    return subprocess.run(
        [sys.executable, str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        timeout=300,
    )


@pytest.fixture(scope="module")
def both():
    from feasibility.quality import validate_registry
    from feasibility.registry import load_registry

    reg = load_registry(SAMPLE, defer=False)
    pandas_path = validate_registry(reg, index_date=INDEX, today=TODAY)
    spark_path = validate_registry(reg, index_date=INDEX, today=TODAY, engine="spark")
    return pandas_path, spark_path


@pytest.mark.slow
def test_spark_validation_has_the_pandas_statuses_on_the_sample(both):
    pandas_path, spark_path = both
    a = pandas_path.summary.select(COMPARED).sort("check")
    b = spark_path.summary.select(COMPARED).sort("check")
    assert a.height == b.height > 150
    assert a.get_column("check").to_list() == b.get_column("check").to_list()
    # every status kind occurs, so the comparison covers failing and tolerated checks
    statuses = set(a.get_column("status").to_list())
    assert {"passed", "passed_with_failures", "failed"} <= statuses
    assert b.filter(pl.col("status") == "not_evaluated").height == 0
    diff = a.join(b, on="check", suffix="_spark").filter(
        pl.any_horizontal(
            pl.col(c).ne_missing(pl.col(f"{c}_spark")) for c in COMPARED if c != "check"
        )
    )
    assert diff.is_empty(), diff.head(10)


@pytest.mark.slow
def test_spark_validation_lists_the_same_failing_rows(both):
    pandas_path, spark_path = both
    cols = ["check", "table", "row", "patient_id"]
    a = pandas_path.unexpected.select(cols).sort(cols, nulls_last=True)
    b = spark_path.unexpected.select(cols).sort(cols, nulls_last=True)
    assert a.height > 1000
    assert a.equals(b)


@pytest.mark.slow
def test_schema_checks_name_spark_types(both):
    _, spark_path = both
    types = spark_path.summary.filter(pl.col("expectation") == "expect_column_values_to_be_of_type")
    assert types.height > 30
    assert set(types.get_column("status").to_list()) == {"passed"}


def test_unknown_validation_engine_is_an_error():
    from feasibility.quality.runner import _runner

    with pytest.raises(ValueError, match="polars' or 'spark'"):
        _runner("duckdb")


def test_importing_the_package_does_not_import_pyspark(tmp_path):
    done = _script(
        tmp_path,
        "import sys\n"
        "import feasibility, feasibility.spark, feasibility.spark.session, feasibility.cli\n"
        "from feasibility.commands import _options\n"
        "print('pyspark' in sys.modules)\n",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "False"


def test_missing_java_is_one_line(tmp_path):
    done = _script(
        tmp_path,
        "from feasibility.spark.session import get_session\n"
        "from feasibility.errors import FeasibilityError\n"
        "try:\n"
        "    get_session()\n"
        "except FeasibilityError as exc:\n"
        "    print(exc)\n",
        env={"JAVA_HOME": str(tmp_path / "no-java")},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    line = done.stdout.strip()
    assert "\n" not in line
    assert "Java 17" in line and "openjdk-17-jre-headless" in line


def test_spark_conf_is_key_value():
    from feasibility.spark.session import parse_conf

    assert parse_conf(["spark.executor.memory=8g", " a.b = x=y "]) == {
        "spark.executor.memory": "8g",
        "a.b": "x=y",
    }
    with pytest.raises(FeasibilityError, match="expected key=value"):
        parse_conf(["spark.executor.memory"])
    with pytest.raises(FeasibilityError, match="expected key=value"):
        parse_conf(["=8g"])


def test_local_defaults_are_lean():
    from feasibility.spark.session import local_defaults

    local = local_defaults("local[2]")
    assert local["spark.ui.enabled"] == "false"
    assert local["spark.sql.shuffle.partitions"] == "8"
    assert local["spark.sql.execution.arrow.pyspark.enabled"] == "true"
    assert local["spark.driver.memory"].endswith("g")
    cluster = local_defaults("yarn")
    assert "spark.ui.enabled" not in cluster and "spark.driver.memory" not in cluster
    assert cluster["spark.sql.session.timeZone"] == "UTC"


@pytest.mark.parametrize("command", ["screen", "report", "validate"])
def test_spark_options_need_engine_spark(command, tmp_path, capsys):
    from feasibility.cli import main

    args = [command, "--data", str(SAMPLE), "--out", str(tmp_path / "out")]
    if command != "validate":
        args += ["--index-date", "2024-06-30"]
    code = main([*args, "--spark-conf", "spark.executor.memory=2g", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert "--spark-master/--spark-conf need --engine spark" in err
    assert not (tmp_path / "out").exists()


def test_bad_spark_conf_stops_before_reading(tmp_path, capsys):
    from feasibility.cli import main

    out = tmp_path / "out"
    code = main(
        [
            "validate",
            "--data",
            str(tmp_path / "absent"),
            "--out",
            str(out),
            "--engine",
            "spark",
            "--spark-conf",
            "oops",
            "--quiet",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "--spark-conf 'oops': expected key=value" in err


def test_engine_from_args_configures_the_session():
    import argparse

    from feasibility.commands._options import engine_from_args
    from feasibility.spark import session

    saved = dict(session._settings)
    try:
        args = argparse.Namespace(
            engine="spark", spark_master="local[1]", spark_conf=["spark.sql.shuffle.partitions=3"]
        )
        assert engine_from_args(args) == "spark"
        assert session.configured() == ("local[1]", {"spark.sql.shuffle.partitions": "3"})
        args.spark_master = "local[*]"  # the default: left to spark-submit when under it
        engine_from_args(args)
        assert session._settings["master"] is None
    finally:
        session._settings.update(saved)
