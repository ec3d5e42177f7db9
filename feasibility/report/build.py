"""Build the offline HTML report of one screen, and the disclosed CSV tables it shows.

:func:`build_report` takes plain inputs (a protocol, a screen result, optionally the
data-quality validation, the readiness table and the registry) so it can be tested and
called from a notebook without the CLI. It runs in three steps, data flowing one way:

1. **data** (:func:`feasibility.report.data.report_data`): every number shown or written
   passes through one :mod:`feasibility.disclosure` policy, once, into a frozen
   :class:`~feasibility.report.data.ReportData` (``suppress=False`` is internal use: the
   page then carries a red "not for sharing" banner);
2. **sections** (:data:`feasibility.report.sections.SECTIONS`): each builder turns that
   data into a section's HTML, drawing charts with :mod:`feasibility.charts`;
3. **page** (:func:`feasibility.report.page.render_page`): the sections in one
   self-contained document.

The CSV tables are written from the same data (:meth:`ReportData.tables`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from feasibility import csvsafe, disclosure
from feasibility.report import sections as _sections
from feasibility.report.data import RegistryInfo, ReportData, report_data
from feasibility.report.page import render_page
from feasibility.report.sections import SectionBuilder

__all__ = ["RegistryInfo", "ReportData", "build_report", "render_sections", "write_tables"]


def write_tables(data: ReportData, out: Path) -> list[Path]:
    """The shareable CSV files: each stamped with the policy (or the internal notice),
    formula-safe."""
    return [
        csvsafe.write_csv(data.policy.stamp(df), out / name) for name, df in data.tables().items()
    ]


def render_sections(data: ReportData, sections: Sequence[SectionBuilder] = ()) -> list[str]:
    """Each section's HTML, in order (:data:`~feasibility.report.sections.SECTIONS` by
    default, read at call time)."""
    return [build(data) for build in (sections or _sections.SECTIONS)]


def build_report(
    out_dir: str | Path,
    protocol: Any,
    result: Any,
    *,
    registry: Any = None,
    registry_info: RegistryInfo | None = None,
    validation: Any = None,
    readiness: pl.DataFrame | None = None,
    index_settings: Mapping[str, Any] | None = None,
    threshold: int = disclosure.DEFAULT_THRESHOLD,
    suppress: bool = True,
    policy: disclosure.Policy | None = None,
    order: list[str] | None = None,
    target: int | None = None,
    now: dt.datetime | None = None,
) -> Path:
    """Write ``out_dir/report.html`` and the disclosed tables it shows as CSV.

    Every number goes through one :class:`~feasibility.disclosure.Policy` (``policy``, or
    ``Policy(threshold)`` by default, method ``none`` when ``suppress=False``). CSV files:
    funnel.csv (contract columns plus ``*_suppressed`` flags and percentages), impact.csv,
    cohort.csv, cohort_comparison.csv, thresholds.csv and, with a validation,
    data_quality.csv; each has a ``disclosure`` column (the policy, or the internal-use
    notice). In event mode the funnel starts with the registry and the index-event step;
    impact, readiness, cohort and thresholds are over the patients with an index event.
    ``target`` (or the protocol's ``target_enrolment``) adds months to reach it.
    Returns the path of report.html.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = report_data(
        protocol,
        result,
        registry=registry,
        registry_info=registry_info,
        validation=validation,
        readiness=readiness,
        index_settings=index_settings,
        policy=policy or disclosure.Policy(int(threshold), bool(suppress)),
        order=order,
        target=target,
        now=now,
    )
    write_tables(data, out)
    path = out / "report.html"
    path.write_text(render_page(data, render_sections(data)), encoding="utf-8")
    return path
