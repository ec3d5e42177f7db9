"""Data over time: coverage_by_month counts, the data cut-off, tail-drop and gap findings
naming the criteria whose windows they touch, and the coverage chart."""

from __future__ import annotations

import datetime as dt

import altair as alt
import polars as pl
import pytest

from feasibility.charts_quality import coverage_chart
from feasibility.protocol import load_protocol
from feasibility.quality.timeline import coverage_by_month, data_cutoff, timeline_findings


def _months(n: int, start: dt.date = dt.date(2022, 1, 1)) -> list[dt.date]:
    out, m = [], start
    for _ in range(n):
        out.append(m)
        m = (m.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return out


def _series(counts: list[int], selector: str = "hemoglobin") -> pl.DataFrame:
    months = _months(len(counts))
    return pl.DataFrame(
        {
            "table": ["measurements"] * len(counts),
            "selector": [selector] * len(counts),
            "month": months,
            "rows": counts,
            "patients": counts,
        }
    )


@pytest.fixture(scope="module")
def protocol():
    return load_protocol("pomalidomide-ixazomib-dex")


def test_a_drop_before_the_cutoff_names_the_criteria_whose_windows_reach_it(protocol):
    cov = _series([100] * 20 + [90, 30, 20])  # 2022-01 .. 2023-11
    cutoff = dt.date(2023, 11, 30)
    near = timeline_findings(cov, cutoff, protocol=protocol, index_span=(cutoff, cutoff))
    (f,) = near
    assert f["check"] == "timeline.measurements[hemoglobin].tail_drop"
    assert f["criteria"] == "hemoglobin" and "2023-10, 2023-11" in f["examples"]
    far = timeline_findings(
        cov, cutoff, protocol=protocol, index_span=(dt.date(2022, 6, 1), dt.date(2022, 12, 31))
    )
    assert far[0]["criteria"] is None  # 30-day windows ending in 2022 never reach 2023-10


def test_steady_series_has_no_finding_and_a_gap_is_one(protocol):
    cutoff = dt.date(2023, 11, 30)
    assert timeline_findings(_series([100] * 23), cutoff, protocol=protocol) == []
    counts = [100] * 23
    counts[10] = 0
    (gap,) = timeline_findings(_series(counts), cutoff, protocol=protocol)
    assert gap["check"].endswith(".gap") and "2022-11" in gap["examples"]
    assert gap["criteria"] == "hemoglobin"  # no index span: every reader of the field


def test_the_month_holding_the_cutoff_is_prorated(protocol):
    # 50 rows in the first 15 days of November is a full month's pace, not a drop
    cov = _series([100] * 22 + [50])
    assert timeline_findings(cov, dt.date(2023, 11, 15), protocol=protocol) == []


def test_coverage_counts_usable_rows_and_patients_per_month(tmp_path):
    from feasibility.registry import load_registry

    (tmp_path / "patients.csv").write_text(
        "patient_id,sex,birth_date,race,ethnicity,site,death_date\n"
        "P1,F,1950-01-01,,,A,\nP2,M,1950-01-01,,,A,\n"
    )
    (tmp_path / "measurements.csv").write_text(
        "patient_id,test,value,unit,measured_on\n"
        "P1,hemoglobin,10,g/dL,2024-06-20\nP1,hemoglobin,11,g/dL,2024-06-21\n"
        "P2,hemoglobin,9,g/dL,2024-06-02\nP2,hemoglobin,6,mmol/L,2024-06-03\n"
        "P2,anc,1500,/mm3,2024-05-01\n"
    )
    reg = load_registry(tmp_path)
    cov = coverage_by_month(reg, dt.date(2025, 1, 1))
    june = cov.filter(pl.col("month") == dt.date(2024, 6, 1))
    whole = june.filter(pl.col("selector").is_null()).row(0, named=True)
    assert (whole["rows"], whole["patients"]) == (3, 2)  # the mmol/L row is not usable
    hb = june.filter(pl.col("selector") == "hemoglobin").row(0, named=True)
    assert (hb["rows"], hb["patients"]) == (3, 2)
    assert data_cutoff(cov, reg) == dt.date(2024, 6, 21)


def test_coverage_chart_marks_the_index_window_and_the_cutoff():
    cov = pl.concat([_series([100] * 23).with_columns(pl.lit(None, pl.String).alias("selector"))])
    chart = coverage_chart(
        cov,
        cutoff=dt.date(2023, 11, 30),
        index_span=(dt.date(2023, 1, 1), dt.date(2023, 6, 30)),
    )
    assert isinstance(chart, alt.VConcatChart)
    spec = chart.to_dict()
    marks = [layer["mark"]["type"] for layer in spec["vconcat"][0]["layer"]]
    assert marks == ["rect", "line", "rule"]
    assert "cut-off 2023-11-30" in spec["title"]["text"]
