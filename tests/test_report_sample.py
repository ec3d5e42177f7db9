"""The README's main job on the committed sample: the report is informative (the funnel
shows a number wherever the contract allows one, every big exclusion is shown), event
mode screens the patients with an index event, and the headline has a time frame."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest

from feasibility.cli import main
from feasibility.disclosure import Policy

SAMPLE = Path(__file__).resolve().parents[1] / "data_samples" / "registry"
MAIN_JOB = [
    "report",
    "--data",
    str(SAMPLE),
    "--protocol",
    "pomalidomide-ixazomib-dex",
    "--index-events",
    "therapies",
    "--index-where",
    "line_number >= 2",
    "--index-from",
    "2022-01-01",
    "--index-to",
    "2024-12-31",
]
COUNTS = ("remaining", "remaining_with_unknown", "excluded")


@pytest.fixture(scope="module")
def main_job(tmp_path_factory):
    out = tmp_path_factory.mktemp("main") / "out"
    assert main([*MAIN_JOB, "--out", str(out), "--quiet"]) == 0
    import datetime as dt

    from feasibility.engine import IndexEvents, screen
    from feasibility.protocol import load_protocol
    from feasibility.registry import load_registry

    result = screen(
        load_registry(SAMPLE),
        load_protocol("pomalidomide-ixazomib-dex"),
        IndexEvents(
            table="therapies",
            where="line_number >= 2",
            start=dt.date(2022, 1, 1),
            end=dt.date(2024, 12, 31),
        ),
    )
    return out, result


def test_funnel_shows_a_number_wherever_allowed(main_job) -> None:
    out, result = main_job
    shown = pl.read_csv(out / "funnel.csv")
    true = result.funnel()
    cells = numeric = 0
    for s, t in zip(shown.iter_rows(named=True), true.iter_rows(named=True), strict=True):
        for c in COUNTS:
            cells += 1
            if s[c] is not None:
                numeric += 1
                assert s[c] == Policy().show(t[c])
            else:
                # the only cells without a number are counts of 1..10, drawn as "≤10"
                assert 1 <= t[c] <= 10 and s[f"{c}_suppressed"]
        if t["excluded"] >= 50:
            assert s["excluded"] is not None and s["excluded"] >= 50, s
    share = numeric / cells
    print(f"funnel cells with a rounded number: {numeric}/{cells} = {share:.1%}; the rest read ≤10")
    assert share >= 0.8
    html = (out / "report.html").read_text(encoding="utf-8")
    assert ">hidden<" not in html and "n = hidden" not in html
    section = html.split('<section id="funnel">')[1].split("</section>")[0]
    assert section.count('<td class="num hidden-cell">≤10</td>') == cells - numeric


def test_event_mode_screens_patients_with_an_index_event(main_job) -> None:
    out, result = main_job
    funnel = pl.read_csv(out / "funnel.csv")
    assert funnel["criterion"].to_list()[:2] == ["registry", "index_event"]
    impact = pl.read_csv(out / "impact.csv")
    assert "index_event" not in impact["criterion"].to_list()
    n_indexed = int(result.funnel()["remaining"][1])
    # no criterion is unknown for the thousands without an index event any more
    assert impact["unknown"].drop_nulls().max() <= Policy().show(n_indexed)
    alive = impact.filter(pl.col("criterion") == "alive_at_index").row(0, named=True)
    assert alive["unknown"] in (0, None)
    cohort = pl.read_csv(out / "cohort.csv")
    assert "No index date" not in cohort["level"].to_list()
    step0 = cohort.filter((pl.col("variable") == "sex") & (pl.col("step") == 0))
    assert step0["count"].sum() <= Policy().show(n_indexed) + 5 * step0.height
    html = (out / "report.html").read_text(encoding="utf-8")
    assert html.count("patients with an index event, each at their index date") >= 3
    # readiness of alive_at_index (the first criterion) over indexed patients, not 23.5%
    m = re.search(r"decided for (\d+(?:\.\d)?)% of screened patients", html)
    assert m and float(m.group(1)) > 50


def test_headline_per_year_in_whole_patients(main_job) -> None:
    out, result = main_job
    html = (out / "report.html").read_text(encoding="utf-8")
    summary = html.split('<section id="protocol">')[0]
    assert "Index events from <strong>2022-01-01</strong> to <strong>2024-12-31</strong>" in summary
    assert "eligible patients per year" in summary and "expected enrolments per year" in summary
    assert not re.search(r"≈ [0-9,]+\.[0-9]", summary)  # no fractional patients
    eligible = Policy().show(int(result.funnel()["remaining"][-1]))
    years = (365 + 365 + 366) / 365.25  # 2022-01-01..2024-12-31 inclusive
    per_year = round(eligible / years)
    assert f"<strong>{per_year}</strong> eligible patients per year" in summary


def test_target_gives_months_with_an_interval(tmp_path) -> None:
    out = tmp_path / "out"
    args = [*MAIN_JOB, "--out", str(out), "--quiet", "--no-validation", "--target", "20"]
    assert main(args) == 0
    html = (out / "report.html").read_text(encoding="utf-8")
    m = re.search(r"Target of <strong>20</strong> patients: about <strong>(\d+) months", html)
    assert m, html.split('<section id="protocol">')[0][-1500:]
    assert "95% interval" in html and "Poisson" in html
