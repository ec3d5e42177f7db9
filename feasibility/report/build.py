"""Build the offline HTML report of one screen, and the suppressed CSV tables it shows.

:func:`build_report` takes plain inputs (a protocol, a screen result, optionally the
data-quality validation, the readiness table and the registry) so it can be tested and
called from a notebook without the CLI. Everything shown or written passes through
:mod:`feasibility.disclosure` unless ``suppress=False`` (internal use: the page then
carries a red "not for sharing" banner).
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata as md
import math
import platform
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from feasibility import charts, citation, disclosure
from feasibility.report import html as H
from feasibility.report import quality_section, tables
from feasibility.report.loader_notes import missing_columns_banner, row_accounting_table

PACKAGES = (
    "feasibility",
    "polars",
    "altair",
    "vl-convert-python",
    "great-expectations",
    "pandas",
    "pyarrow",
)


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
            row_accounting=registry.row_accounting()
            if hasattr(registry, "row_accounting")
            else None,
        )


# --------------------------------------------------------------------------- helpers


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = "not installed"
    try:
        import vl_convert as vlc

        out["vega"] = vlc.get_vega_version()
        out["vega-embed"] = vlc.get_vega_embed_version()
    except Exception:  # pragma: no cover - informational only
        pass
    return out


def _index_settings(result: Any, given: Mapping[str, Any] | None) -> dict[str, str]:
    if given:
        return {k: str(v) for k, v in given.items() if v is not None}
    index = getattr(result, "index", None)
    if isinstance(index, dt.date):
        return {"mode": "fixed date", "index date": index.isoformat()}
    if index is not None and hasattr(index, "describe"):
        return {"mode": "event", "events": index.describe()}
    return {}


def _source_text(src: Any) -> str:
    if isinstance(src, list | tuple):
        return " ".join(str(s) for s in src)
    return "" if src is None else str(src)


def _readiness_rows(
    readiness: pl.DataFrame | None, total: int | None, pol: disclosure.Policy
) -> dict[str, dict[str, Any]]:
    """Readiness per criterion, with ``data_available_pct`` hidden when the count of
    patients it implies (or its complement) is small."""
    if readiness is None or readiness.height == 0:
        return {}
    out = {}
    for row in readiness.iter_rows(named=True):
        pct = row.get("data_available_pct")
        if pct is not None and total:
            implied = round(float(pct) * total / 100)
            if pol.small(implied) or pol.small(total - implied):
                pct = None
                row["data_available_pct_suppressed"] = True
        row["data_available_pct"] = pct
        out[str(row["criterion"])] = row
    return out


def _expected(count: int | None, rate: float) -> str:
    if count is None:
        return "hidden"
    return f"≈ {count * rate:,.1f}"


def _csv(df: pl.DataFrame, path: Path) -> Path:
    df.write_csv(path)
    return path


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
    order: list[str] | None = None,
    now: dt.datetime | None = None,
) -> Path:
    """Write ``out_dir/report.html`` and the suppressed tables it shows as CSV.

    CSV files: funnel.csv (contract columns plus ``*_suppressed`` flags and
    percentages), impact.csv, cohort.csv (counts per characteristic level and funnel
    step), cohort_comparison.csv, thresholds.csv (histogram bins of deciding values) and,
    with a validation, data_quality.csv. Hidden cells are empty with the flag ``true``.
    Returns the path of report.html. With a ``validation`` and no ``readiness``, the
    readiness table is computed with :func:`feasibility.quality.criterion_readiness`.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pol = disclosure.Policy(int(threshold), bool(suppress))
    info = registry_info or (
        RegistryInfo.from_registry(registry) if registry is not None else RegistryInfo()
    )
    now = now or dt.datetime.now(dt.UTC)
    if hasattr(validation, "for_protocol"):  # data quality linked to this protocol (i15)
        validation = validation.for_protocol(protocol, quality_section.index_span(result))
    if validation is not None and readiness is None:
        from feasibility.quality import criterion_readiness

        readiness = criterion_readiness(protocol, validation, result)
    readiness = quality_section.disclose_readiness(readiness, pol)

    raw_funnel = result.funnel(order)
    funnel = disclosure.suppress_funnel(raw_funnel, pol.threshold, enabled=pol.enabled)
    total = int(raw_funnel["remaining"][0])
    total_shown = not funnel["remaining_suppressed"][0]
    impact = disclosure.suppress_impact(
        result.impact(),
        total,
        pol.threshold,
        enabled=pol.enabled,
        total_shown=total_shown,
    )
    if pol.enabled:
        impact = disclosure.reconcile_impact(impact, funnel)
    steps = raw_funnel["criterion"].to_list()
    labels = raw_funnel["label"].to_list()
    cohort = None
    if info.patients is not None:
        cohort_raw = tables.cohort_by_step(result.patient_status, info.patients, steps, labels)
        cohort = tables.suppress_cohort(cohort_raw, funnel, pol.threshold, enabled=pol.enabled)
        comparison = tables.cohort_comparison(cohort)

    # deciding values of every thresholded criterion, binned and suppressed
    hists: list[tuple[str, str, str, pl.DataFrame, float, str, str]] = []
    for crit in protocol.criteria:
        try:
            dv = result.deciding_values(crit.id)
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
            h = tables.value_histogram(
                part,
                float(thr),
                str(op),
                exclusion=exclusion,
                suppress_threshold=pol.threshold,
                enabled=pol.enabled,
            )
            hists.append(
                (
                    crit.id,
                    crit.label,
                    str(m),
                    h,
                    float(thr),
                    str(op),
                    str(units[0]) if units.len() else "",
                    exclusion,
                )
            )

    # ---------------------------------------------------------------- CSV outputs
    _csv(funnel, out / "funnel.csv")
    _csv(impact, out / "impact.csv")
    if cohort is not None:
        _csv(cohort, out / "cohort.csv")
        _csv(comparison, out / "cohort_comparison.csv")
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
        )
    dq = None
    if validation is not None and getattr(validation, "summary", None) is not None:
        dq = quality_section.quality_csv(validation, pol, _index_settings(result, index_settings))
        _csv(dq, out / "data_quality.csv")
        quality_section.write_tables(out, validation, readiness, pol)

    # ---------------------------------------------------------------- page
    last = funnel.row(-1, named=True)
    eligible = last["remaining"]
    possible = last["remaining_with_unknown"]
    rate = _assumption_rate(protocol)
    readiness_by = _readiness_rows(readiness, total if total_shown else None, pol)
    settings = _index_settings(result, index_settings)

    parts: list[str] = []
    parts.append(_summary(funnel, eligible, possible, rate, protocol, pol, settings))
    parts.append(_protocol_section(protocol, readiness_by))
    parts.append(
        _section(
            "funnel",
            "Attrition funnel",
            "Criteria are applied one after another in protocol order. The dark bar counts "
            "patients who pass every criterion so far; the light bar also keeps patients whose "
            "data is missing (unknown) for some of them, so it is what the count could become "
            "if the missing data were collected and turned out favourable.",
            H.chart_slot("funnel", charts.configured(charts.funnel_chart(funnel)))
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
            ),
        )
    )
    parts.append(
        _section(
            "consort",
            "Patient flow",
            "The same funnel drawn as a CONSORT-style flow diagram.",
            H.chart_slot("consort", charts.configured(charts.consort_chart(funnel))),
        )
    )
    parts.append(
        _section(
            "impact",
            "Which criteria remove patients",
            "For each criterion on its own: how many patients fail it (whatever the other "
            "criteria say), how many fail only this criterion and pass all others (the patients "
            "a protocol amendment of this criterion alone could win back), and how many are "
            "unknown on it because the data needed is missing."
            + (
                " In event mode a patient without a qualifying index event has no index date, "
                "so is unknown on every other criterion."
                if "index_event" in steps
                else ""
            ),
            H.chart_slot("impact", charts.configured(charts.impact_chart(impact)))
            + H.table(
                impact.to_dicts(),
                [
                    ("label", "Criterion", "text"),
                    ("fail_standalone", "Fail (alone)", "num"),
                    ("fail_unique", "Fail only this", "num"),
                    ("unknown", "Unknown", "num"),
                    ("unknown_pct", "Unknown %", "pct"),
                ],
            ),
        )
    )
    if cohort is not None:
        parts.append(_cohort_section(cohort, comparison, funnel))
    if hists:
        parts.append(_threshold_section(hists))
    kw = {
        "absent": tuple(info.absent),
        "warnings": tuple(info.warnings),
        "section": _section,
        "before": (missing_columns_banner(info.missing_columns),),  # issue 10
        "after": (row_accounting_table(info.row_accounting, pol),),  # issue 10
    }
    parts.append(quality_section.render(validation, dq, readiness, protocol, pol, **kw))
    parts.append(_provenance(protocol, info, settings, pol, now))
    parts.append(_method_section(pol))

    page = _page(protocol, parts, pol, now, info)
    path = out / "report.html"
    path.write_text(page, encoding="utf-8")
    return path


def _section(sid: str, title: str, lead: str, body: str) -> str:
    lead_html = f'<p class="lead">{H.esc(lead)}</p>' if lead else ""
    return f'<section id="{sid}"><h2>{H.esc(title)}</h2>{lead_html}{body}</section>'


def _card(value: str, what: str, hidden: bool = False) -> str:
    cls = "num hidden-count" if hidden else "num"
    return f'<div class="card"><div class="{cls}">{H.esc(value)}</div><div class="what">{H.esc(what)}</div></div>'


def _summary(funnel, eligible, possible, rate, protocol, pol, settings) -> str:
    total = funnel["remaining"][0]
    index_txt = settings.get("index date") or settings.get("events") or ""
    cards = [
        _card(disclosure.format_count(total), "patients in the registry", total is None),
        _card(
            disclosure.format_count(eligible),
            "eligible: pass every computable criterion",
            eligible is None,
        ),
        _card(
            disclosure.format_count(possible),
            "could be eligible: pass or unknown on every criterion (missing data)",
            possible is None,
        ),
        _card(
            _expected(eligible, rate),
            f"expected to enrol after the protocol's assumptions (eligible × {rate:.2f})"
            + _expected_range_note(eligible, protocol),
            eligible is None,
        ),
    ]
    rng = ""
    if eligible is not None and possible is not None:
        rng = (
            f"<p>If every unknown resolved favourably the expected number would be at most "
            f"{_expected(possible, rate)} patients.</p>"
        )
    explain = """
<div class="legend-status">
  <span class="pill pass">pass</span><span>the registry shows the patient meets the criterion
  (for an exclusion criterion: the patient does <em>not</em> have the excluding condition).</span>
  <span class="pill fail">fail</span><span>the registry shows the patient does not meet it.</span>
  <span class="pill unknown">unknown</span><span>the data needed to decide is missing (no recent
  lab value, no assessment): the patient might qualify once it is collected.</span>
</div>
<p class="note">A patient is eligible only when every criterion passes; one fail excludes; otherwise
(no fail but some unknown) the patient is counted in "could be eligible". Criteria no registry can
decide (consent, willingness, investigator judgement) are not applied to patients: their estimated
pass rates only scale the expected count.</p>"""
    title = f"Summary{(' at ' + index_txt) if index_txt else ''}"
    sup = (
        f'<p class="note">Counts from 1 to {pol.threshold} are hidden, and so are counts that '
        "would let one be worked out by subtraction (see Method).</p>"
        if pol.enabled
        else '<p class="warnbox">Small-count suppression is OFF: this report is for internal use only.</p>'
    )
    return _section(
        "summary", title, "", f'<div class="cards">{"".join(cards)}</div>{rng}{explain}{sup}'
    )


READINESS_PILL = {
    "ready": ("ready", "no findings"),
    "info": ("ready", "minor notes"),
    "warning": ("partial", "warnings"),
    "error": ("not-ready", "errors"),
    "absent": ("not-ready", "table absent"),
    "not_applicable": ("", "no checks apply"),
    **{f"badge:{k}": v for k, v in quality_section.BADGE_PILL.items()},
}


def _readiness_level(r: dict[str, Any] | None) -> str | None:
    """One word for a criterion's readiness, from the severities of its findings (an
    absent table first, then errors, warnings, info) or, failing those, its worst status."""
    if not r:
        return None
    if r.get("badge"):  # i15: one readiness badge per criterion
        return f"badge:{r['badge']}"
    if r.get("tables_absent"):
        return "absent"
    for key, level in (
        ("n_findings_error", "error"),
        ("n_findings_warning", "warning"),
        ("n_findings_info", "info"),
    ):
        if isinstance(r.get(key), int) and r[key] > 0:
            return level
    worst = r.get("worst_status")
    if worst == "not_applicable":
        return "not_applicable"
    return "ready" if worst is not None or "n_findings_error" in r else None


def _readiness_cell(r: dict[str, Any] | None) -> str:
    """Readiness of one criterion as short HTML: status pill, share with data, findings."""
    if not r:
        return "—"
    if r.get("badge"):
        return quality_section.readiness_cell(r)
    bits = []
    level = _readiness_level(r)
    if level in READINESS_PILL:
        cls, text = READINESS_PILL[level]
        bits.append(f'<span class="pill {cls or "na"}">{H.esc(text)}</span>')
    if r.get("data_available_pct") is not None:
        bits.append(f"{r['data_available_pct']:.1f}% of patients have the data")
    elif r.get("data_available_pct_suppressed"):
        bits.append("share with data hidden (small count)")
    findings = [
        f"{r[k]} {name}"
        for k, name in (
            ("n_findings_error", "error finding(s)"),
            ("n_findings_warning", "warning(s)"),
        )
        if isinstance(r.get(k), int) and r[k] > 0
    ]
    if findings:
        bits.append(", ".join(findings))
    if r.get("tables_absent"):
        bits.append(f"table absent: {H.esc(r['tables_absent'])}")
    return "<br>".join(bits) or "—"


def _protocol_section(protocol, readiness_by: dict[str, dict[str, Any]]) -> str:
    rows = []
    for i, c in enumerate(protocol.criteria, start=1):
        ready = _readiness_cell(readiness_by.get(c.id))
        rows.append(
            {
                "n": i,
                "label": f"{c.label} ({c.kind})" if getattr(c, "kind", None) else c.label,
                "id": c.id,
                "source": _source_text(getattr(c, "source", "")),
                "rule": str(getattr(c, "rule", "")),
                "ready": ready,
            }
        )
    crit_table = H.table(
        rows,
        [
            ("n", "#", "text"),
            ("label", "Criterion", "text"),
            ("source", "Protocol text", "src"),
            ("rule", "How the registry decides it", "rule"),
            ("ready", "Data readiness", "html"),
        ],
    )
    arows = [
        {
            "text": _source_text(a.text if hasattr(a, "text") else a.id),
            "rate": _assumption_rate_text(a),
            "source": a.source,
        }
        for a in getattr(protocol, "assumptions", ())
    ]
    parts_note = citation.parts_sentence(protocol)
    body = (
        f'<details class="fold"><summary>The {H.esc(citation.counts(protocol))}: protocol '
        "sentence, rule applied to the registry, and data readiness</summary>"
        + (f'<p class="note">{H.esc(parts_note)}</p>' if parts_note else "")
        + f"{crit_table}</details>"
    )
    if arows:
        rate = _assumption_rate(protocol)
        body += (
            f'<details class="fold"><summary>The {len(arows)} assumptions no registry can decide '
            f"(combined pass rate {rate:.2f})</summary>"
            + H.table(
                arows,
                [
                    ("text", "Protocol text", "src"),
                    ("rate", "Assumed pass rate", "text"),
                    ("source", "Source of the estimate", "text"),
                ],
            )
            + "</details>"
        )
    ready_counts: dict[str, int] = {}
    for c in protocol.criteria:
        level = _readiness_level(readiness_by.get(c.id))
        if level:
            ready_counts[level] = ready_counts.get(level, 0) + 1
    overview = ""
    if ready_counts:
        overview = (
            "<p>Data readiness of the criteria: "
            + ", ".join(
                f'<span class="pill {READINESS_PILL.get(k, ("na", k))[0] or "na"}">'
                f"{H.esc(READINESS_PILL.get(k, ('', k))[1])}</span> {v}"
                for k, v in sorted(
                    ready_counts.items(), key=lambda kv: list(READINESS_PILL).index(kv[0])
                )
            )
            + ".</p>"
        )
    lead = (
        f"Protocol {protocol.id}: {getattr(protocol, 'title', '')}. Open the lists below to see "
        "each criterion with the sentence of the eligibility text it comes from and the exact "
        "rule applied to the registry."
    )
    return _section("protocol", "The protocol", lead, overview + body)


def _cohort_section(cohort, comparison, funnel) -> str:
    rows = []
    for r in comparison.iter_rows(named=True):
        rows.append(
            {
                **r,
                "variable": tables.VARIABLE_LABELS.get(r["variable"], r["variable"]),
                "smd_text": "hidden" if r["smd"] is None else f"{r['smd']:+.2f}",
            }
        )
    tbl = H.table(
        rows,
        [
            ("variable", "Characteristic", "text"),
            ("level", "Group", "text"),
            ("registry_n", "Registry n", "num"),
            ("registry_pct", "Registry %", "pct"),
            ("eligible_n", "Eligible n", "num"),
            ("eligible_pct", "Eligible %", "pct"),
            ("smd_text", "Std. difference", "text"),
        ],
    )
    last = funnel.row(-1, named=True)
    note = (
        '<div class="warnbox">The number of eligible patients is hidden (small, or within the '
        "threshold of another shown count), so the make-up of the eligible cohort is hidden too; "
        "the step-by-step drift below shows the mix at the steps whose totals can be shown.</div>"
        if last["remaining"] is None
        else ""
    )
    body = (
        note
        + '<div class="chart-stack">'
        + H.chart_slot("cohort", charts.configured(charts.cohort_chart(cohort)))
        + H.chart_slot("drift", charts.configured(charts.drift_chart(cohort)))
        + "</div>"
        + tbl
        + '<p class="note">Standardised difference of each group\'s share, eligible against registry; '
        "an absolute value above 0.10 suggests the criteria select a different population. "
        "Age is in whole years at the index date.</p>"
    )
    return _section(
        "cohort",
        "Who is eligible: cohort characteristics",
        "The eligible cohort compared with the whole registry by age group, sex, race, ethnicity "
        "and site, and how the mix shifts as each criterion is applied.",
        body,
    )


def _threshold_section(hists) -> str:
    slots = []
    for i, (cid, label, measure, h, thr, op, unit, exclusion) in enumerate(hists):
        axis = measure.replace("_", " ").capitalize()
        chart = charts.threshold_chart(
            h,
            threshold=thr,
            op=op,
            title=label,
            subtitle=None if measure == cid else f"measure: {measure}",
            unit=unit,
            axis_title=axis,
            exclusion=exclusion,
        )
        slots.append(H.chart_slot(f"threshold-{i}", charts.configured(chart)))
    return _section(
        "thresholds",
        "Deciding values against thresholds",
        "For each numeric criterion, the value that decided it for each patient with data "
        "(most recent value in the window, in the canonical unit), with the protocol threshold. "
        "Patients just on the failing side are the ones a small protocol change would include.",
        '<div class="chart-grid">' + "".join(slots) + "</div>",
    )


def _quality_table(summary: pl.DataFrame, pol: disclosure.Policy) -> pl.DataFrame:
    keep = [
        c
        for c in (
            "table",
            "column",
            "expectation",
            "category",
            "severity",
            "status",
            "unexpected_count",
            "unexpected_percent",
            "criteria",
        )
        if c in summary.columns
    ]
    df = summary.select(keep)
    if "criteria" in df.columns and df["criteria"].dtype != pl.String:
        df = df.with_columns(pl.col("criteria").cast(pl.List(pl.String)).list.join(", "))
    if "criteria" in df.columns:
        df = df.with_columns(pl.col("criteria").str.replace_all(r"\s*;\s*", "; "))
    if "unexpected_count" in df.columns:
        counts = [None if v is None else int(v) for v in df["unexpected_count"].to_list()]
        hidden = [pol.small(v) for v in counts]
        df = df.with_columns(
            pl.Series(
                "unexpected_count",
                [None if h else v for v, h in zip(counts, hidden, strict=True)],
                dtype=pl.Int64,
            ),
            pl.Series("unexpected_count_suppressed", hidden, dtype=pl.Boolean),
        )
        if "unexpected_percent" in df.columns:
            df = df.with_columns(
                pl.when(pl.col("unexpected_count_suppressed"))
                .then(None)
                .otherwise(pl.col("unexpected_percent").cast(pl.Float64))
                .alias("unexpected_percent")
            )
    return df


def _quality_section(validation, dq, info: RegistryInfo, pol) -> str:
    body = []
    if info.absent:
        body.append(
            '<div class="warnbox">Tables not supplied: '
            + ", ".join(f"<code>{H.esc(t)}</code>" for t in info.absent)
            + ". Facts they hold are unknown for every patient (criteria that need them are "
            "unknown, or pass where the protocol treats an absent record as absence).</div>"
        )
    body.append(missing_columns_banner(info.missing_columns))  # issue 10
    for w in info.warnings:
        body.append(f'<div class="warnbox">{H.esc(w)}</div>')
    if validation is not None and dq is not None and dq.height:
        body.append(
            H.chart_slot("quality", charts.configured(charts.quality_chart(validation.summary)))
        )
        not_ok = dq
        if "status" in dq.columns:
            not_ok = dq.filter(
                ~pl.col("status")
                .str.to_lowercase()
                .is_in(["pass", "passed", "success", "not_applicable"])
            )
        cols = [
            (c, t, k)
            for c, t, k in [
                ("category", "Category", "text"),
                ("table", "Table", "text"),
                ("column", "Column", "text"),
                ("expectation", "Check", "text"),
                ("severity", "Severity", "text"),
                ("status", "Status", "text"),
                ("unexpected_count", "Rows affected", "num"),
                ("unexpected_percent", "% of rows", "pct"),
                ("criteria", "Criteria affected", "text"),
            ]
            if c in dq.columns
        ]
        if not_ok.height:
            body.append(
                f'<details class="fold"><summary>{not_ok.height} of {dq.height} checks have '
                "findings: table, column, rows affected and the criteria that read them</summary>"
                + H.table(not_ok.to_dicts(), cols)
                + "</details>"
            )
        else:
            body.append(f"<p>All {dq.height} checks passed.</p>")
    elif validation is None:
        body.append("<p>No data-quality validation was run for this report.</p>")
    if info.set_aside is not None and info.set_aside.height:
        sa = info.set_aside.select(
            [c for c in ("table", "column", "problem", "rows") if c in info.set_aside.columns]
        )
        if "rows" in sa.columns:
            sa = sa.with_columns(
                pl.Series(
                    "rows",
                    disclosure.suppress_values(
                        sa["rows"].to_list(), pol.threshold, enabled=pol.enabled
                    ),
                    dtype=pl.Int64,
                )
            )
        body.append("<h3>Values set aside by the loader</h3>")
        body.append(
            H.table(
                sa.to_dicts(),
                [
                    ("table", "Table", "text"),
                    ("column", "Column", "text"),
                    ("problem", "Problem", "text"),
                    ("rows", "Rows", "num"),
                ],
            )
        )
    body.append(row_accounting_table(info.row_accounting, pol))  # issue 10
    return _section(
        "quality",
        "Data quality",
        "Checks of the registry grouped by the Kahn framework: conformance (values in the "
        "expected format and vocabulary), completeness (values present) and plausibility "
        "(values believable, dates in a possible order). Failures lower the trust in the "
        "criteria that read the affected columns.",
        "".join(body),
    )


def _provenance(protocol, info: RegistryInfo, settings, pol, now) -> str:
    items = [
        ("Report generated (UTC)", now.strftime("%Y-%m-%d %H:%M:%S")),
        ("Registry", info.path or "—"),
        ("Registry fingerprint (sha256)", info.fingerprint or "—"),
        ("Tables present", ", ".join(info.present) or "—"),
        ("Protocol", f"{protocol.id} ({getattr(protocol, 'path', '') or 'built-in'})"),
        ("Protocol fingerprint (sha256)", getattr(protocol, "fingerprint", "") or "—"),
        (
            "Cite as",
            f"{citation.cite(protocol)}, feasibility {_versions().get('feasibility', '?')}",
        ),
    ]
    items += [(f"Index: {k}", v) for k, v in settings.items()]
    items.append(
        (
            "Small-count suppression",
            f"on, threshold {pol.threshold} (counts 1–{pol.threshold} hidden)"
            if pol.enabled
            else "OFF (internal use only)",
        )
    )
    items += [(f"Version: {k}", v) for k, v in _versions().items()]
    dl = "".join(f"<dt>{H.esc(k)}</dt><dd>{H.esc(v)}</dd>" for k, v in items)
    return _section(
        "provenance",
        "Provenance",
        "What this report was computed from, so it can be reproduced.",
        f'<dl class="prov">{dl}</dl>',
    )


def _method_section(pol) -> str:
    t = pol.threshold
    text = (
        f"<p>Small-count suppression protects patients from being singled out. No count from 1 to "
        f"{t} is shown (zero is shown). Because the funnel's counts are nested, a count is also "
        f"hidden when it differs by 1 to {t} from any count already shown in the funnel, so no "
        "subtraction of two shown counts reveals a small group; an 'excluded' count is shown only "
        "when both counts it is the difference of are shown. In tables whose cells add up to a "
        f"shown total (the groups of a characteristic, the bars of a histogram) further cells are "
        f"hidden until the hidden cells together exceed {t}. Criterion impact counts are hidden "
        "when any count that can be computed from them and the registry size would be small, "
        "or when they would give back a count the funnel hides. "
        "Percentages of a hidden count are hidden. The method is cell suppression (primary and "
        "complementary), not rounding: every number shown is exact.</p>"
        '<p>Hidden values appear as <span class="hidden-cell">hidden</span> here, and as empty '
        "cells with a <code>*_suppressed = true</code> flag in the CSV files beside this report.</p>"
    )
    if not pol.enabled:
        text = (
            '<p class="warnbox"><strong>Suppression was switched off</strong> '
            "(<code>--no-suppression</code>): exact small counts are shown. Do not share this "
            "report outside the team that holds the registry.</p>"
        )
    return _section("method", "Method: disclosure control", "", text)


NAV = [
    ("summary", "Summary"),
    ("protocol", "Protocol"),
    ("funnel", "Funnel"),
    ("consort", "Flow"),
    ("impact", "Impact"),
    ("cohort", "Cohort"),
    ("thresholds", "Thresholds"),
    ("quality", "Data quality"),
    ("provenance", "Provenance"),
    ("method", "Method"),
]


def _page(protocol, parts: list[str], pol, now, info: RegistryInfo) -> str:
    title = f"Feasibility report: {getattr(protocol, 'title', '') or protocol.id}"
    banner = (
        '<div class="banner-internal" id="internal-banner">INTERNAL USE ONLY: small-count '
        "suppression is OFF. Exact counts of fewer than "
        f"{pol.threshold + 1} patients are shown. Do not share.</div>"
        if not pol.enabled
        else ""
    )
    present = {p.split('id="', 1)[1].split('"', 1)[0] for p in parts if 'id="' in p}
    nav = "".join(f'<a href="#{sid}">{H.esc(name)}</a>' for sid, name in NAV if sid in present)
    meta = (
        f"Protocol <strong>{H.esc(protocol.id)}</strong> "
        f"(file sha256 {H.esc(citation.fingerprint(protocol)) or '—'}) · generated "
        f"{now.strftime('%Y-%m-%d %H:%M')} UTC · registry {H.esc(info.fingerprint[:12]) or '—'}"
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{H.esc(title)}</title>
<style>{H.stylesheet()}</style>
</head>
<body data-suppression="{"on" if pol.enabled else "off"}" data-threshold="{pol.threshold}">
{banner}
<header class="top"><h1>{H.esc(title)}</h1><div class="meta">{meta}</div></header>
<nav class="toc">{nav}</nav>
<main>
{"".join(parts)}
</main>
<pre id="render-status"></pre>
<script>{H.vega_bundle()}</script>
<script>{H.EMBED_SCRIPT}</script>
</body>
</html>
"""


# --------------------------------------------------------------------------- assumptions
# (clinical fidelity, issue 11 point 6: the model lives in feasibility.protocol)


def _assumption_rate(protocol) -> float:
    """Combined effective pass rate (conditional rates, shares concerned, merged items)."""
    if hasattr(protocol, "assumption_rate"):
        return protocol.assumption_rate()
    return math.prod(float(a.pass_rate) for a in getattr(protocol, "assumptions", ()))


def _expected_range_note(count: int | None, protocol) -> str:
    """`` — range low–high`` from the assumptions' rate ranges; nothing when hidden."""
    if count is None or not hasattr(protocol, "expected_range"):
        return ""
    r = protocol.expected_range(count)
    # disclosure: an expected enrolment is an estimate, not a count of patients
    return f"; range {r.low:,.1f}–{r.high:,.1f} from the rates' uncertainty"


def _assumption_rate_text(a) -> str:
    """The rate as the table shows it, with its range and whom it concerns."""
    if getattr(a, "same_as", None):
        return f"counted once under {a.same_as}"
    text = f"{float(a.pass_rate) * 100:.0f}%"
    low, high = getattr(a, "rate_low", None), getattr(a, "rate_high", None)
    if low is not None and high is not None and (low, high) != (a.pass_rate, a.pass_rate):
        text += f" ({low * 100:.0f}–{high * 100:.0f}%)"
    if getattr(a, "given", None):
        text += f", among those passing {a.given}"
    applies = getattr(a, "applies_to", None)
    if applies is not None:
        text += f"; applies to {applies.who} (≈{applies.share * 100:.0f}% of eligible)"
    return text
