"""The report's data: everything the page and its CSV files show, disclosed once.

Presentation flows one way::

    screen result (exact) -> disclosure (Policy) -> ReportData -> charts -> sections -> page

:func:`report_data` is the only place the report calls :class:`~feasibility.disclosure.Policy`
on the screen's numbers (funnel, impact, cohort, deciding-value histograms, readiness,
coverage, data-quality rows, row accounting). It returns a frozen :class:`ReportData`; the
section builders (:mod:`feasibility.report.sections`) and the charts (:mod:`feasibility.charts`)
only read it: they draw and format the shown numbers, and numbers that follow from others
(percentages, expected enrolment, per-year figures) are computed from shown numbers only.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from feasibility import disclosure, summaries
from feasibility.report import headline, quality_section
from feasibility.report.loader_notes import disclose_row_accounting
from feasibility.results import INDEX_EVENT

POPULATION_EVENT = "patients with an index event, each at their index date"
POPULATION_FIXED = "all patients in the registry"


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


@dataclass(frozen=True)
class ThresholdHistogram:
    """The disclosed histogram of one thresholded part of a criterion's deciding values.

    ``exclusion`` comes from the protocol (``Criterion.kind``): for an exclusion
    ``value op threshold`` is the excluding condition, so the sides swap."""

    criterion: str
    label: str
    measure: str
    histogram: pl.DataFrame
    threshold: float
    op: str
    unit: str
    exclusion: bool


@dataclass(frozen=True)
class ReportData:
    """Everything a report shows, already through its :class:`~feasibility.disclosure.Policy`.

    Frames hold shown counts (null when hidden) with ``*_suppressed`` flags. ``validation``,
    ``protocol`` and ``registry`` are kept for the sections that describe them (titles,
    rules, sources, check counts); no section reads a patient count from them."""

    protocol: Any
    policy: disclosure.Policy
    info: RegistryInfo
    now: dt.datetime
    event: bool
    population: str
    settings: dict[str, str]
    funnel: pl.DataFrame
    impact: pl.DataFrame
    cohort: pl.DataFrame | None
    comparison: pl.DataFrame | None
    thresholds: tuple[ThresholdHistogram, ...]
    readiness: pl.DataFrame | None
    readiness_by: dict[str, dict[str, Any]]
    quality: pl.DataFrame | None
    coverage: pl.DataFrame | None
    row_accounting: list[dict[str, Any]] | None
    eligible: int | None
    possible: int | None
    rate: float
    timeline: headline.Timeline | None
    validation: Any = None
    registry: Any = None

    @property
    def hidden_label(self) -> str:
        return self.policy.hidden_label

    def tables(self) -> dict[str, pl.DataFrame]:
        """The CSV files written beside the page (file name -> disclosed frame), in the
        order they are written."""
        out: dict[str, pl.DataFrame] = {"funnel.csv": self.funnel, "impact.csv": self.impact}
        if self.cohort is not None and self.comparison is not None:
            out["cohort.csv"] = self.cohort
            out["cohort_comparison.csv"] = self.comparison
        if self.thresholds:
            out["thresholds.csv"] = pl.concat(
                [
                    t.histogram.with_columns(
                        pl.lit(t.criterion).alias("criterion"),
                        pl.lit(t.measure).alias("measure"),
                        pl.lit(t.threshold).alias("threshold"),
                        pl.lit(t.op).alias("op"),
                        pl.lit(t.unit).alias("unit"),
                    ).select(
                        "criterion", "measure", "threshold", "op", "unit", *t.histogram.columns
                    )
                    for t in self.thresholds
                ]
            )
        if self.quality is not None:
            out["data_quality.csv"] = self.quality
            if self.readiness is not None and self.readiness.height:
                out["quality_by_criterion.csv"] = self.readiness
            if self.coverage is not None:
                out["coverage_by_month.csv"] = self.coverage
        return out


# --------------------------------------------------------------------------- computing it


def report_data(
    protocol: Any,
    result: Any,
    *,
    registry: Any = None,
    registry_info: RegistryInfo | None = None,
    validation: Any = None,
    readiness: pl.DataFrame | None = None,
    index_settings: Mapping[str, Any] | None = None,
    policy: disclosure.Policy | None = None,
    order: list[str] | None = None,
    target: int | None = None,
    now: dt.datetime | None = None,
) -> ReportData:
    """Disclose every number of one report, once (see :func:`~feasibility.report.build.build_report`
    for the arguments)."""
    pol = policy or disclosure.Policy()
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

    funnel = pol.funnel(result.funnel(order))
    sub_order = [s for s in order or [] if s != INDEX_EVENT] or None
    sub_funnel = screened_funnel(funnel, event)
    impact = pol.impact(screened.impact(), int(screened.n_patients), sub_funnel)
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
    thresholds = threshold_histograms(protocol, screened, pol)

    settings = index_settings_of(result, index_settings)
    quality = coverage = None
    if validation is not None:
        coverage = quality_section.disclose_coverage(getattr(validation, "coverage", None), pol)
        if getattr(validation, "summary", None) is not None:
            quality = quality_section.quality_csv(validation, pol, settings)

    last = funnel.row(-1, named=True)
    eligible, possible = last["remaining"], last["remaining_with_unknown"]
    rate = assumption_rate(protocol)
    target = target if target is not None else getattr(protocol, "target_enrolment", None)
    return ReportData(
        protocol=protocol,
        policy=pol,
        info=info,
        now=now,
        event=event,
        population=POPULATION_EVENT if event else POPULATION_FIXED,
        settings=settings,
        funnel=funnel,
        impact=impact,
        cohort=cohort,
        comparison=comparison,
        thresholds=tuple(thresholds),
        readiness=readiness,
        readiness_by=(
            {str(r["criterion"]): r for r in readiness.iter_rows(named=True)}
            if readiness is not None
            else {}
        ),
        quality=quality,
        coverage=coverage,
        row_accounting=disclose_row_accounting(info.row_accounting, pol),
        eligible=eligible,
        possible=possible,
        rate=rate,
        timeline=(
            timeline_of(result, screened, eligible, possible, rate, target) if event else None
        ),
        validation=validation,
        registry=registry,
    )


def index_settings_of(result: Any, given: Mapping[str, Any] | None) -> dict[str, str]:
    """The index settings as the report names them (given by the CLI, or from the result)."""
    if given:
        return {k: str(v) for k, v in given.items() if v is not None}
    index = getattr(result, "index", None)
    if isinstance(index, dt.date):
        return {"mode": "fixed date", "index date": index.isoformat()}
    if index is not None and hasattr(index, "describe"):
        return {"mode": "event", "events": index.describe()}
    return {}


def screened_funnel(funnel: pl.DataFrame, event: bool) -> pl.DataFrame:
    """The shown funnel of the screened population: event mode drops the registry row
    (its step 0 is the index-event step), so its steps line up with the cohort table."""
    if not event or funnel.height < 2:
        return funnel
    return funnel.filter(pl.col("step") >= 1).with_columns(pl.col("step") - 1)


def threshold_histograms(
    protocol: Any, screened: Any, pol: disclosure.Policy
) -> list[ThresholdHistogram]:
    """Deciding values of every thresholded criterion, binned and disclosed: one entry per
    thresholded part (a criterion may test one measure twice); the side of the cut that
    passes follows the criterion's kind."""
    hists: list[ThresholdHistogram] = []
    for crit in protocol.criteria:
        try:
            dv = screened.deciding_values(crit.id)
        except (ValueError, KeyError, AttributeError):
            continue
        exclusion = getattr(crit, "kind", "inclusion") == "exclusion"
        if "measure" not in dv.columns:
            dv = dv.with_columns(pl.lit(crit.id).alias("measure"))
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
                ThresholdHistogram(
                    criterion=crit.id,
                    label=crit.label,
                    measure=str(m),
                    histogram=pol.histogram(raw),
                    threshold=float(thr),
                    op=str(op),
                    unit=str(units[0]) if units.len() else "",
                    exclusion=exclusion,
                )
            )
    return hists


def timeline_of(
    result: Any,
    screened: Any,
    eligible: int | None,
    possible: int | None,
    rate: float,
    target: int | None,
) -> headline.Timeline | None:
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


def assumption_rate(protocol: Any) -> float:
    """Combined effective pass rate of the protocol's assumptions."""
    if hasattr(protocol, "assumption_rate"):
        return float(protocol.assumption_rate())
    return math.prod(float(a.pass_rate) for a in getattr(protocol, "assumptions", ()))
