"""The ``spark`` engine on real local Spark: the same statuses, funnel and impact as the
polars engine on the committed sample (both myeloma protocols, fixed and event mode), and
bad input stopped with one line naming the table and column."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import feasibility as fz
from feasibility.engine.seam import get_engine
from feasibility.errors import FeasibilityError
from feasibility.spark.engine import SparkEngine

SAMPLE = Path(__file__).resolve().parents[1] / "data_samples" / "registry"
PROTOCOLS = ("pomalidomide-ixazomib-dex", "isatuximab-pomalidomide-dex")
FIXED = dt.date(2024, 6, 30)
EVENTS = fz.IndexEvents(
    table="therapies",
    where="line_number >= 2",
    start=dt.date(2020, 1, 1),
    end=dt.date(2024, 6, 30),
)
MODES = {"fixed": FIXED, "event": EVENTS}


@pytest.fixture(scope="module")
def sample():
    return fz.load_registry(SAMPLE)


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_same_outputs_as_polars_on_the_sample(sample, protocol, mode):
    index = MODES[mode]
    polars = fz.screen(sample, protocol, index)
    spark = fz.screen(sample, protocol, index, engine="spark")
    assert spark.engine.name == "spark"
    assert_frame_equal(spark.patient_status, polars.patient_status)
    assert_frame_equal(spark.funnel(), polars.funnel())
    assert_frame_equal(spark.impact(), polars.impact())


def test_evidence_matches_polars_and_statuses_come_back_unordered(sample):
    """With evidence on, each leaf's truth and found columns are the polars engine's; the
    pairs come back in Spark's order (``ordered=False``) and ``patient_ids`` in registry
    order."""
    protocol = fz.load_protocol("pomalidomide-ixazomib-dex")
    ref = get_engine("polars").run(sample, protocol, FIXED)
    run = SparkEngine(evidence=True).run(sample, protocol, FIXED)
    assert run.ordered is False
    assert_frame_equal(run.patient_ids, ref.patient_ids)
    assert [i.key for v in run.leaves.values() for i in v] == [
        i.key for v in ref.leaves.values() for i in v
    ]
    keys = [i.key for v in run.leaves.values() for i in v]
    cols = ["patient_id"] + [f"__{k}{s}" for k in keys for s in ("", "_found")]
    cols += [c.id for c in protocol.criteria]
    got = ref.patient_ids.join(run.pairs.select(cols), on="patient_id", how="left")
    assert_frame_equal(got, ref.pairs.select(cols))


def _write_csv(root: Path, table: str, text: str) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / f"{table}.csv").write_text(text.strip() + "\n", encoding="utf-8")


PATIENTS = "patient_id,sex,birth_date,death_date\np1,F,1960-01-01,\np2,M,1955-05-05,\n"


def _one_line_error(tmp_path: Path, **tables: str) -> FeasibilityError:
    root = tmp_path / "registry"
    _write_csv(root, "patients", tables.pop("patients", PATIENTS))
    for table, text in tables.items():
        _write_csv(root, table, text)
    protocol = fz.load_protocol("pomalidomide-ixazomib-dex")
    with pytest.raises(FeasibilityError) as info:
        SparkEngine().run(str(root), protocol, FIXED)
    message = str(info.value)
    assert "\n" not in message
    return info.value


def test_unparseable_date_names_table_column_and_row(tmp_path):
    err = _one_line_error(
        tmp_path,
        diagnoses="patient_id,code,diagnosed_on\np1,C90.0,2020-01-01\np2,C90.0,31/12/2020\n",
    )
    assert "'diagnoses'" in str(err) and "'diagnosed_on'" in str(err)
    assert "row 2" in str(err) and "31/12/2020" in str(err)


def test_unparseable_number_names_table_column_and_row(tmp_path):
    err = _one_line_error(
        tmp_path,
        measurements=(
            "patient_id,test,value,unit,measured_on\n"
            "p1,hemoglobin,9.5,g/dL,2024-06-01\np1,hemoglobin,nine,g/dL,2024-06-02\n"
        ),
    )
    assert "'measurements'" in str(err) and "'value'" in str(err) and "row 2" in str(err)


def test_missing_required_column_names_table_and_column(tmp_path):
    err = _one_line_error(tmp_path, therapies="patient_id,regimen,start_date\np1,VRd,2020-01-01\n")
    assert "'therapies'" in str(err) and "'line_number'" in str(err)


def test_missing_patients_table(tmp_path):
    root = tmp_path / "registry"
    _write_csv(root, "diagnoses", "patient_id,code,diagnosed_on\np1,C90.0,2020-01-01\n")
    protocol = fz.load_protocol("pomalidomide-ixazomib-dex")
    with pytest.raises(FeasibilityError, match="patients"):
        SparkEngine().run(str(root), protocol, FIXED)


def test_unreadable_parquet_names_the_table(tmp_path):
    root = tmp_path / "registry"
    _write_csv(root, "patients", PATIENTS)
    (root / "lesions.parquet").write_bytes(b"PAR1 this is not a parquet file")
    protocol = fz.load_protocol("pomalidomide-ixazomib-dex")
    with pytest.raises(FeasibilityError) as info:
        SparkEngine().run(str(root), protocol, FIXED)
    assert "lesions" in str(info.value) and "\n" not in str(info.value)


def test_bad_index_filter_is_the_polars_message(sample):
    protocol = fz.load_protocol("pomalidomide-ixazomib-dex")
    events = fz.IndexEvents(table="therapies", where="line_number >= 2")
    object.__setattr__(events, "where", "line >= 2")  # as if built without the check
    with pytest.raises(FeasibilityError, match="therapies has no column 'line'"):
        SparkEngine().run(sample, protocol, events)


@pytest.mark.parametrize("per_row", [False, True], ids=["per-distinct-value", "per-row"])
def test_a_registry_directory_path_is_read_by_spark(tmp_path, monkeypatch, per_row):
    """A path (no polars loader at all): the CSV tables are typed and normalised by Spark
    (spellings, units, duplicate patient rows), with the polars answer on the same files;
    text normalised once per distinct value (the default) or, for columns with more
    distinct values than ``DISTINCT_LIMIT``, row by row: the same answers."""
    from feasibility.spark import read

    if per_row:
        monkeypatch.setattr(read, "DISTINCT_LIMIT", 0)
    root = tmp_path / "registry"
    _write_csv(
        root,
        "patients",
        "patient_id,sex,birth_date,death_date\n p1 ,f,1960-01-01,\np2,M,1955-05-05,\n"
        "p2,F,1955-05-05,\np3,U,1950-01-01,2024-01-01\n",
    )
    _write_csv(
        root,
        "measurements",
        "patient_id,test,value,unit,measured_on\n"
        "p1, Hemoglobin ,95,g/L,2024-06-20\np2,hemoglobin,7.5,g/dL,2024-06-20\n"
        "p2,hemoglobin,300,g/dL,2024-06-25\np3,hemoglobin,9,mmol/L,2024-06-20\n",
    )
    _write_csv(
        root,
        "medications",
        "patient_id,drug,route,start_date,end_date\n"
        "p1,Rifadin,oral,2024-06-01,\np2,  KETOCONAZOLE ,Topical,2024-06-01,\n",
    )
    protocol = fz.load_protocol("pomalidomide-ixazomib-dex")
    spark = SparkEngine().run(str(root), protocol, FIXED)
    polars = get_engine("polars").run(fz.load_registry(root), protocol, FIXED)
    assert spark.patient_ids["patient_id"].to_list() == ["p1", "p2", "p3"]
    cols = [c.id for c in protocol.criteria]
    got = spark.patient_ids.join(spark.pairs, on="patient_id", how="left").select(cols)
    assert_frame_equal(got, polars.pairs.select(cols))
    statuses = dict(zip(spark.pairs["patient_id"], spark.pairs["hemoglobin"], strict=True))
    assert statuses == {"p1": True, "p2": False, "p3": None}
    assert pl.Series(spark.pairs["cyp_interacting_drugs"]).to_list().count(False) == 1


def test_relax_reuses_the_spark_tables(sample):
    """relax hands the engine its state back (the Spark tables, not read again) and gives
    the polars answer."""
    polars = fz.screen(sample, "pomalidomide-ixazomib-dex", FIXED)
    spark = fz.screen(sample, "pomalidomide-ixazomib-dex", FIXED, engine="spark")
    relaxed_polars = polars.relax("hemoglobin", threshold=7.0, window=60)
    relaxed_spark = spark.relax("hemoglobin", threshold=7.0, window=60)
    assert relaxed_spark._state is spark._state
    assert_frame_equal(relaxed_spark.patient_status, relaxed_polars.patient_status)
    assert_frame_equal(relaxed_spark.funnel(), relaxed_polars.funnel())


def test_evidence_written_by_spark_as_parquet(tmp_path):
    """``evidence_path``: Spark writes statuses and leaf evidence as Parquet; only the
    statuses come back to the driver."""
    root = tmp_path / "registry"
    _write_csv(root, "patients", PATIENTS)
    _write_csv(
        root,
        "measurements",
        "patient_id,test,value,unit,measured_on\np1,hemoglobin,9.5,g/dL,2024-06-20\n",
    )
    protocol = fz.load_protocol("pomalidomide-ixazomib-dex")
    out = tmp_path / "evidence"
    run = SparkEngine(evidence_path=str(out)).run(str(root), protocol, FIXED)
    assert run.leaves == {} and not any(c.startswith("__") for c in run.pairs.columns)
    written = pl.read_parquet(out / "*.parquet")
    assert {"__L0", "__L0_found", "__L0_value", "__L0_date", "__L0_detail"} <= set(written.columns)
    cols = ["patient_id", *[c.id for c in protocol.criteria]]
    assert_frame_equal(
        written.select(cols).sort("patient_id"), run.pairs.select(cols).sort("patient_id")
    )


def test_index_events_filtered_on_a_normalised_tables_raw_column(sample):
    """Event mode with ``--index-where`` on medications.drug: the medications frame keeps
    the drug name as recorded beside its canonical name (normalised once per distinct
    value), so the filter reads what polars reads and the statuses are polars'."""
    events = fz.IndexEvents(
        table="medications",
        where="drug == 'zoledronic acid'",
        start=dt.date(2020, 1, 1),
        end=dt.date(2024, 6, 30),
    )
    polars = fz.screen(sample, "pomalidomide-ixazomib-dex", events)
    spark = fz.screen(sample, "pomalidomide-ixazomib-dex", events, engine="spark")
    assert polars.patient_status.height > 100  # the filter found index events
    assert_frame_equal(spark.patient_status, polars.patient_status)
