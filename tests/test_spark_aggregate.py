"""Funnel and impact aggregated in Spark, and ``screen --engine spark
--spark-aggregates-only`` on real local Spark: funnel.csv and impact.csv byte-identical to
the polars engine's on the committed sample (both myeloma protocols, fixed and event mode),
patient_status written by Spark as Parquet with the polars statuses, and what the
aggregates-only result offers and refuses. (The same identity on the 50,000-patient
registry: ``benchmarks/check_spark_aggregates.py``.)"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import feasibility as fz
from feasibility.cli import main
from feasibility.errors import FeasibilityError
from feasibility.spark.aggregate import AggregatesResult
from feasibility.spark.engine import SparkEngine

SAMPLE = Path(__file__).resolve().parents[1] / "data_samples" / "registry"
PROTOCOLS = ("pomalidomide-ixazomib-dex", "isatuximab-pomalidomide-dex")
FIXED = dt.date(2024, 6, 30)
EVENT_ARGS = [
    "--index-events",
    "therapies",
    "--index-where",
    "line_number >= 2",
    "--index-from",
    "2020-01-01",
    "--index-to",
    "2024-06-30",
]
MODES = {"fixed": ["--index-date", FIXED.isoformat()], "event": EVENT_ARGS}


def _index(mode: str):
    if mode == "fixed":
        return FIXED
    return fz.IndexEvents(
        table="therapies",
        where="line_number >= 2",
        start=dt.date(2020, 1, 1),
        end=dt.date(2024, 6, 30),
    )


def _screen(out: Path, protocol: str, mode: str, *extra: str) -> None:
    argv = ["screen", "--data", str(SAMPLE), "--protocol", protocol, *MODES[mode]]
    assert main([*argv, "--out", str(out), "--quiet", *extra]) == 0


@pytest.fixture(scope="module")
def sample():
    return fz.load_registry(SAMPLE)


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_aggregates_only_files_are_the_polars_files(tmp_path, sample, protocol, mode):
    """funnel.csv and impact.csv byte for byte; patient_status.parquet (written by Spark,
    any row order) holds the polars patient_status; nothing per patient in OUT besides."""
    _screen(tmp_path / "polars", protocol, mode)
    _screen(tmp_path / "spark", protocol, mode, "--engine", "spark", "--spark-aggregates-only")
    for name in ("funnel.csv", "impact.csv"):
        assert (tmp_path / "spark" / name).read_bytes() == (tmp_path / "polars" / name).read_bytes()
    files = sorted(p.name for p in (tmp_path / "spark").iterdir() if not p.name.startswith("."))
    assert files == ["funnel.csv", "impact.csv", "patient_status.parquet"]
    written = pl.read_parquet(tmp_path / "spark" / "patient_status.parquet" / "*.parquet")
    expected = fz.screen(sample, protocol, _index(mode)).patient_status
    assert_frame_equal(written.sort("patient_id"), expected.sort("patient_id"))


@pytest.fixture(scope="module")
def aggregates(tmp_path_factory):
    path = tmp_path_factory.mktemp("statuses") / "patient_status"
    engine = SparkEngine(aggregates_only=True, status_path=str(path))
    result = fz.screen(SAMPLE, "pomalidomide-ixazomib-dex", FIXED, engine=engine)
    return result, path


def test_the_aggregates_result_offers_funnel_impact_counts_and_reorder(sample, aggregates):
    result, path = aggregates
    polars = fz.screen(sample, "pomalidomide-ixazomib-dex", FIXED)
    assert isinstance(result, AggregatesResult) and result.status_path == str(path)
    assert (result.n_patients, result.n_eligible) == (polars.n_patients, polars.n_eligible)
    order = ["measurable_disease", "ecog"]
    # another order: one more Spark aggregation over the written statuses
    assert_frame_equal(result.funnel(order), polars.funnel(order))
    assert_frame_equal(result.reorder(order).funnel(), polars.reorder(order).funnel())
    assert_frame_equal(result.impact(), polars.impact())
    assert result.steps == polars.steps and result.criterion_ids == polars.criterion_ids


@pytest.mark.parametrize(
    "call",
    [
        lambda r: r.patient_status,
        lambda r: r.why("P0001"),
        lambda r: r.evidence(),
        lambda r: r.deciding_values("hemoglobin"),
        lambda r: r.without("ecog"),
        lambda r: r.relax("hemoglobin", threshold=7.0),
    ],
    ids=["patient_status", "why", "evidence", "deciding_values", "without", "relax"],
)
def test_what_needs_statuses_stops_with_one_line_naming_where_they_are(aggregates, call):
    result, path = aggregates
    with pytest.raises(FeasibilityError) as info:
        call(result)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_aggregates_only_needs_a_status_path():
    engine = SparkEngine(aggregates_only=True)
    with pytest.raises(FeasibilityError, match="status_path"):
        fz.screen(SAMPLE, "pomalidomide-ixazomib-dex", FIXED, engine=engine)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--spark-aggregates-only"], "need --engine spark"),
        (["--engine", "spark", "--spark-status-path", "x"], "goes with --spark-aggregates-only"),
        (["--engine", "spark", "--spark-database", "db"], "not both"),
        (["--engine", "spark", "--spark-tables", "patients"], "expected TABLE=NAME"),
        (
            ["--engine", "spark", "--spark-master", "yarn", "--spark-aggregates-only"],
            "give --spark-status-path",
        ),
    ],
)
def test_bad_spark_screen_options_stop_before_any_data_is_read(
    tmp_path, capsys, monkeypatch, extra, message
):
    from feasibility.spark import session

    # --spark-master is recorded for later sessions (session.configure): restore it after
    for key in ("master", "conf"):
        monkeypatch.setitem(session._settings, key, session._settings[key])
    argv = ["screen", "--data", str(SAMPLE), "--index-date", "2024-06-30"]
    assert main([*argv, "--out", str(tmp_path / "o"), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


def test_no_data_and_no_catalog_is_an_error(tmp_path, capsys):
    assert main(["screen", "--index-date", "2024-06-30", "--out", str(tmp_path / "o")]) == 2
    assert "give --data" in capsys.readouterr().err


@pytest.mark.parametrize("event_mode", [False, True], ids=["fixed", "event"])
def test_per_patient_and_aggregate_are_pick_index_funnel_and_impact(event_mode):
    """On hand-made pairs (random pass/fail/unknown, several indexes a patient, patients
    without an index): the Spark choice of index, funnel in two orders, impact and counts
    are ScreenResult's from the same pairs."""
    from feasibility.results import ScreenResult
    from feasibility.spark.aggregate import (
        aggregate,
        funnel_frame,
        impact_frame,
        per_patient,
        status_frame,
    )
    from feasibility.spark.session import get_session

    rng = random.Random(13)
    protocol = fz.load_protocol("pomalidomide-ixazomib-dex")
    criteria = [c.id for c in protocol.criteria]
    steps = tuple(protocol.steps[:4])
    index = _index("event") if event_mode else FIXED
    if event_mode:
        steps = ("index_event", *steps)
    ids = [f"p{i:02d}" for i in range(40)]
    rows = []
    for pid in ids:
        n = rng.choice([0, 1, 2, 3, 3]) if event_mode else 1
        days = rng.sample(range(0, 400, 10), n)
        for d in days:
            row = {"patient_id": pid, "index_date": dt.date(2023, 1, 1) + dt.timedelta(days=d)}
            for c in criteria:
                row[c] = rng.choices([True, None, False], weights=[8, 1, 1])[0]
            rows.append(row)
    schema = {"patient_id": pl.String, "index_date": pl.Date, **dict.fromkeys(criteria, pl.Boolean)}
    pairs = pl.DataFrame(rows, schema=schema, orient="row")
    patient_ids = pl.DataFrame({"patient_id": ids})
    expected = ScreenResult(
        protocol=protocol,
        pairs=pairs,
        patient_ids=patient_ids,
        leaves={},
        index=index,
        engine=None,  # type: ignore[arg-type]
        registry=None,
        state=None,
        steps=steps,
    )
    spark = get_session()
    sdf = spark.createDataFrame(pairs.to_arrow())
    patients = spark.createDataFrame(patient_ids.to_arrow())
    wide = per_patient(sdf, patients, criteria, steps, event_mode).cache()
    got = pl.from_arrow(status_frame(wide, criteria, steps, event_mode).toArrow())
    assert isinstance(got, pl.DataFrame)
    assert_frame_equal(got.sort("patient_id"), expected.patient_status.sort("patient_id"))
    counts = aggregate(wide, steps, statuses=False)
    assert (counts.n, counts.eligible) == (expected.n_patients, expected.n_eligible)
    assert_frame_equal(funnel_frame(counts, expected.label), expected.funnel())
    assert_frame_equal(impact_frame(counts, steps, expected.label), expected.impact())
    order = tuple(reversed(steps))
    again = aggregate(wide, steps, order, statuses=False)
    assert_frame_equal(funnel_frame(again, expected.label), expected.funnel(list(order)))
