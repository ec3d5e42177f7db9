"""The report's data-quality section as a PI reads it, and the tables written beside it:
per-criterion first, readable findings, GX detail folded, stable ids, disclosure."""

from __future__ import annotations

import datetime as dt
import re

import polars as pl
import pytest
from _report_helpers import screen_registry, write_registry

from feasibility.quality import validate_registry
from feasibility.report import build_report

T = 10


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("qreport")
    path = write_registry(root / "registry", n=600, seed=3)
    registry, protocol, result = screen_registry(path)
    validation = validate_registry(registry, index_date=dt.date(2024, 6, 30))
    out = root / "out"
    page = build_report(
        out, protocol, result, registry=registry, validation=validation, threshold=T
    )
    html = page.read_text(encoding="utf-8")
    start = html.index('<section id="quality"')
    section = html[start : html.index("</section>", start)]
    return out, section, protocol


def test_the_section_opens_with_what_affects_the_funnel(built):
    _, section, _ = built
    order = [section.index(h) for h in ("What affects the funnel", "Data over time", "Findings")]
    assert order == sorted(order)
    assert any(f">{b}</span>" in section for b in ("ready", "partly", "structurally missing"))


def test_findings_have_readable_names_and_gx_detail_is_folded(built):
    out, section, _ = built
    head, _, folded = section.partition("Great Expectations detail")
    visible = re.sub(r"<details.*?</details>", "", head, flags=re.S)
    assert "expect_column_values" not in visible  # GX names only inside <details>
    assert "expect_column_values" in folded
    dq = pl.read_csv(out / "data_quality.csv", infer_schema_length=None)
    found = dq.filter(pl.col("status") == "failed", pl.col("severity") != "info")
    assert found.height > 0
    import html as h

    for title in found.get_column("title").to_list():
        assert h.escape(title) in visible, title


def test_data_quality_csv_has_stable_ids_stamps_and_one_percent_scale(built):
    out, _, _ = built
    dq = pl.read_csv(out / "data_quality.csv", infer_schema_length=None)
    for col in ("check", "run_date", "index_settings", "title", "rows_affected",
                "rows_affected_pct", "patients_affected", "tolerance_pct", "criteria"):  # fmt: skip
        assert col in dq.columns, col
    assert dq.get_column("check").n_unique() == dq.height
    assert dq.get_column("run_date").n_unique() == 1
    pct = dq.get_column("rows_affected_pct").drop_nulls()
    assert pct.is_empty() or (pct.min() >= 0 and pct.max() <= 100)
    assert dq.get_column("tolerance_pct").drop_nulls().max() <= 100


def test_no_small_count_leaves_in_the_quality_tables(built):
    out, _, _ = built
    dq = pl.read_csv(out / "data_quality.csv", infer_schema_length=None)
    for col in ("rows_affected", "patients_affected"):
        shown = dq.get_column(col).drop_nulls()
        assert not shown.is_between(1, T).any(), col
    cov = pl.read_csv(out / "coverage_by_month.csv", infer_schema_length=None)
    for col in ("rows", "patients"):
        assert not cov.get_column(col).drop_nulls().is_between(1, T).any(), col
    crit = pl.read_csv(out / "quality_by_criterion.csv", infer_schema_length=None)
    for col in (
        "decided",
        "unknown_set_aside",
        "unknown_not_in_window",
        "with_record",
        "could_flip",
    ):
        assert not crit.get_column(col).drop_nulls().is_between(1, T).any(), col


def test_criteria_affected_are_the_protocols(built):
    out, _, protocol = built
    dq = pl.read_csv(out / "data_quality.csv", infer_schema_length=None)
    ids = {c.id for c in protocol.criteria}
    named = {x.strip() for v in dq.get_column("criteria").drop_nulls() for x in v.split(";")}
    assert named and named <= ids
