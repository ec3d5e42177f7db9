"""The report in a real browser (headless Chromium, networking off): every chart renders
with drawn marks, no script error, and a screenshot is produced."""

from __future__ import annotations

import pytest
from _report_helpers import chromium, render_in_chromium, screen_registry, write_registry

from feasibility.quality import validate_registry
from feasibility.report import build_report

pytestmark = pytest.mark.slow


def test_report_renders_offline_in_chromium(tmp_path) -> None:
    chromium()  # no browser: skipped with a banner and the install command; fails under CI
    registry, protocol, result = screen_registry(write_registry(tmp_path / "reg", n=500, seed=11))
    validation = validate_registry(registry, index_date=result.index)
    html = build_report(
        tmp_path / "out", protocol, result, registry=registry, validation=validation
    )
    shot = tmp_path / "report.png"
    status = render_in_chromium(html, tmp_path, screenshot=shot)
    console = status.pop("console")
    assert status.get("done") is True, status
    assert status["errors"] == [], status["errors"]
    expected = {"funnel", "consort", "impact", "cohort", "drift", "quality"}
    assert expected <= set(status["charts"]), status["charts"].keys()
    assert any(k.startswith("threshold-") for k in status["charts"])
    for chart_id, s in status["charts"].items():
        assert s["rendered"], (chart_id, s)
        assert s["marks"] > 0, (chart_id, s)
    assert "Uncaught" not in console
    assert "net::ERR" not in console  # nothing tried to reach the network
    assert shot.exists() and shot.stat().st_size > 50_000
