"""Presentation flows one way (issue 12 point 4): result -> disclosure -> report data
(computed once, frozen) -> charts (drawing only) -> sections -> page.

These tests pin the direction: the charts import neither the report nor the disclosure
module; the section and page code never calls the policy's disclosing methods; a build
discloses each table once; a threshold chart's sides follow ``Criterion.kind``; an extra
section plugs in with one entry in ``SECTIONS``."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest
from _report_helpers import screen_registry, write_registry

import feasibility
from feasibility import disclosure
from feasibility.report import build_report, sections
from feasibility.report.data import ReportData, report_data
from feasibility.report.sections import _section

PKG = Path(feasibility.__file__).parent


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names}
    return out


@pytest.mark.parametrize("module", ["charts.py", "charts_quality.py"])
def test_charts_import_neither_report_nor_disclosure(module: str) -> None:
    names = _imports(PKG / module)
    bad = {
        n
        for n in names
        if n.startswith(("feasibility.report", "feasibility.disclosure", "feasibility.suppression"))
    }
    assert not bad, bad


def test_charts_do_not_guess_exclusion() -> None:
    source = (PKG / "charts.py").read_text(encoding="utf-8")
    fn = next(
        n
        for n in ast.parse(source).body
        if isinstance(n, ast.FunctionDef) and n.name == "threshold_chart"
    )
    assert "_infer_exclusion" not in source
    assert '"status"' not in (ast.get_source_segment(source, fn) or "")


#: Policy methods that turn exact numbers into shown ones: only report/data.py (and the
#: disclose_* helpers it calls) may call them.
DISCLOSING = {"funnel", "impact", "cohort", "histogram", "counts", "show", "quality", "readiness"}


def _calls(fn: ast.AST) -> set[str]:
    """Names called: ``disclose_*`` functions, and methods called on a policy (``pol.x``,
    ``policy.x``, ``d.policy.x``)."""
    out = set()
    for node in ast.walk(fn):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        if isinstance(f, ast.Name):
            out.add(f.id)
        elif isinstance(f, ast.Attribute):
            recv = f.value
            name = recv.id if isinstance(recv, ast.Name) else getattr(recv, "attr", "")
            if name in ("pol", "policy") or f.attr.startswith("disclose"):
                out.add(f.attr)
    return out


@pytest.mark.parametrize("module", ["report/sections.py", "report/page.py"])
def test_sections_and_page_disclose_nothing(module: str) -> None:
    tree = ast.parse((PKG / module).read_text(encoding="utf-8"))
    calls = _calls(tree)
    assert not (calls & DISCLOSING), calls & DISCLOSING
    assert not {c for c in calls if c.startswith("disclose")}


def test_quality_section_render_discloses_nothing() -> None:
    tree = ast.parse((PKG / "report/quality_section.py").read_text(encoding="utf-8"))
    render = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "render")
    calls = _calls(render)
    assert not (calls & DISCLOSING) and not {c for c in calls if c.startswith("disclose")}


@pytest.fixture(scope="module")
def screened(tmp_path_factory):
    reg_dir = write_registry(tmp_path_factory.mktemp("registry") / "reg", n=300, seed=11)
    return screen_registry(reg_dir)


def test_each_table_is_disclosed_once_per_build(screened, tmp_path, monkeypatch) -> None:
    registry, protocol, result = screened
    calls: dict[str, int] = {}
    for name in ("funnel", "impact", "cohort", "histogram"):
        original = getattr(disclosure.Policy, name)

        def counted(self, *a, _name=name, _orig=original, **kw):
            calls[_name] = calls.get(_name, 0) + 1
            return _orig(self, *a, **kw)

        monkeypatch.setattr(disclosure.Policy, name, counted)
    build_report(tmp_path, protocol, result, registry=registry)
    assert calls["funnel"] == 1 and calls["impact"] == 1 and calls["cohort"] == 1
    data = report_data(protocol, result, registry=registry)
    assert calls["histogram"] == 2 * len(data.thresholds)


def test_report_data_is_frozen_and_thresholds_follow_criterion_kind(screened) -> None:
    registry, protocol, result = screened
    data = report_data(protocol, result, registry=registry)
    assert isinstance(data, ReportData)
    with pytest.raises(dataclasses.FrozenInstanceError):
        data.funnel = data.funnel  # type: ignore[misc]
    kinds = {c.id: c.kind for c in protocol.criteria}
    assert data.thresholds
    assert any(kinds[t.criterion] == "exclusion" for t in data.thresholds)
    for t in data.thresholds:
        assert t.exclusion == (kinds[t.criterion] == "exclusion")
    # the CSVs are the data's tables
    assert {"funnel.csv", "impact.csv", "cohort.csv", "thresholds.csv"} <= set(data.tables())


def test_an_extra_section_plugs_in_with_one_entry(screened, tmp_path, monkeypatch) -> None:
    registry, protocol, result = screened

    def extra(d: ReportData) -> str:
        return _section("extra", "Extra", "", f"<p>{d.policy.text(d.eligible)} eligible</p>")

    at = sections.SECTIONS.index(sections.provenance_section)
    monkeypatch.setattr(
        sections, "SECTIONS", [*sections.SECTIONS[:at], extra, *sections.SECTIONS[at:]]
    )
    html = build_report(tmp_path, protocol, result, registry=registry).read_text(encoding="utf-8")
    assert html.index('<section id="quality">') < html.index('<section id="extra">')
    assert html.index('<section id="extra">') < html.index('<section id="provenance">')
