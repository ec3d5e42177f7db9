"""Build the offline HTML report of one screen, and the suppressed CSV tables it shows.

:func:`build_report` takes plain inputs (a protocol, a screen result, optionally the
data-quality validation, the readiness table and the registry) so it can be tested and
called from a notebook without the CLI. Everything shown or written passes through
:mod:`feasibility.disclosure` unless ``suppress=False`` (internal use: the page then
carries a red "not for sharing" banner).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from feasibility import charts, csvsafe, disclosure, summaries
from feasibility.report import headline, omop_section, quality_section
from feasibility.report import html as H
from feasibility.report.loader_notes import missing_columns_banner, row_accounting_table
from feasibility.report.sections import (
    POPULATION_EVENT,
    POPULATION_FIXED,
    _assumption_rate,
    _cohort_section,
    _method_section,
    _page,
    _protocol_section,
    _provenance,
    _section,
    _summary,
    _threshold_section,
)
from feasibility.results import INDEX_EVENT


@dataclass
class RegistryInfo:
    """What the report needs to know about the registry besides the screen itself."""

    path: str = ""
    fingerprint: str = ""
    present: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    set_aside: pl.DataFrame | None = None
    patients: pl.DataFrame | None = None
    absent: tuple[str, ...] = field(default=())
    missing_columns: dict[str, frozenset[str]] = field(default_factory=dict)
    row_accounting: pl.DataFrame | None = None

    @classmethod
    def from_registry(cls, registry: Any) -> RegistryInfo:
        """Collect path, fingerprint, tables present/absent, warnings, set-aside rows and
        the patients table from a loaded :class:`~feasibility.registry.Registry`."""
        from feasibility.schema import TABLES

        present = tuple(sorted(getattr(registry, "present", ())))
        patients = registry.tables["patients"]
        patients = patients.collect() if isinstance(patients, pl.LazyFrame) else patients
        return cls(
            path=str(getattr(registry, "path", "")),
            fingerprint=str(getattr(registry, "fingerprint", "")),
            present=present,
            warnings=tuple(getattr(registry, "warnings", ()) or ()),
            set_aside=getattr(registry, "set_aside", None),
            patients=patients,
            absent=tuple(t for t in TABLES if t not in present),
            missing_columns=dict(getattr(registry, "missing_columns", {}) or {}),
            row_accounting=(
                registry.row_accounting() if hasattr(registry, "row_accounting") else None
            ),
        )


# --------------------------------------------------------------------------- helpers


def _index_settings(result: Any, given: Mapping[str, Any] | None) -> dict[str, str]:
    if given:
        return {k: str(v) for k, v in given.items() if v is not None}
    index = getattr(result, "index", None)
    if isinstance(index, dt.date):
        return {"mode": "fixed date", "index date": index.isoformat()}
    if index is not None and hasattr(index, "describe"):
        return {"mode": "event", "events": index.describe()}
    return {}


def _csv(df: pl.DataFrame, path: Path, pol: disclosure.Policy) -> Path:
    """A shareable CSV: stamped with the policy (or the internal notice), formula-safe."""
    return csvsafe.write_csv(pol.stamp(df), path)


# --------------------------------------------------------------------------- the report


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
    pol = policy or disclosure.Policy(int(threshold), bool(suppress))
    info = registry_info or (
        RegistryInfo.from_registry(registry) if registry is not None else RegistryInfo()
    )
    now = now or dt.datetime.now(dt.UTC)
    event = bool(getattr(result, "event_mode", False))
    screened = result.with_index_event() if event else result
    if hasattr(validation, "for_protocol"):  # findings linked to this protocol's own rules
        validation = validation.for_protocol(protocol, quality_section.index_span(screened))
    if validation is not None and readiness is None:
        from feasibility.quality import criterion_readiness

        readiness = criterion_readiness(protocol, validation, screened)
    readiness = quality_section.disclose_readiness(readiness, pol)

    raw_funnel = result.funnel(order)
    funnel = pol.funnel(raw_funnel)
    sub_order = [s for s in order or [] if s != INDEX_EVENT] or None
    sub_funnel = _screened_funnel(funnel, event)
    n_screened = int(screened.n_patients)
    impact = pol.impact(screened.impact(), n_screened, sub_funnel)
    population = POPULATION_EVENT if event else POPULATION_FIXED
    cohort = comparison = None
    if info.patients is not None:
        sf = screened.funnel(sub_order)
        labels = sf["label"].to_list()
        labels[0] = "Patients with an index event" if event else labels[0]
        cohort_raw = summaries.cohort_by_step(
            screened.patient_status, info.patients, sf["criterion"].to_list(), labels
        )
        cohort = pol.cohort(cohort_raw, sub_funnel)
        comparison = summaries.cohort_comparison(cohort)
    hists = _histograms(protocol, screened, pol)

    # ---------------------------------------------------------------- CSV outputs
    _csv(funnel, out / "funnel.csv", pol)
    _csv(impact, out / "impact.csv", pol)
    if cohort is not None:
        _csv(cohort, out / "cohort.csv", pol)
        _csv(comparison, out / "cohort_comparison.csv", pol)
    if hists:
        _csv(
            pl.concat(
                [
                    h.with_columns(
                        pl.lit(cid).alias("criterion"),
                        pl.lit(measure).alias("measure"),
                        pl.lit(thr).alias("threshold"),
                        pl.lit(op).alias("op"),
                        pl.lit(unit).alias("unit"),
                    ).select("criterion", "measure", "threshold", "op", "unit", *h.columns)
                    for cid, _, measure, h, thr, op, unit, _ in hists
                ]
            ),
            out / "thresholds.csv",
            pol,
        )
    dq = None
    if validation is not None and getattr(validation, "summary", None) is not None:
        dq = quality_section.quality_csv(validation, pol, _index_settings(result, index_settings))
        _csv(dq, out / "data_quality.csv", pol)
        if readiness is not None and readiness.height:
            _csv(readiness, out / "quality_by_criterion.csv", pol)
        coverage = quality_section.disclose_coverage(getattr(validation, "coverage", None), pol)
        if coverage is not None:
            _csv(coverage, out / "coverage_by_month.csv", pol)

    # ---------------------------------------------------------------- page
    last = funnel.row(-1, named=True)
    eligible = last["remaining"]
    possible = last["remaining_with_unknown"]
    rate = _assumption_rate(protocol)
    readiness_by = (
        {str(r["criterion"]): r for r in readiness.iter_rows(named=True)}
        if readiness is not None
        else {}
    )
    settings = _index_settings(result, index_settings)
    target = target if target is not None else getattr(protocol, "target_enrolment", None)
    timeline = _timeline(result, screened, eligible, possible, rate, target) if event else None
    hl = pol.hidden_label

    parts: list[str] = []
    parts.append(_summary(funnel, eligible, possible, rate, protocol, pol, settings, timeline))
    parts.append(_protocol_section(protocol, readiness_by, population))
    parts.append(
        _section(
            "funnel",
            "Attrition funnel",
            "Criteria are applied one after another in protocol order. The dark bar counts "
            "patients who pass every criterion so far; the light bar also keeps patients whose "
            "data is missing (unknown) for some of them, so it is what the count could become "
            "if the missing data were collected and turned out favourable."
            + (
                " The first step keeps the patients with a qualifying index event; every "
                "criterion after it is judged at that patient's index date."
                if event
                else ""
            ),
            H.chart_slot("funnel", charts.configured(charts.funnel_chart(funnel, hidden_label=hl)))
            + H.table(
                funnel.to_dicts(),
                [
                    ("step", "Step", "text"),
                    ("label", "Criterion", "text"),
                    ("remaining", "Pass so far", "num"),
                    ("remaining_pct", "% of registry", "pct"),
                    ("remaining_with_unknown", "Pass or unknown", "num"),
                    ("remaining_with_unknown_pct", "% of registry", "pct"),
                    ("excluded", "Excluded at this step", "num"),
                ],
                hidden_label=hl,
            ),
        )
    )
    parts.append(
        _section(
            "consort",
            "Patient flow",
            "The same funnel drawn as a CONSORT-style flow diagram.",
            H.chart_slot(
                "consort", charts.configured(charts.consort_chart(funnel, hidden_label=hl))
            ),
        )
    )
    parts.append(
        _section(
            "impact",
            "Which criteria remove patients",
            f"Computed over {population}. For each criterion on its own: how many patients "
            "fail it (whatever the other criteria say), how many fail only this criterion and "
            "pass all others (the patients a protocol amendment of this criterion alone could "
            "win back), and how many are unknown on it because the data needed is missing.",
            H.chart_slot(
                "impact",
                charts.configured(
                    charts.impact_chart(
                        impact, hidden_label=hl, population=population if event else ""
                    )
                ),
            )
            + H.table(
                impact.to_dicts(),
                [
                    ("label", "Criterion", "text"),
                    ("fail_standalone", "Fail (alone)", "num"),
                    ("fail_unique", "Fail only this", "num"),
                    ("unknown", "Unknown", "num"),
                    ("unknown_pct", "Unknown %", "pct"),
                ],
                hidden_label=hl,
            ),
        )
    )
    if cohort is not None:
        parts.append(_cohort_section(cohort, comparison, funnel, pol, event))
    if hists:
        parts.append(_threshold_section(hists, pol, population))
    parts.append(
        quality_section.render(
            validation,
            dq,
            readiness,
            protocol,
            pol,
            absent=tuple(info.absent),
            warnings=tuple(info.warnings),
            section=_section,
            before=(missing_columns_banner(info.missing_columns),),  # issue 10
            after=(row_accounting_table(info.row_accounting, pol),),  # issue 10
        )
    )
    parts.append(omop_section.render(registry, validation, pol))  # issue 14: "" unless OMOP
    parts.append(_provenance(protocol, info, settings, pol, now))
    parts.append(_method_section(pol))

    page = _page(protocol, parts, pol, now, info)
    path = out / "report.html"
    path.write_text(page, encoding="utf-8")
    return path


def _screened_funnel(funnel: pl.DataFrame, event: bool) -> pl.DataFrame:
    """The shown funnel of the screened population: event mode drops the registry row
    (its step 0 is the index-event step), so its steps line up with the cohort table."""
    if not event or funnel.height < 2:
        return funnel
    return funnel.filter(pl.col("step") >= 1).with_columns(pl.col("step") - 1)


def _histograms(protocol: Any, screened: Any, pol: disclosure.Policy) -> list[tuple]:
    """Deciding values of every thresholded criterion, binned and disclosed: one entry
    (criterion id, label, measure, histogram, threshold, op, unit, exclusion) per part."""
    hists: list[tuple] = []
    for crit in protocol.criteria:
        try:
            dv = screened.deciding_values(crit.id)
        except (ValueError, KeyError, AttributeError):
            continue
        exclusion = getattr(crit, "kind", "inclusion") == "exclusion"
        if "measure" not in dv.columns:
            dv = dv.with_columns(pl.lit(crit.id).alias("measure"))
        # one histogram per thresholded part (a criterion may test one measure twice)
        parts = dv.select("measure", "threshold", "op").unique(maintain_order=True)
        for m, thr, op in parts.iter_rows():
            if thr is None or op not in ("<", "<=", ">", ">="):
                continue  # equality parts (grade == 2) have no cut to draw
            part = dv.filter(
                (pl.col("measure") == m) & (pl.col("threshold") == thr) & (pl.col("op") == op)
            )
            if part["value"].drop_nulls().len() == 0:
                continue
            units = part["unit"].drop_nulls()
            raw = summaries.value_histogram(part, float(thr), str(op), exclusion=exclusion)
            hists.append(
                (
                    crit.id,
                    crit.label,
                    str(m),
                    pol.histogram(raw),
                    float(thr),
                    str(op),
                    str(units[0]) if units.len() else "",
                    exclusion,
                )
            )
    return hists


def _timeline(result, screened, eligible, possible, rate, target) -> headline.Timeline | None:
    """Event mode: the window the index events were taken from (the option's bounds, or
    the span of the index dates found)."""
    index = result.index
    start, end = getattr(index, "start", None), getattr(index, "end", None)
    if start is None or end is None:
        dates = screened.patient_status["index_date"].drop_nulls()
        if dates.len() == 0:
            return None
        start = start or dates.min()
        end = end or dates.max()
    return headline.Timeline(start, end, eligible, possible, rate, target)
