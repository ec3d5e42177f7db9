"""The report's data-quality section, written for a principal investigator.

It opens with what affects the funnel (per criterion, for the screened patients: badge,
share decided, why the others are unknown, statuses a defect could flip), then the data
over time (records per month, index window, data cut-off, and the tail/gap findings),
then the findings by readable name with rows and patients affected and the criteria they
touch; profiles and the raw Great Expectations detail are folded away.

Also builds ``data_quality.csv`` (one row per check: stable id, run date, index settings,
rows and patients affected, one percentage convention: 0-100) and the disclosed copies of
the readiness and coverage tables written beside the report.

Every count shown goes through the report's :class:`~feasibility.disclosure.Policy`:
under the default ``round`` method each count is shown rounded (1..threshold as hidden)
and every percentage is computed from shown numbers; under ``suppress`` the partitions
get complementary suppression; each such place is marked ``# disclosure:``.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from feasibility import disclosure
from feasibility.report import html as H

BADGE_PILL = {
    "ready": ("ready", "ready"),
    "partly": ("partial", "partly"),
    "structurally missing": ("not-ready", "structurally missing"),
}
REASONS = (
    ("unknown_structurally_absent", "field almost never recorded"),
    ("unknown_set_aside", "value set aside (unit, implausible, vocabulary)"),
    ("unknown_not_in_window", "not measured in the window"),
    ("unknown_other", "other (sex U, undated rows, ...)"),
)
PROFILE_SEVERITY = "info"
FINDING = ("failed", "passed_with_failures")


# --------------------------------------------------------------------------- disclosure


def disclose_readiness(readiness: pl.DataFrame | None, pol: disclosure.Policy) -> Any:
    """Readiness with small counts (and counts derivable from shown ones) hidden, and the
    percentages of hidden counts hidden. Per criterion the screened patients split into
    decided + the four unknown reasons (a partition of a shown total); ``with_record`` and
    ``could_flip`` are single counts whose complement (screened - count) is also checked."""
    if readiness is None or readiness.height == 0:
        return readiness
    if pol.method == disclosure.ROUND:
        return _round_readiness(readiness, pol)
    parts = ["decided", *(k for k, _ in REASONS)]
    long = readiness.select("criterion", *parts).unpivot(
        index="criterion", on=parts, variable_name="part", value_name="n"
    )
    # disclosure: partition decided + unknown reasons = screened (i9's policy at merge)
    masked = disclosure.suppress_partitions(
        long.with_columns(pl.col("n").fill_null(0)),
        count="n",
        partition_by=["criterion"],
        threshold=pol.threshold,
        enabled=pol.enabled,
    )
    hidden = {
        (c, p): h for c, p, h in masked.select("criterion", "part", "n_suppressed").iter_rows()
    }
    rows = []
    for r in readiness.iter_rows(named=True):
        r = dict(r)
        n = r.get("screened")
        for p in parts:
            if hidden.get((r["criterion"], p)):
                r[p] = None
        if r.get("decided") is None:
            r["ready_pct"] = r["data_available_pct"] = r["ready_pct_reaching"] = None
        for key, pct in (("with_record", "with_record_pct"), ("could_flip", "could_flip_pct")):
            v = r.get(key)
            # disclosure: a single count and its complement within the screened patients
            if v is not None and n is not None and (pol.small(v) or pol.small(n - v)):
                r[key] = r[pct] = None
                r[f"{key}_suppressed"] = True
        # disclosure: the screened total itself
        if pol.small(n):
            r["screened"] = None
        rows.append(r)
    return pl.DataFrame(rows, infer_schema_length=None)


#: Readiness counts (patients), each shown through the policy under ``round``.
READINESS_COUNTS = (
    "screened",
    "decided",
    "reaching",
    "unknown",
    *(k for k, _ in REASONS),
    "with_record",
    "could_flip",
)


def _round_readiness(readiness: pl.DataFrame, pol: disclosure.Policy) -> pl.DataFrame:
    """``round``: every count shown rounded (1..threshold hidden), every percentage from
    the shown numbers (a share of the shown screened total); the share of patients
    reaching the step that are decided has no count of its own and is left out."""
    counts = [c for c in READINESS_COUNTS if c in readiness.columns]
    df = pol.counts(readiness, counts)  # disclosure: each count rounded, small ones hidden

    def pct(part: str) -> pl.Expr:
        return (
            pl.when(pl.col("screened").is_null() | (pl.col("screened") == 0))
            .then(None)
            .otherwise((pl.col(part).cast(pl.Float64) * 100.0 / pl.col("screened")).round(1))
        )

    out = [pct("decided").alias("ready_pct")]
    if "data_available_pct" in df.columns:
        out.append(pct("decided").alias("data_available_pct"))
    for key in ("with_record", "could_flip"):
        if f"{key}_pct" in df.columns:
            out.append(pct(key).alias(f"{key}_pct"))
    if "ready_pct_reaching" in df.columns:
        out.append(pl.lit(None, dtype=pl.Float64).alias("ready_pct_reaching"))
    return df.with_columns(out)


def disclose_coverage(coverage: pl.DataFrame | None, pol: disclosure.Policy) -> Any:
    """Coverage by month with small row and patient counts hidden (null, with flags)."""
    if coverage is None:
        return None
    if pol.method == disclosure.ROUND:
        # disclosure: independent monthly counts, each rounded (no totals shown beside them)
        return pol.counts(coverage, ["rows", "patients"])
    out = coverage
    for col in ("rows", "patients"):
        # disclosure: independent monthly counts (no totals shown beside them)
        values = disclosure.suppress_values(out[col].to_list(), pol.threshold, enabled=pol.enabled)
        out = out.with_columns(
            pl.Series(col, values, dtype=pl.Int64),
            pl.Series(f"{col}_suppressed", [v is None for v in values], dtype=pl.Boolean),
        )
    # a month's patients are hidden whenever its rows are (rows >= patients)
    return out.with_columns(
        pl.when(pl.col("rows_suppressed"))
        .then(None)
        .otherwise(pl.col("patients"))
        .alias("patients"),
        (pl.col("patients_suppressed") | pl.col("rows_suppressed")).alias("patients_suppressed"),
    )


def quality_csv(
    validation: Any, pol: disclosure.Policy, index_settings: dict[str, Any] | None = None
) -> pl.DataFrame:
    """``data_quality.csv``: one row per check (stable ``check`` id), run date, index
    settings, readable title, rows and patients affected (small counts hidden), percentages
    0-100, tolerance and its source, affected fields and criteria."""
    settings = "; ".join(f"{k}={v}" for k, v in (index_settings or {}).items() if v is not None)
    s = validation.stamped(settings or None)
    df = s.select(
        "check",
        "run_date",
        "index_settings",
        "title",
        "table",
        "column",
        "condition",
        "category",
        "severity",
        "status",
        pl.col("unexpected_count").alias("rows_affected"),
        pl.col("unexpected_percent").alias("rows_affected_pct"),
        "patients_affected",
        "tolerance_pct",
        pl.col("criteria").str.replace_all(";", "; "),
        "affects",
        "expectation",
        "tolerance_source",
        "severity_source",
        "source",
        "note",
    )
    if pol.method == disclosure.ROUND:
        # disclosure: each check's counts rounded, its percentage from the shown count
        raw = df["rows_affected"].to_list()
        df = pol.counts(df, ["rows_affected", "patients_affected"])
        pcts = [
            None if shown is None or pct is None else (round(shown * pct / n, 2) if n else 0.0)
            for n, shown, pct in zip(
                raw, df["rows_affected"].to_list(), df["rows_affected_pct"].to_list(), strict=True
            )
        ]
        return df.with_columns(pl.Series("rows_affected_pct", pcts, dtype=pl.Float64))
    for col, pct in (("rows_affected", "rows_affected_pct"), ("patients_affected", None)):
        counts = df[col].to_list()
        hidden = [pol.small(v) for v in counts]  # disclosure: each check's counts on their own
        df = df.with_columns(
            pl.Series(
                col, [None if h else v for v, h in zip(counts, hidden, strict=True)], dtype=pl.Int64
            ),
            pl.Series(f"{col}_suppressed", hidden, dtype=pl.Boolean),
        )
        if pct:
            df = df.with_columns(
                pl.when(pl.col(f"{col}_suppressed")).then(None).otherwise(pl.col(pct)).alias(pct)
            )
    # patients are hidden when the rows are (a check's rows >= its patients)
    return df.with_columns(
        pl.when(pl.col("rows_affected_suppressed"))
        .then(None)
        .otherwise(pl.col("patients_affected"))
        .alias("patients_affected")
    )


def index_span(result: Any) -> Any:
    """(first, last) index date of a screen result's screened patients, or None."""
    status = getattr(result, "patient_status", None)
    if status is None or "index_date" not in status.columns:
        return None
    dates = status.get_column("index_date").drop_nulls()
    if dates.dtype == pl.String:
        dates = dates.str.to_date(strict=False).drop_nulls()
    return (dates.min(), dates.max()) if dates.len() else None


# --------------------------------------------------------------------------- cells


def badge_html(badge: Any) -> str:
    """The readiness badge as a pill."""
    cls, text = BADGE_PILL.get(str(badge), ("na", str(badge or "—")))
    return f'<span class="pill {cls}">{H.esc(text)}</span>'


def readiness_cell(r: dict[str, Any]) -> str:
    """One criterion's badge and figures as short HTML (for the protocol table too)."""
    bits = [badge_html(r.get("badge"))]
    if r.get("ready_pct") is not None:
        bits.append(f"decided for {r['ready_pct']:.1f}% of screened patients")
    else:
        bits.append("share decided hidden (small count)")
    if r.get("closed_world") and r.get("with_record_pct") is not None:
        bits.append(f"any record: {r['with_record_pct']:.1f}%")
    if r.get("structurally_absent"):
        bits.append(f"almost never recorded: {H.esc(r['structurally_absent'])}")
    return "<br>".join(bits)


def _labels(protocol: Any) -> dict[str, str]:
    return {c.id: getattr(c, "label", c.id) for c in getattr(protocol, "criteria", ())}


def _criteria_text(ids: str | None, labels: dict[str, str]) -> str:
    if not ids:
        return "—"
    return "; ".join(labels.get(i.strip(), i.strip()) for i in ids.split(";") if i.strip())


def _by_criterion(readiness: pl.DataFrame, protocol: Any, hidden: str = "hidden") -> str:
    rows = []
    for r in readiness.iter_rows(named=True):
        unknown_bits = [
            f"{hidden if r.get(k) is None else f'{r[k]:,}'} {what}"  # disclosure: above
            for k, what in REASONS
            if r.get(k) != 0
        ]
        rows.append(
            {
                "label": r.get("label") or r["criterion"],
                "badge": badge_html(r.get("badge")),
                "ready_pct": r.get("ready_pct"),
                "unknown": "<br>".join(H.esc(b) for b in unknown_bits) or "none",
                "with_record": (
                    f"{r['with_record_pct']:.1f}%"
                    if r.get("closed_world") and r.get("with_record_pct") is not None
                    else (hidden if r.get("with_record_suppressed") else "—")
                )
                + (
                    f"<br><b>almost never recorded:</b> {H.esc(r['structurally_absent'])}; "
                    "&ldquo;could be eligible&rdquo; rests on it"
                    if r.get("structurally_absent")
                    else ""
                ),
                "flip": (
                    f"{r['could_flip']:,} "  # disclosure: controlled above
                    f"({r['could_flip_pct']:.1f}%)"
                    if r.get("could_flip") is not None and r.get("could_flip_pct") is not None
                    else hidden
                ),
            }
        )
    return H.table(
        rows,
        [
            ("label", "Criterion", "text"),
            ("badge", "Readiness", "html"),
            ("ready_pct", "Decided (% of screened)", "pct"),
            ("unknown", "Unknown, and why (patients)", "html"),
            ("with_record", "Any record (no record = pass/fail)", "html"),
            ("flip", "Statuses a data defect could flip", "html"),
        ],
    )


def _fmt(v: Any, hidden: bool | None, pct: bool = False, label: str = "hidden") -> str:
    """A controlled count or percentage as text: ``label``, "—" (not computed) or the value."""
    if hidden:
        return label
    if v is None:
        return "—"
    return f"{v:.1f}%" if pct else f"{int(v):,}"


def _findings(
    dq: pl.DataFrame, labels: dict[str, str], hidden: str = "hidden"
) -> tuple[list, list]:
    """(findings to act on, profiles) as table rows, most patients first."""
    act: list[dict[str, Any]] = []
    profiles: list[dict[str, Any]] = []
    for r in dq.filter(pl.col("status").is_in(FINDING)).iter_rows(named=True):
        row = {
            "title": r["title"] or r["check"],
            "check": r["check"],
            "where": (r["table"] or "") + (f" ({r['condition']})" if r.get("condition") else ""),
            "status": "over tolerance" if r["status"] == "failed" else "within tolerance",
            "rows": _fmt(r["rows_affected"], r["rows_affected_suppressed"], label=hidden),
            "pct": _fmt(r["rows_affected_pct"], r["rows_affected_suppressed"], True, "—"),
            "patients": _fmt(
                r["patients_affected"],
                r["patients_affected_suppressed"] or r["rows_affected_suppressed"],
                label=hidden,
            ),
            "tolerance": "—" if r["tolerance_pct"] is None else f"{r['tolerance_pct']:g}%",
            "criteria": _criteria_text(
                None if r["criteria"] is None else r["criteria"].replace("; ", ";"), labels
            ),
            "hidden": bool(r["rows_affected_suppressed"]),
            "sort": -(r["patients_affected"] or 0),
            "severity": r["severity"],
            "note": r.get("note"),
        }
        (profiles if r["severity"] == PROFILE_SEVERITY else act).append(row)
    for dq_row in dq.filter(pl.col("source") == "timeline").iter_rows(named=True):
        act.append(
            {
                "title": dq_row["title"],
                "check": dq_row["check"],
                "where": dq_row["note"],
                "status": "finding",
                "rows": "—",
                "pct": "—",
                "patients": "—",
                "tolerance": "—",
                "criteria": _criteria_text(
                    None if dq_row["criteria"] is None else dq_row["criteria"].replace("; ", ";"),
                    labels,
                ),
                "hidden": False,
                "sort": 1,
                "severity": dq_row["severity"],
                "note": None,
            }
        )
    rank = {"error": 0, "warning": 1, "info": 2}
    act.sort(key=lambda r: (rank.get(r["severity"], 3), r["sort"]))
    profiles.sort(key=lambda r: r["sort"])
    return act, profiles


FINDING_COLUMNS = [
    ("title", "Finding", "text"),
    ("where", "Table (test / item)", "text"),
    ("severity", "Severity", "text"),
    ("status", "Status", "text"),
    ("rows", "Rows", "text"),
    ("pct", "% of rows", "text"),
    ("patients", "Patients", "text"),
    ("tolerance", "Tolerated", "text"),
    ("criteria", "Criteria affected", "text"),
]


def render(
    validation: Any,
    dq: pl.DataFrame | None,
    readiness: pl.DataFrame | None,
    protocol: Any,
    pol: disclosure.Policy,
    *,
    coverage: pl.DataFrame | None = None,
    absent: tuple[str, ...] = (),
    warnings: tuple[str, ...] = (),
    section: Any = None,
    before: tuple[str, ...] = (),
    after: tuple[str, ...] = (),
) -> str:
    """The data-quality section's HTML (``section(sid, title, lead, body)`` wraps it).

    ``dq``, ``readiness`` and ``coverage`` are already disclosed (:func:`quality_csv`,
    :func:`disclose_readiness`, :func:`disclose_coverage`); ``validation`` gives the
    check counts of the Kahn chart, the data cut-off and the index window.
    ``before``/``after``: ready HTML blocks (the loader's banners, its row accounting)."""
    from feasibility.charts import configured
    from feasibility.charts_quality import coverage_chart
    from feasibility.quality import readiness as R

    body: list[str] = []
    if absent:
        body.append(
            '<div class="warnbox">Tables not supplied: '
            + ", ".join(f"<code>{H.esc(t)}</code>" for t in absent)
            + ". Facts they hold are unknown for every patient (criteria that need them are "
            "unknown, or pass where the protocol treats an absent record as absence).</div>"
        )
    body += list(before)
    body += [f'<div class="warnbox">{H.esc(w)}</div>' for w in warnings]
    labels = _labels(protocol)
    if validation is None:
        body.append("<p>No data-quality validation was run for this report.</p>")
    if readiness is not None and readiness.height:
        counts: dict[str, int] = {}
        for b in readiness.get_column("badge").drop_nulls().to_list():
            counts[b] = counts.get(b, 0) + 1
        body.append("<h3>What affects the funnel</h3>")
        body.append(
            "<p>For each criterion, among the screened patients (each at their index): the "
            "share the registry can decide, why the others are unknown, and how many statuses a "
            "data defect in a field the criterion reads could flip. Criteria whose missing "
            "record counts as pass or fail are decided for almost everyone, so the share of "
            "patients with any record is shown beside them. "
            + ", ".join(
                f'<span class="pill {BADGE_PILL[b][0]}">{H.esc(b)}</span> {n}'
                for b, n in counts.items()
                if b in BADGE_PILL
            )
            + ".</p>"
        )
        body.append(_by_criterion(readiness, protocol, pol.hidden_label))
        body.append(
            f'<p class="note">Badges (team decisions): <b>structurally missing</b> when fewer '
            f"than {R.STRUCTURAL_PCT:g}% of screened patients have any record of a field the "
            f"criterion reads, or its table is absent; <b>ready</b> when at least "
            f"{R.READY_PCT:g}% are decided, fewer than {R.FLIP_PCT:g}% have a flagged row in "
            f"its window, and (no record = pass/fail) at least {R.RECORD_PCT:g}% have a record; "
            "<b>partly</b> otherwise.</p>"
        )
    if coverage is not None and coverage.height:
        body.append("<h3>Data over time</h3>")
        body.append(
            H.chart_slot(
                "coverage",
                configured(
                    coverage_chart(
                        coverage,
                        cutoff=getattr(validation, "cutoff", None),
                        index_span=getattr(validation, "index_span", None),
                    )
                ),
            )
        )
    if dq is not None and dq.height:
        from feasibility.charts import quality_chart

        act, profiles = _findings(dq, labels, pol.hidden_label)
        body.append("<h3>Findings</h3>")
        # numbers of checks, not of patients: nothing to suppress
        body.append(H.chart_slot("quality", configured(quality_chart(validation.summary))))
        if act:
            body.append(
                "<p>Checks with rows to look at, the worst first. <i>Within tolerance</i>: "
                "fewer failing rows than the check tolerates (DQD defaults: 1% for a field, 5% "
                "for a test or item); the rows are still reported.</p>"
            )
            body.append(H.table(act, FINDING_COLUMNS))
        else:
            body.append(f"<p>All {dq.height} checks passed.</p>")
        if profiles:
            body.append(
                f'<details class="fold"><summary>{len(profiles)} profiles (no threshold): '
                "fields whose empty value means something (ongoing, alive, systemic), optional "
                "fields, and coverage at the index date</summary>"
                + H.table(profiles, FINDING_COLUMNS)
                + "</details>"
            )

        def text(row: dict[str, Any], key: str, pct: bool = False) -> str:
            v = row.get(key)
            if v is None:
                hid = row.get("rows_affected_suppressed") and not pct
                return pol.hidden_label if hid else "—"
            return f"{v:.1f}%" if pct else f"{v:,}"

        raw = [
            {
                **{k: r[k] for k in ("check", "table", "column", "condition", "expectation")},
                **{k: r[k] for k in ("category", "severity", "status", "tolerance_source")},
                "rows": text(r, "rows_affected"),  # disclosure: hidden in quality_csv
                "pct": text(r, "rows_affected_pct", pct=True),
                "tol": "—" if r["tolerance_pct"] is None else f"{r['tolerance_pct']:g}%",
            }
            for r in dq.iter_rows(named=True)
        ]
        body.append(
            f'<details class="fold"><summary>All {dq.height} checks: Great Expectations '
            "detail</summary>"
            + H.table(
                raw,
                [
                    ("check", "Check id", "text"),
                    ("table", "Table", "text"),
                    ("column", "Column", "text"),
                    ("condition", "Rows", "text"),
                    ("expectation", "GX expectation", "text"),
                    ("category", "Kahn category", "text"),
                    ("severity", "Severity", "text"),
                    ("status", "Status", "text"),
                    ("rows", "Rows", "text"),
                    ("pct", "% of rows", "text"),
                    ("tol", "Tolerated", "text"),
                    ("tolerance_source", "Source of tolerance", "src"),
                ],
            )
            + "</details>"
        )
    lead = (
        "Can the funnel be trusted, and where not? Per criterion first, then the data over "
        "time, then the data-quality findings (Kahn et al.: conformance, completeness, "
        "plausibility; tolerances from OHDSI's Data Quality Dashboard or stated team "
        "decisions). All percentages are 0-100."
    )
    body += list(after)
    html = "".join(body)
    return section("quality", "Data quality", lead, html) if section else html
