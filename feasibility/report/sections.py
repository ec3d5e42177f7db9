"""HTML sections of the report, each a function of the disclosed :class:`ReportData`.

A section builder takes the report's data (:class:`~feasibility.report.data.ReportData`,
every count already through the report's :class:`~feasibility.disclosure.Policy`) and
returns the section's HTML, or ``""`` when it has nothing to show. :data:`SECTIONS` lists
them in page order; :mod:`feasibility.report.page` puts them in the page. Numbers printed
here are shown numbers, or computed from shown numbers only (percentages of shown counts,
expected enrolment, per-year figures); charts are drawn by :mod:`feasibility.charts` from
the same disclosed frames.

Adding a section: write ``def my_section(data: ReportData) -> str`` (start from
:func:`_section` for the ``<section id=...>`` wrapper; disclose any count of its own
through ``data.policy``) and put it in :data:`SECTIONS`; a ``(id, name)`` entry in
:data:`feasibility.report.page.NAV` adds its link to the table of contents.
"""

from __future__ import annotations

import importlib.metadata as md
import math
import platform
from collections.abc import Callable, Mapping
from typing import Any

from feasibility import charts, citation, disclosure, summaries
from feasibility.report import headline, quality_section
from feasibility.report import html as H
from feasibility.report.data import (
    POPULATION_EVENT,
    POPULATION_FIXED,
    ReportData,
    ThresholdHistogram,
    assumption_rate,
)
from feasibility.report.loader_notes import missing_columns_banner, row_accounting_table

__all__ = [
    "POPULATION_EVENT",
    "POPULATION_FIXED",
    "SECTIONS",
    "SectionBuilder",
    "cohort_section",
    "consort_section",
    "funnel_section",
    "impact_section",
    "method_section",
    "protocol_section",
    "provenance_section",
    "quality_section_html",
    "summary_section",
    "threshold_section",
]

PACKAGES = (
    "feasibility",
    "polars",
    "altair",
    "vl-convert-python",
    "great-expectations",
    "pandas",
    "pyarrow",
)


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


def _source_text(src: Any) -> str:
    if isinstance(src, list | tuple):
        return " ".join(str(s) for s in src)
    return "" if src is None else str(src)


def _expected(count: int | None, rate: float, pol: disclosure.Policy) -> str:
    """Expected enrolments from a shown count, in whole patients."""
    return pol.whole(None if count is None else count * rate)


def _section(sid: str, title: str, lead: str, body: str) -> str:
    lead_html = f'<p class="lead">{H.esc(lead)}</p>' if lead else ""
    return f'<section id="{sid}"><h2>{H.esc(title)}</h2>{lead_html}{body}</section>'


def _card(value: str, what: str, hidden: bool = False) -> str:
    cls = "num hidden-count" if hidden else "num"
    return f'<div class="card"><div class="{cls}">{H.esc(value)}</div><div class="what">{H.esc(what)}</div></div>'


def _summary(funnel, eligible, possible, rate, protocol, pol, settings, timeline) -> str:
    total = funnel["remaining"][0]
    cards = [
        _card(pol.text(total), "patients in the registry", total is None),
        _card(pol.text(eligible), "eligible: pass every computable criterion", eligible is None),
        _card(
            pol.text(possible),
            "could be eligible: pass or unknown on every criterion (missing data)",
            possible is None,
        ),
        _card(
            _expected(eligible, rate, pol),
            f"expected to enrol after the protocol's assumptions (eligible × {rate:.2f})"
            + _expected_range_note(eligible, protocol),
            eligible is None,
        ),
    ]
    rng = ""
    if eligible is not None and possible is not None:
        rng = (
            f"<p>If every unknown resolved favourably the expected number would be at most "
            f"{_expected(possible, rate, pol)} patients.</p>"
        )
    when = _when(settings, timeline, pol)
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
    sup = (
        f'<p class="warnbox">{H.esc(pol.notice.capitalize())}: {H.esc(pol.describe())}.</p>'
        if pol.internal
        else f'<p class="note">Disclosure control: {H.esc(pol.describe())} (see Method).</p>'
    )
    return _section(
        "summary",
        "Summary",
        "",
        f'{when}<div class="cards">{"".join(cards)}</div>{rng}{explain}{sup}',
    )


def _when(settings: Mapping[str, str], timeline: headline.Timeline | None, pol) -> str:
    """The time frame of the headline: a snapshot date, or patients per year over the
    event window with expected enrolments and, with a target, months to reach it."""
    if timeline is None:
        date = settings.get("index date", "")
        if not date:
            return ""
        return (
            f'<p class="when">A snapshot at <strong>{H.esc(date)}</strong>: the patients who '
            "would have been eligible on that one date. It is not a rate: patients enter and "
            "leave eligibility over time.</p>"
        )
    t = timeline
    years = f"{t.years:.1f}"
    out = [
        f'<p class="when">Index events from <strong>{t.start}</strong> to '
        f"<strong>{t.end}</strong> ({years} years): each patient counted once, at their "
        'first index where they are eligible.</p><ul class="per-year">'
    ]
    out.append(
        f"<li><strong>{H.esc(pol.whole(t.per_year(t.eligible)))}</strong> eligible patients "
        f"per year (<strong>{H.esc(pol.whole(t.per_year(t.possible)))}</strong> could be "
        "eligible once missing data is collected)</li>"
    )
    out.append(
        f"<li><strong>{H.esc(pol.whole(t.enrol_per_year))}</strong> expected enrolments per "
        f"year after the protocol's assumptions (× {t.rate:.2f})</li>"
    )
    months = t.months_to_target()
    if t.target and months is not None:
        est, lo, hi = months
        out.append(
            f"<li>Target of <strong>{t.target:,}</strong> patients: about "
            f"<strong>{headline.fmt_months(est)}</strong> (95% interval "
            f"{headline.fmt_months(lo)} to {headline.fmt_months(hi)}, Poisson on the "
            "observed yearly rate)</li>"
        )
    elif t.target:
        out.append(
            f"<li>Target of {t.target:,} patients: cannot be estimated (no eligible patient "
            "shown).</li>"
        )
    out.append("</ul>")
    return "".join(out)


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
    if r.get("badge"):  # one readiness badge per criterion (data quality, issue 15)
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
        bits.append("share with data hidden (a small count)")
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


def _protocol_section(
    protocol, readiness_by: dict[str, dict[str, Any]], population: str = POPULATION_FIXED
) -> str:
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
        rate = assumption_rate(protocol)
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
        f"rule applied to the registry. Data readiness is computed over {population}."
    )
    return _section("protocol", "The protocol", lead, overview + body)


def _cohort_section(cohort, comparison, funnel, pol, event: bool) -> str:
    rows = []
    for r in comparison.iter_rows(named=True):
        rows.append(
            {
                **r,
                "variable": summaries.VARIABLE_LABELS.get(r["variable"], r["variable"]),
                "smd_text": "—" if r["smd"] is None else f"{r['smd']:+.2f}",
            }
        )
    base = "With index event" if event else "Registry"
    tbl = H.table(
        rows,
        [
            ("variable", "Characteristic", "text"),
            ("level", "Group", "text"),
            ("registry_n", f"{base} n", "num"),
            ("registry_pct", f"{base} %", "pct"),
            ("eligible_n", "Eligible n", "num"),
            ("eligible_pct", "Eligible %", "pct"),
            ("smd_text", "Std. difference", "text"),
        ],
        hidden_label=pol.hidden_label,
    )
    last = funnel.row(-1, named=True)
    note = (
        f'<div class="warnbox">The number of eligible patients is shown as {H.esc(pol.hidden_label)}, '
        "so the make-up of the eligible cohort is hidden too; "
        "the step-by-step drift below shows the mix at the steps whose totals can be shown.</div>"
        if last["remaining"] is None
        else ""
    )
    chart = charts.cohort_chart(
        cohort, hidden_label=pol.hidden_label, base="With index event" if event else "Registry"
    )
    body = (
        note
        + '<div class="chart-stack">'
        + H.chart_slot("cohort", charts.configured(chart))
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
        (
            "The eligible cohort compared with the patients who have an index event (each at "
            "their index date)"
            if event
            else "The eligible cohort compared with the whole registry"
        )
        + " by age group, sex, race, ethnicity and site, and how the mix shifts as each "
        "criterion is applied. Shares are computed from the counts shown.",
        body,
    )


def _threshold_section(
    hists: tuple[ThresholdHistogram, ...] | list[ThresholdHistogram],
    pol: disclosure.Policy,
    population: str = POPULATION_FIXED,
) -> str:
    slots = []
    for i, t in enumerate(hists):
        axis = t.measure.replace("_", " ").capitalize()
        chart = charts.threshold_chart(
            t.histogram,
            threshold=t.threshold,
            op=t.op,
            title=t.label,
            subtitle=None if t.measure == t.criterion else f"measure: {t.measure}",
            unit=t.unit,
            axis_title=axis,
            exclusion=t.exclusion,
            hidden_label=pol.hidden_label,
        )
        slots.append(H.chart_slot(f"threshold-{i}", charts.configured(chart)))
    return _section(
        "thresholds",
        "Deciding values against thresholds",
        f"Computed over {population}. "
        "For each numeric criterion, the value that decided it for each patient with data "
        "(most recent value in the window, in the canonical unit), with the protocol threshold. "
        "Patients just on the failing side are the ones a small protocol change would include.",
        '<div class="chart-grid">' + "".join(slots) + "</div>",
    )


def _provenance(protocol, info: Any, settings, pol, now) -> str:
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
    items.append(("Disclosure control", f"{pol.method}: {pol.describe()}"))
    if pol.internal:
        items.append(("Sharing", pol.notice))
    items += [(f"Version: {k}", v) for k, v in _versions().items()]
    dl = "".join(f"<dt>{H.esc(k)}</dt><dd>{H.esc(v)}</dd>" for k, v in items)
    return _section(
        "provenance",
        "Provenance",
        "What this report was computed from, so it can be reproduced.",
        f'<dl class="prov">{dl}</dl>',
    )


def _method_section(pol: disclosure.Policy) -> str:
    """The disclosure policy in plain words."""
    t = pol.threshold
    if pol.method == "round":
        text = (
            "<p>This report is made to be shared, so no number in it (text, tables, charts, "
            "or the CSV files beside it) is an exact count of patients. "
            f"A count from 1 to {t} is shown as <strong>≤{t}</strong> (drawn as a grey dashed "
            f"bar). Every other count is rounded up to the next multiple of {pol.base}: "
            f"a shown {3 * pol.base} means {2 * pol.base + 1} to {3 * pol.base} patients, and "
            "1,089 is shown as 1,090. Zero is shown as 0. Percentages, readiness shares and "
            "yearly figures are computed from the numbers shown (yearly figures and expected "
            "enrolments in whole patients). Totals are rounded on their own, so parts may not "
            "add up exactly to their total. Each shown count stands for "
            f"{pol.base} possible true counts, and the test suite checks, with an adversary "
            "that combines every number of a report (sums, differences, totals, histogram "
            "sides, non-negativity), that no count from 1 to "
            f"{t} can be worked out exactly.</p>"
            "<p>Comparing two reports (for example run at two index dates or with two "
            "thresholds) leaves the difference of two rounded counts, known only to within "
            f"{2 * pol.base - 1} possible values; it cannot be closed in general, so share "
            "the reports of one question, not many variants of it.</p>"
            f"<p>In the CSV files, a count shown as ≤{t} is an empty cell with "
            "<code>*_suppressed = true</code>; every file has a <code>disclosure</code> column "
            "stating this policy.</p>"
        )
    elif pol.method == "suppress":
        text = (
            f"<p>Cell suppression: no count from 1 to {t} is shown (zero is shown). Counts that "
            f"would let a hidden one be worked out are hidden too: along the funnel a count is "
            f"hidden when it differs by 1 to {t} from a count already shown; in tables whose "
            f"cells add up to a shown total further cells are hidden until the hidden cells "
            f"together exceed {t}; impact counts are hidden when any count computed from them "
            "and the population size would be small. Every number shown is exact. Hidden "
            'values appear as <span class="hidden-cell">hidden</span>, and as empty CSV cells '
            "with <code>*_suppressed = true</code>.</p>"
        )
    else:
        text = ""
    if pol.internal:
        text = (
            f'<p class="warnbox"><strong>{H.esc(pol.notice.capitalize())}.</strong> '
            f"This report was made with disclosure control set to {H.esc(pol.describe())}: "
            "it can show exact counts from 1 to 10. Do not share it outside the team that "
            "holds the registry.</p>" + text
        )
    return _section("method", "Method: disclosure control", "", text)


# --------------------------------------------------------------------------- assumptions
# (issue 11 point 6: the model -- conditional rates, shares concerned, merged items,
# rate ranges -- lives in feasibility.protocol)


def _expected_range_note(count: int | None, protocol: Any) -> str:
    """``; range low–high`` in whole patients from the rates' uncertainty, computed from
    the shown eligible count; nothing when that count is hidden."""
    if count is None or not hasattr(protocol, "expected_range"):
        return ""
    r = protocol.expected_range(count)
    return f"; range {math.floor(r.low):,}–{math.ceil(r.high):,} from the rates' uncertainty"


def _assumption_rate_text(a: Any) -> str:
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


# --------------------------------------------------------------------------- section builders

#: A section: the disclosed report data in, the section's HTML out ("" to leave it out).
SectionBuilder = Callable[[ReportData], str]


def summary_section(d: ReportData) -> str:
    """Headline cards, the time frame, what pass/fail/unknown mean, the policy in brief."""
    return _summary(
        d.funnel, d.eligible, d.possible, d.rate, d.protocol, d.policy, d.settings, d.timeline
    )


def protocol_section(d: ReportData) -> str:
    """The criteria with their sentence, rule and data readiness; the assumptions."""
    return _protocol_section(d.protocol, d.readiness_by, d.population)


def funnel_section(d: ReportData) -> str:
    """The attrition funnel: chart and table."""
    hl = d.hidden_label
    return _section(
        "funnel",
        "Attrition funnel",
        "Criteria are applied one after another in protocol order. The dark bar counts "
        "patients who pass every criterion so far; the light bar also keeps patients whose "
        "data is missing (unknown) for some of them, so it is what the count could become "
        "if the missing data were collected and turned out favourable."
        + (
            " The first step keeps the patients with a qualifying index event; every "
            "criterion after it is judged at that patient's index date."
            if d.event
            else ""
        ),
        H.chart_slot("funnel", charts.configured(charts.funnel_chart(d.funnel, hidden_label=hl)))
        + H.table(
            d.funnel.to_dicts(),
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


def consort_section(d: ReportData) -> str:
    """The funnel as a CONSORT-style flow diagram."""
    return _section(
        "consort",
        "Patient flow",
        "The same funnel drawn as a CONSORT-style flow diagram.",
        H.chart_slot(
            "consort",
            charts.configured(charts.consort_chart(d.funnel, hidden_label=d.hidden_label)),
        ),
    )


def impact_section(d: ReportData) -> str:
    """Per criterion: patients failing it alone, failing only it, unknown on it."""
    hl = d.hidden_label
    return _section(
        "impact",
        "Which criteria remove patients",
        f"Computed over {d.population}. For each criterion on its own: how many patients "
        "fail it (whatever the other criteria say), how many fail only this criterion and "
        "pass all others (the patients a protocol amendment of this criterion alone could "
        "win back), and how many are unknown on it because the data needed is missing.",
        H.chart_slot(
            "impact",
            charts.configured(
                charts.impact_chart(
                    d.impact, hidden_label=hl, population=d.population if d.event else ""
                )
            ),
        )
        + H.table(
            d.impact.to_dicts(),
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


def cohort_section(d: ReportData) -> str:
    """Who is eligible (needs the patients table)."""
    if d.cohort is None or d.comparison is None:
        return ""
    return _cohort_section(d.cohort, d.comparison, d.funnel, d.policy, d.event)


def threshold_section(d: ReportData) -> str:
    """Deciding values against thresholds (when the protocol has thresholded criteria)."""
    if not d.thresholds:
        return ""
    return _threshold_section(d.thresholds, d.policy, d.population)


def quality_section_html(d: ReportData) -> str:
    """Data quality, with the loader's banners and row accounting."""
    return quality_section.render(
        d.validation,
        d.quality,
        d.readiness,
        d.protocol,
        d.policy,
        coverage=d.coverage,
        absent=tuple(d.info.absent),
        warnings=tuple(d.info.warnings),
        section=_section,
        before=(missing_columns_banner(d.info.missing_columns),),  # issue 10
        after=(row_accounting_table(d.row_accounting, d.hidden_label),),  # issue 10
    )


def provenance_section(d: ReportData) -> str:
    """What the report was computed from."""
    return _provenance(d.protocol, d.info, d.settings, d.policy, d.now)


def method_section(d: ReportData) -> str:
    """The disclosure policy in plain words."""
    return _method_section(d.policy)


#: The report's sections in page order. An extra section goes in here (one entry).
SECTIONS: list[SectionBuilder] = [
    summary_section,
    protocol_section,
    funnel_section,
    consort_section,
    impact_section,
    cohort_section,
    threshold_section,
    quality_section_html,
    provenance_section,
    method_section,
]
