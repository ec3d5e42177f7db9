"""Registry strings are inert everywhere in the report: a registry full of hostile site,
race and ethnicity names renders every chart and every section in headless Chromium, the
chart JSON carries no raw <, > or &, and CSV cells that a spreadsheet would run as a
formula are neutralised (OWASP)."""

from __future__ import annotations

import json
import re

import polars as pl
import pytest
from _report_helpers import (
    chromium,
    dump_dom,
    render_in_chromium,
    screen_registry,
    write_registry,
)

from feasibility import csvsafe
from feasibility.quality import validate_registry
from feasibility.report import build_report

HOSTILE = [
    "<!--<script>",
    "</script><script>alert(1)</script>",
    '=HYPERLINK("http://evil.example","click")',
    "+cmd|' /C calc'!A1",
    "@SUM(1+1)",
    "-2+3",
    "\tTabbed",
    "&amp; <b>bold</b> \u2028 line",
]


def _hostile_registry(tmp_path):
    reg = write_registry(tmp_path / "reg", n=400, seed=13)
    pats = pl.read_csv(reg / "patients.csv", infer_schema_length=0)
    n = pats.height
    pats = pats.with_columns(
        pl.Series("site", [HOSTILE[i % len(HOSTILE)] for i in range(n)]),
        pl.Series("race", [HOSTILE[(i + 3) % len(HOSTILE)] for i in range(n)]),
        pl.Series("ethnicity", [HOSTILE[(i + 5) % len(HOSTILE)] for i in range(n)]),
    )
    pats.write_csv(reg / "patients.csv")
    return reg


def test_csv_neutralise() -> None:
    df = pl.DataFrame({"s": ["=1+1", "+a", "-b", "@c", "\td", "\re", "ok", None], "n": range(8)})
    got = csvsafe.neutralise(df)
    assert got["s"].to_list() == ["'=1+1", "'+a", "'-b", "'@c", "'\td", "'\re", "ok", None]
    assert got["n"].to_list() == list(range(8))  # numbers untouched


@pytest.mark.slow
def test_hostile_strings_are_inert(tmp_path) -> None:
    chromium()
    registry, protocol, result = screen_registry(_hostile_registry(tmp_path))
    validation = validate_registry(registry, index_date=result.index)
    out = tmp_path / "out"
    html_path = build_report(out, protocol, result, registry=registry, validation=validation)
    html = html_path.read_text(encoding="utf-8")
    specs = re.findall(
        r'<script type="application/json" id="spec-[^"]+">(.*?)</script>', html, re.S
    )
    assert len(specs) >= 6
    for s in specs:
        assert "<" not in s and ">" not in s and "&" not in s
        json.loads(s)
    assert "<!--<script>" not in html and "<b>bold</b>" not in html
    # the hostile names reach the page, escaped
    assert "&lt;!--&lt;script&gt;" in html
    status = render_in_chromium(html_path, tmp_path)
    status.pop("console")
    assert status.get("done") is True, status
    assert status["errors"] == [], status["errors"]
    assert {"funnel", "consort", "impact", "cohort", "drift", "quality"} <= set(status["charts"])
    for chart_id, s in status["charts"].items():
        assert s["rendered"] and s["marks"] > 0, (chart_id, s)
    # every section after the cohort chart is still in the page
    dom = dump_dom(html_path, tmp_path)
    for sid in ("cohort", "thresholds", "quality", "provenance", "method"):
        assert f'<section id="{sid}">' in dom, sid
    for name in ("cohort.csv", "cohort_comparison.csv"):
        levels = pl.read_csv(out / name, infer_schema_length=0)["level"].drop_nulls().to_list()
        bad = [v for v in levels if v[:1] in ("=", "+", "-", "@", "\t", "\r")]
        assert not bad, (name, bad)
        assert any(v.startswith("'=HYPERLINK") for v in levels)
