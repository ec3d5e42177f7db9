"""The report builder on a real screen of a real (random, CSV) registry: files written,
contract funnel columns, no small count anywhere, nothing loaded from the network."""

from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path

import polars as pl
import pytest
from _report_helpers import remote_references, screen_registry, write_registry

from feasibility.disclosure import INTERNAL_NOTICE, Policy
from feasibility.report import build_report
from feasibility.report.build import RegistryInfo

T = 10
CONTRACT = ["step", "criterion", "label", "remaining", "remaining_with_unknown", "excluded"]


@pytest.fixture(scope="module")
def screened(tmp_path_factory):
    reg_dir = write_registry(tmp_path_factory.mktemp("registry") / "reg", n=600, seed=7)
    return screen_registry(reg_dir)


@pytest.fixture(scope="module")
def built(screened, tmp_path_factory):
    registry, protocol, result = screened
    out = tmp_path_factory.mktemp("report")
    path = build_report(out, protocol, result, registry=registry, threshold=T)
    return out, path, result, protocol


def small(v) -> bool:
    return v is not None and 1 <= v <= T


def rounded(v: int) -> bool:
    """A count as the default policy shows it: 0, or a multiple of 5 above T (1..T read ≤10)."""
    return v == 0 or (v % 5 == 0 and v > T)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_files_and_contract_columns(built) -> None:
    out, path, result, _ = built
    assert path == out / "report.html" and path.stat().st_size > 500_000
    for name in (
        "funnel.csv",
        "impact.csv",
        "cohort.csv",
        "cohort_comparison.csv",
        "thresholds.csv",
    ):
        assert (out / name).exists(), name
    rows = read_csv(out / "funnel.csv")
    assert list(rows[0].keys())[:6] == CONTRACT
    raw = result.funnel()
    assert [r["criterion"] for r in rows] == raw["criterion"].to_list()
    # shown counts are the screen's rounded to 5; counts 1..10 are empty and flagged
    for r, (rem, rwu, exc) in zip(
        rows, raw.select("remaining", "remaining_with_unknown", "excluded").iter_rows(), strict=True
    ):
        for key, true in (("remaining", rem), ("remaining_with_unknown", rwu), ("excluded", exc)):
            if small(true):
                assert r[key] == "" and r[f"{key}_suppressed"] == "true"
            else:
                assert r[f"{key}_suppressed"] == "false"
                assert int(r[key]) % 5 == 0 and 0 <= int(r[key]) - true <= 4
        assert r["disclosure"] == Policy().describe()


def test_no_small_count_in_any_csv(built) -> None:
    out = built[0]
    count_cols = {
        "funnel.csv": ["remaining", "remaining_with_unknown", "excluded"],
        "impact.csv": ["fail_standalone", "fail_unique", "unknown", "pass"],
        "cohort.csv": ["count"],
        "cohort_comparison.csv": ["registry_n", "eligible_n"],
        "thresholds.csv": ["count"],
    }
    for name, cols in count_cols.items():
        for row in read_csv(out / name):
            for c in cols:
                if c in row and row[c] != "":
                    assert rounded(int(row[c])), (name, c, row)


def test_no_small_count_in_html_tables_or_chart_data(built) -> None:
    html = built[1].read_text(encoding="utf-8")
    cells = re.findall(r'<td class="num">([0-9,]+)</td>', html)
    assert cells, "the report has count tables"
    assert all(rounded(int(c.replace(",", ""))) for c in cells)
    assert '<td class="num hidden-cell">≤10</td>' in html
    specs = re.findall(
        r'<script type="application/json" id="spec-[^"]+">(.*?)</script>', html, re.S
    )
    assert len(specs) >= 6
    for s in specs:
        assert "<" not in s and ">" not in s and "&" not in s  # escaped as \\u003c...
        spec = json.loads(s)
        assert '"url"' not in s  # every chart carries its data inline
        for v in _values(spec):
            for key in ("count", "x_text", "registry_n", "eligible_n"):
                if isinstance(v.get(key), int):
                    assert rounded(v[key]), (key, v)


def _values(node):
    if isinstance(node, dict):
        data = node.get("data")
        if isinstance(data, dict) and "values" in data:
            yield from data["values"]
        for v in node.values():
            yield from _values(v)
    elif isinstance(node, list):
        for v in node:
            yield from _values(v)


def test_offline_single_bundle_and_sections(built) -> None:
    html = built[1].read_text(encoding="utf-8")
    assert remote_references(html) == []
    assert "fonts.googleapis" not in html and "cdn.jsdelivr" not in html
    # the runtime is inlined once: exactly one script block holds vegaEmbed's definition
    scripts = re.findall(r"<script>(.*?)</script>", html, re.S)
    assert len(scripts) == 2
    assert sum(1 for s in scripts if len(s) > 500_000) == 1
    assert html.count("vegaEmbed('#chart-' + id") == 1
    for sid in (
        "summary",
        "protocol",
        "funnel",
        "consort",
        "impact",
        "cohort",
        "thresholds",
        "quality",
        "provenance",
        "method",
    ):
        assert f'<section id="{sid}">' in html, sid
    assert 'data-suppression="on"' in html and 'data-internal="no"' in html
    assert INTERNAL_NOTICE not in html and INTERNAL_NOTICE.upper() not in html


def test_summary_expected_count_and_protocol(built) -> None:
    _, path, result, protocol = built
    html = path.read_text(encoding="utf-8")
    eligible = int(result.funnel()["remaining"][-1])
    rate = math.prod(a.effective_rate() for a in protocol.assumptions)  # issue 11 point 6
    summary = html.split('id="protocol"')[0]
    shown = Policy().show(eligible)
    if shown is None:
        assert summary.count(">≤10<") >= 2  # eligible and expected
    else:
        # whole patients, from the shown (rounded) count
        assert f">{round(shown * rate):,}<" in summary
    assert "A snapshot at <strong>2024-06-30</strong>" in summary
    for c in protocol.criteria:
        assert (
            c.id and c.label.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") in html
        )
    assert "pass</span>" in html and "unknown</span>" in html


def test_provenance(built, screened) -> None:
    registry, protocol, _ = screened
    html = built[1].read_text(encoding="utf-8")
    assert registry.fingerprint in html
    assert protocol.fingerprint in html
    assert "polars" in html and "altair" in html and "Disclosure control" in html


def test_small_registry_hides_eligible_and_expected(tmp_path) -> None:
    registry, protocol, result = screen_registry(write_registry(tmp_path / "reg", n=40, seed=3))
    out = build_report(tmp_path / "out", protocol, result, registry=registry)
    funnel = pl.read_csv(tmp_path / "out" / "funnel.csv")
    assert funnel.columns[:6] == CONTRACT
    for c in ("remaining", "remaining_with_unknown", "excluded"):
        assert all(rounded(v) for v in funnel[c].drop_nulls())
    html = out.read_text(encoding="utf-8")
    last = funnel.row(-1, named=True)
    if last["remaining"] is None:
        summary = html.split('<section id="protocol">')[0]
        assert summary.count(">≤10<") >= 2  # eligible and expected count


def test_no_suppression_is_stamped(screened, tmp_path) -> None:
    registry, protocol, result = screened
    out = build_report(tmp_path, protocol, result, registry=registry, suppress=False)
    html = out.read_text(encoding="utf-8")
    assert 'id="internal-banner"' in html and INTERNAL_NOTICE.upper() in html
    assert 'data-suppression="off"' in html and 'data-internal="yes"' in html
    raw = result.funnel()
    got = pl.read_csv(tmp_path / "funnel.csv")
    assert got["remaining"].to_list() == raw["remaining"].to_list()
    for name in ("funnel.csv", "impact.csv", "cohort.csv", "thresholds.csv"):
        assert set(pl.read_csv(tmp_path / name)["disclosure"]) == {INTERNAL_NOTICE}, name


@pytest.mark.parametrize(
    "policy",
    [Policy(0), Policy(5), Policy(method="none"), Policy(0, method="suppress")],
    ids=["round-0", "round-5", "none", "suppress-0"],
)
def test_any_setting_that_can_show_small_counts_is_stamped(screened, tmp_path, policy) -> None:
    registry, protocol, result = screened
    out = build_report(tmp_path, protocol, result, registry=registry, policy=policy)
    html = out.read_text(encoding="utf-8")
    assert policy.internal and 'id="internal-banner"' in html and INTERNAL_NOTICE in html
    for f in tmp_path.glob("*.csv"):
        assert set(pl.read_csv(f)["disclosure"]) == {INTERNAL_NOTICE}, f.name


def test_suppress_method_shows_exact_counts_or_hidden(screened, tmp_path) -> None:
    registry, protocol, result = screened
    build_report(tmp_path, protocol, result, registry=registry, policy=Policy(method="suppress"))
    got = pl.read_csv(tmp_path / "funnel.csv")
    raw = result.funnel()
    for c in ("remaining", "remaining_with_unknown", "excluded"):
        for shown, true in zip(got[c].to_list(), raw[c].to_list(), strict=True):
            assert shown is None or shown == true
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert 'data-internal="no"' in html and "Cell suppression" in html


def test_threshold_is_configurable(screened, tmp_path) -> None:
    registry, protocol, result = screened
    build_report(tmp_path, protocol, result, registry=registry, threshold=30)
    funnel = pl.read_csv(tmp_path / "funnel.csv")
    for c in ("remaining", "remaining_with_unknown", "excluded"):
        assert all(v == 0 or v >= 30 for v in funnel[c].drop_nulls())
    assert "from 1 to 30 are shown as ≤30" in (tmp_path / "report.html").read_text(encoding="utf-8")


def test_absent_table_is_reported(screened, tmp_path) -> None:
    registry, protocol, result = screened
    info = RegistryInfo.from_registry(registry)
    info.absent = ("procedures",)
    out = build_report(tmp_path, protocol, result, registry_info=info)
    html = out.read_text(encoding="utf-8")
    assert "Tables not supplied" in html and "<code>procedures</code>" in html
