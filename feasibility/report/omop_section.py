"""The report's OMOP section: shown only when the registry is an OMOP CDM database.

It says what each registry table was mapped from (OMOP table, how, rows), which tables
are absent and why their facts are unknown, the DQD-style conformance checks run on the
OMOP tables themselves (:func:`feasibility.omop.conformance.omop_conformance`: standard
concepts, unit concepts of measurements, dates within observation periods, after birth,
before death) with the concepts involved, and the registry suites' findings traced back
to their OMOP source table and concept.

Every count goes through the report's :class:`~feasibility.disclosure.Policy` (rows
mapped, rows checked and failed, rows per concept): under ``round`` each is rounded up to
a multiple of 5 and 1..threshold reads "≤10"; percentages and pass/fail are worked out
from the shown numbers only (a status that only the exact count could decide reads
"borderline"). Counts that partition a shown total (rows per concept, diagnoses per
coding route) are hidden together under ``suppress`` when one of them, or what the shown
ones leave of the total, is small. Places that disclose are marked ``# disclosure:``.

:func:`render` is the entry point (registry, validation, policy); :func:`section` is the
same as a section builder over the report's data (``data.registry``, ``data.validation``,
``data.policy``), for a report whose sections are a list of such builders. Both return
an empty string for a native registry.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from feasibility import disclosure
from feasibility.report import html as H

SECTION_ID = "omop"
TITLE = "OMOP CDM source"

#: registry table -> (OMOP tables it is read from, how)
SOURCES: dict[str, tuple[str, str]] = {
    "patients": (
        "person, death, care_site",
        "sex from the gender concept; birth date from year/month/day of birth; earliest "
        "death date; site from the care site",
    ),
    "diagnoses": (
        "condition_occurrence",
        "ICD-10-CM codes from the source concept, else via 'Maps to'; OMOP concept sets "
        "(with descendants) as extra codes",
    ),
    "measurements": (
        "measurement",
        "lab tests by LOINC concept; UCUM unit concepts to contract units and factors "
        "(mapping.yaml)",
    ),
    "assessments": (
        "measurement, observation",
        "ECOG, CTCAE grades, pregnancy, breastfeeding, childbearing potential by concept",
    ),
    "medications": (
        "drug_exposure",
        "each drug rolled up to its RxNorm ingredient(s) through concept_ancestor",
    ),
    "procedures": ("procedure_occurrence", "category by concept set (with descendants)"),
    "lesions": ("measurement", "lesion-diameter concepts"),
    "therapies": ("episode", "oncology extension Treatment Regimen episodes"),
}
CODE_FROM: dict[str, str] = {
    "source_concept": "ICD-10-CM source concept",
    "maps_to": "ICD-10-CM concept that 'Maps to' the condition",
    "concept_set": "OMOP concept set of a code list",
    "concept": "no ICD-10-CM code (kept as OMOP:<concept_id>)",
}
CHECK_TITLES: dict[str, str] = {
    "standardConceptRecordCompleteness": "concept id 0 or missing (not mapped)",
    "isStandardValidConcept": "not a standard, valid concept",
    "measureUnitCompleteness": "measurement value without a unit concept",
    "withinObservationPeriod": "event outside every observation period",
    "plausibleAfterBirth": "event before the year of birth",
    "plausibleBeforeDeath": "event more than 60 days after death",
}
#: Concepts listed per conformance check or suite finding.
TOP_CONCEPTS = 5


def is_omop(registry: Any) -> bool:
    """True for a registry read from an OMOP CDM database (an ``OmopRegistry``)."""
    return registry is not None and hasattr(registry, "omop_absent")


# --------------------------------------------------------------------------- disclosure


def _partition(
    total: int | None, parts: Sequence[int], pol: disclosure.Policy
) -> tuple[int | None, list[int | None]]:
    """A shown total and shown parts of it (the parts may be only some of the total's).

    ``round``: each rounded on its own (intervals of 5 never pin a part). ``suppress``:
    exact, so a hidden part could be worked out from the total and the shown parts; when
    any part or the rest of the total is 1..threshold, every part is hidden."""
    shown_total = pol.show(total)  # disclosure: the total
    shown = pol.values(parts)  # disclosure: each part
    if pol.method == disclosure.SUPPRESS:
        rest = None if total is None else total - sum(parts)
        if any(s is None for s in shown) or pol.small(rest):
            shown = [None] * len(parts)
    return shown_total, shown


def _pct(part: int | None, total: int | None) -> float | None:
    """A percentage of shown numbers (None when either is hidden)."""
    if part is None or not total:
        return None
    return round(part * 100.0 / total, 1)


def _interval(pol: disclosure.Policy, shown: int | None, raw: int | None) -> tuple[int, int]:
    """The true counts a reader can infer from a shown count."""
    if pol.method == disclosure.NONE:
        return (raw or 0, raw or 0)
    if shown is None:
        return (1, pol.threshold)
    return pol.interval(shown)


def shown_status(
    pol: disclosure.Policy,
    failed: int | None,
    checked: int | None,
    shown_failed: int | None,
    shown_checked: int | None,
    threshold_pct: float,
) -> str:
    """pass / fail decided from what the reader can infer of the shown counts alone
    (``borderline`` when the exact counts would be needed)."""
    if not checked:
        return "not applicable"
    f_lo, f_hi = _interval(pol, shown_failed, failed)
    c_lo, c_hi = _interval(pol, shown_checked, checked)
    c_lo = max(c_lo, f_lo, 1)
    lo_pct = 100.0 * f_lo / c_hi
    hi_pct = 100.0 * f_hi / c_lo
    if lo_pct > threshold_pct:
        return "fail"
    if hi_pct <= threshold_pct:
        return "pass"
    return "borderline"


# --------------------------------------------------------------------------- html


def _num(value: int | None, pol: disclosure.Policy) -> str:
    if value is None:
        return f'<td class="num hidden-cell">{H.esc(pol.hidden_label)}</td>'
    return f'<td class="num count">{value:,}</td>'


def _table(head: Sequence[tuple[str, bool]], rows: Sequence[Sequence[str]]) -> str:
    """A table of pre-rendered cells; ``head`` is (title, numeric)."""
    th = "".join(
        f'<th class="num">{H.esc(t)}</th>' if n else f"<th>{H.esc(t)}</th>" for t, n in head
    )
    body = "".join("<tr>" + "".join(r) + "</tr>" for r in rows)
    return (
        f'<div class="table-wrap"><table class="data omop"><thead><tr>{th}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def _td(text: Any) -> str:
    return f"<td>{H.esc(text)}</td>"


def _pct_td(pct: float | None) -> str:
    if pct is None:
        return '<td class="num hidden-cell">—</td>'
    return f'<td class="num">{pct:.1f}%</td>'


def _concept_list(
    items: Sequence[tuple[int | None, str | None, int | None]], pol: disclosure.Policy
) -> str:
    """``id name (rows)`` per concept, the rows as shown."""
    out = []
    for cid, name, shown in items:
        rows = (
            f'<span class="count">{shown:,}</span>'
            if shown is not None
            else f'<span class="hidden-count">{H.esc(pol.hidden_label)}</span>'
        )
        out.append(
            f"<li><code>{H.esc(cid if cid is not None else 'null')}</code> "
            f'<span class="concept-name">{H.esc(name or "(not in the concept table)")}</span> '
            f"({rows} rows)</li>"
        )
    return f'<ul class="concepts">{"".join(out)}</ul>' if out else ""


# --------------------------------------------------------------------------- parts


def _rows_by(raw: pl.LazyFrame | None, column: str) -> dict[str, int]:
    if raw is None or column not in raw.collect_schema().names():
        return {}
    counts = raw.group_by(column).len().collect()
    return {str(k): int(n) for k, n in counts.iter_rows() if k is not None}


def _mapping_part(registry: Any, pol: disclosure.Policy) -> str:
    from feasibility.schema import TABLES

    raw = getattr(registry, "raw", {}) or {}
    absent: dict[str, str] = dict(getattr(registry, "omop_absent", {}) or {})
    present = set(getattr(registry, "present", ()) or ())
    rows = []
    notes = []
    for table in TABLES:
        source, how = SOURCES.get(table, ("", ""))
        if table not in present:
            why = absent.get(table, "the OMOP database has nothing to map to it")
            rows.append(
                [
                    _td(table),
                    _td(source),
                    f"<td><strong>absent</strong>: its facts are unknown for every patient "
                    f"(criteria that need them are unknown, never failed). "
                    f"{H.esc(why)}</td>",
                    _num(0, pol),
                ]
            )
            continue
        frame = raw.get(table)
        total = None
        if frame is not None:
            total = int(frame.select(pl.len()).collect().item())
        shown_total = pol.show(total)  # disclosure: rows mapped into one registry table
        rows.append([_td(table), _td(source), _td(how), _num(shown_total, pol)])
        if table == "diagnoses" and frame is not None:
            by = _rows_by(frame, "code_from")
            keys = [k for k in CODE_FROM if k in by]
            _, parts = _partition(total, [by[k] for k in keys], pol)
            items = "".join(
                f"<li>{H.esc(CODE_FROM[k])}: "
                + (
                    f'<span class="count">{p:,}</span>'
                    if p is not None
                    else f'<span class="hidden-count">{H.esc(pol.hidden_label)}</span>'
                )
                + " rows</li>"
                for k, p in zip(keys, parts, strict=True)
            )
            if items:
                notes.append(
                    "<p>Diagnosis rows by where their code came from (a condition may give "
                    f"several rows: one per code and per concept set):</p><ul>{items}</ul>"
                )
    return (
        "<h3>What was mapped from where</h3>"
        + _table(
            [("Registry table", False), ("OMOP table(s)", False), ("How", False), ("Rows", True)],
            rows,
        )
        + "".join(notes)
    )


def _conformance_part(conf: pl.DataFrame, pol: disclosure.Policy) -> str:
    rows = []
    passed = []
    for r in conf.iter_rows(named=True):
        failed, checked = r["rows_failed"], r["rows_checked"]
        # disclosure: rows checked and rows failing, each a count of OMOP rows
        s_checked = pol.show(checked)
        examples = [(e["concept_id"], e["concept_name"], e["rows"]) for e in r["examples"] or []]
        s_failed, s_parts = _partition(failed, [n for _, _, n in examples], pol)
        status = shown_status(pol, failed, checked, s_failed, s_checked, r["threshold_pct"])
        where = f"{r['table']}.{r['column']}"
        if not failed:
            passed.append(f"{r['check']} on {where}" + ("" if checked else " (no rows)"))
            continue
        concepts = _concept_list(
            [(cid, name, s) for (cid, name, _), s in zip(examples, s_parts, strict=True)], pol
        )
        rows.append(
            [
                f"<td><strong>{H.esc(r['check'])}</strong><br>"
                f"{H.esc(CHECK_TITLES.get(r['check'], r['description']))}</td>",
                f"<td><code>{H.esc(where)}</code></td>",
                _num(s_checked, pol),
                _num(s_failed, pol),
                _pct_td(_pct(s_failed, s_checked)),
                f'<td class="num">{r["threshold_pct"]:g}%</td>',
                f'<td class="status-{H.esc(status.replace(" ", "-"))}">{H.esc(status)}</td>',
                f"<td>{concepts}</td>",
            ]
        )
    head = [
        ("Check", False),
        ("OMOP table.column", False),
        ("Rows checked", True),
        ("Rows failing", True),
        ("% failing", True),
        ("Allowed", True),
        ("Status", False),
        ("Concepts involved (most frequent)", False),
    ]
    body = _table(head, rows) if rows else "<p>No conformance check found a failing row.</p>"
    if passed:
        body += (
            "<details><summary>Checks with no failing row</summary><ul>"
            + "".join(f"<li><code>{H.esc(p)}</code></li>" for p in passed)
            + "</ul></details>"
        )
    return (
        "<h3>OMOP conformance (checks in the manner of OHDSI's Data Quality Dashboard)</h3>"
        "<p>Run on the OMOP tables themselves, before mapping. Percentages and pass/fail "
        "are worked out from the counts shown; <em>borderline</em> means only the exact "
        "counts could tell. The full table, with exact counts, is "
        "<code>omop_conformance.csv</code> of <code>feasibility validate</code> (internal "
        "use).</p>" + body
    )


def _suite_part(registry: Any, validation: Any, pol: disclosure.Policy) -> str:
    """Registry-suite findings whose failing rows came from OMOP rows: per check, the
    OMOP source table and the most frequent concepts."""
    from feasibility.omop.conformance import with_omop_source

    summary = getattr(validation, "summary", None)
    unexpected = getattr(validation, "unexpected", None)
    if summary is None or unexpected is None or unexpected.height == 0:
        return ""
    traced = with_omop_source(unexpected.filter(pl.col("row").is_not_null()), registry)
    if "source_table" not in traced.columns:
        return ""
    traced = traced.filter(pl.col("source_table").is_not_null())
    if traced.height == 0:
        return ""
    by = (
        traced.group_by("check", "source_table", "concept_id")
        .len()
        .sort(["check", "len", "concept_id"], descending=[False, True, False])
    )
    names = _concept_names(registry, by["concept_id"].drop_nulls().unique().to_list())
    info = {
        r["check"]: r
        for r in summary.select("check", "title", "status", "unexpected_count").iter_rows(
            named=True
        )
    }
    rows = []
    for (check,), group in by.group_by(["check"], maintain_order=True):
        meta = info.get(check, {})
        total = meta.get("unexpected_count")
        if total is None:
            total = int(group["len"].sum())
        top = group.head(TOP_CONCEPTS)
        # disclosure: the check's failing rows and its rows per concept (parts of it)
        s_total, s_parts = _partition(int(total), [int(n) for n in top["len"]], pol)
        concepts = _concept_list(
            [
                (cid, names.get(cid), s)
                for cid, s in zip(top["concept_id"].to_list(), s_parts, strict=True)
            ],
            pol,
        )
        tables = ", ".join(sorted(set(group["source_table"].to_list())))
        rows.append(
            [
                f"<td>{H.esc(meta.get('title') or check)}<br><code>{H.esc(check)}</code></td>",
                _td(meta.get("status", "")),
                _num(s_total, pol),
                f"<td><code>{H.esc(tables)}</code></td>",
                f"<td>{concepts}</td>",
            ]
        )
    return (
        "<h3>Data-quality findings traced to their OMOP source</h3>"
        "<p>The registry checks run on the mapped tables; each failing row keeps the OMOP "
        "table and concept it was mapped from.</p>"
        + _table(
            [
                ("Finding", False),
                ("Status", False),
                ("Rows failing", True),
                ("OMOP table", False),
                ("Concepts (most frequent)", False),
            ],
            rows,
        )
    )


def _concept_names(registry: Any, ids: list[int]) -> dict[int, str]:
    source = getattr(registry, "source", None)
    if source is None or not ids or not source.has("concept"):
        return {}
    found = (
        source.get("concept")
        .select(pl.col("concept_id").cast(pl.Int64), pl.col("concept_name").cast(pl.String))
        .filter(pl.col("concept_id").is_in(ids))
        .collect()
    )
    return {int(k): v for k, v in found.iter_rows()}


def _birth_note(registry: Any, pol: disclosure.Policy) -> list[str]:
    raw = (getattr(registry, "raw", {}) or {}).get("patients")
    if raw is None or "birth_date_precision" not in raw.collect_schema().names():
        return []
    n = int(raw.filter(pl.col("birth_date_precision") != "day").select(pl.len()).collect().item())
    if not n:
        return []
    shown = pol.text(pol.show(n))  # disclosure: patients with an imprecise birth date
    return [
        f"{shown} patients have only a year (or year and month) of birth; the missing part "
        "is taken as the middle of the year or of the month, so an age may be off by one "
        "year near the birthday"
    ]


# --------------------------------------------------------------------------- entry point


def render(
    registry: Any,
    validation: Any = None,
    pol: disclosure.Policy | None = None,
    *,
    conformance: pl.DataFrame | None = None,
) -> str:
    """The OMOP section as HTML, or "" when ``registry`` is not an OMOP database.

    ``conformance``: :func:`~feasibility.omop.conformance.omop_conformance` with
    ``examples=True`` (computed here when not given)."""
    if not is_omop(registry):
        return ""
    pol = pol or disclosure.Policy()
    if conformance is None:
        from feasibility.omop.conformance import omop_conformance

        conformance = omop_conformance(registry, examples=True)
    source = getattr(registry, "source", None)
    kind = getattr(source, "kind", "")
    warnings = getattr(registry, "warnings", ()) or ()
    # the reader's notes without numbers (the hierarchy used); absent tables are in the
    # table above, and the one note with a count (birth dates) is rebuilt disclosed
    notes = [w.removeprefix("OMOP: ") for w in warnings if w.startswith("OMOP: ")]
    notes = [n for n in notes if " absent: " not in n and not any(c.isdigit() for c in n)]
    notes += _birth_note(registry, pol)
    lead = (
        "This registry is an OMOP CDM 5.4 database"
        + (f" ({kind})" if kind else "")
        + ", mapped to the registry tables with the reviewed mapping file "
        "feasibility/omop/mapping.yaml and the database's own vocabulary."
    )
    body = _mapping_part(registry, pol)
    if notes:
        body += "<ul>" + "".join(f"<li>{H.esc(n)}</li>" for n in notes) + "</ul>"
    body += _conformance_part(conformance, pol)
    body += _suite_part(registry, validation, pol)
    return (
        f'<section id="{SECTION_ID}"><h2>{H.esc(TITLE)}</h2>'
        f'<p class="lead">{H.esc(lead)}</p>{body}</section>'
    )


def section(data: Any) -> str:
    """The OMOP section as a section builder: ``data`` is the report's disclosed data
    (``registry``, ``validation``, ``policy``); "" unless the registry is OMOP. This
    section discloses its own counts through ``data.policy`` (they come from the OMOP
    tables, not from the screen)."""
    return render(
        getattr(data, "registry", None),
        getattr(data, "validation", None),
        getattr(data, "policy", None),
    )
