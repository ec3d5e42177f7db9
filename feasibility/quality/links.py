"""Which criteria of a protocol read which registry field, derived from the protocol's own
rules at run time (no hand-typed map).

A data-quality check names the fields its failing rows make unusable (``meta.affects`` in
the suites: ``[table, column, selector]``, ``*`` for any table or column, selector null for
every test, item, code or drug). A criterion *uses* the fields its rule leaves read
(:meth:`Rule.reads`) plus the dates, routes and line numbers the leaf needs to place a
record in its window; a criterion reference (``measurable_disease``) uses what the
referenced criteria use. A check is linked to a criterion when one of its affected fields
matches one of the criterion's used fields.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import polars as pl

from feasibility.schema import EVENT_DATE

Field = tuple[str, str, str | None]


@dataclass(frozen=True)
class Use:
    """One field a criterion's rule reads; ``window_days`` for a dated record (None: any date
    on or before index; -1: the field is not windowed, e.g. a patient attribute)."""

    table: str
    column: str
    selector: str | None = None
    window_days: int | None = -1
    kind: str = "attribute"  # attribute | latest | event


def _window_days(leaf: Any, attr: str = "window") -> int | None:
    window = getattr(leaf, attr, None)
    return getattr(window, "days", None)


def _leaf_uses(leaf: Any) -> list[Use]:
    """Fields a leaf rule reads: its declared ``reads()`` plus the columns that place a record
    in time or decide whether it counts (dates, route, line number)."""
    name = type(leaf).__name__
    out: list[Use] = []
    if name == "Latest":
        days = _window_days(leaf)
        table = leaf.table
        out += [
            Use(table, "value", leaf.name, days, "latest"),
            Use(table, EVENT_DATE[table], leaf.name, days, "latest"),
        ]
        return out
    if name == "CockcroftGault":
        cre, wt = _window_days(leaf, "creatinine_window"), _window_days(leaf, "weight_window")
        return [
            Use("patients", "sex"),
            Use("patients", "birth_date"),
            Use("measurements", "value", "creatinine", cre, "latest"),
            Use("measurements", "measured_on", "creatinine", cre, "latest"),
            Use("measurements", "value", "weight", wt, "latest"),
            Use("measurements", "measured_on", "weight", wt, "latest"),
        ]
    query = getattr(leaf, "query", None)
    if name == "Records" and query is not None:  # a rule written from the pieces
        days = None if query.window is None else query.window.days
        kind = "latest" if query.pick.kind in ("latest", "max") else "event"
        named = next((f.name for f in query.selectors), None) if kind == "latest" else None
        out = [Use(t, c, s, days, kind) for t, c, s in leaf.reads()]
        return out + [Use(query.table, query.rows.date, named, days, kind)]
    reads: Iterable[Field] = leaf.reads() if hasattr(leaf, "reads") else []
    for table, column, selector in reads:
        if table == "patients":
            out.append(Use(table, column, selector))
            continue
        days = _window_days(leaf)
        if name == "Medication":
            od = getattr(leaf, "overlap_days", None)
            days = None if od is None else int(od)
        out.append(Use(table, column, selector, days, "event"))
    if name == "Diagnosis":
        out.append(Use("diagnoses", "diagnosed_on", None, _window_days(leaf), "event"))
    elif name == "Medication":
        days = out[0].window_days if out else None
        out += [
            Use("medications", "start_date", None, days, "event"),
            Use("medications", "end_date", None, days, "event"),
        ]
        if getattr(leaf, "systemic_only", False):
            out.append(Use("medications", "route", None, days, "event"))
    elif name == "Procedure":
        out.append(Use("procedures", "performed_on", None, _window_days(leaf), "event"))
    elif name == "Lesion":
        out.append(Use("lesions", "imaged_on", None, _window_days(leaf), "event"))
    elif name == "Therapy":
        for col in ("start_date", "end_date"):
            out.append(Use("therapies", col, None, None, "event"))
        if getattr(leaf, "min_line", None) is not None:
            out.append(Use("therapies", "line_number", None, None, "event"))
    return out


def _leaves(rule: Any) -> list[Any]:
    kids = rule.children() if hasattr(rule, "children") else ()
    if not kids:
        return [rule]
    return [leaf for k in kids for leaf in _leaves(k)]


def criterion_uses(protocol: Any) -> dict[str, list[Use]]:
    """Criterion id -> the fields it uses (criterion references resolved), protocol order."""
    rules = {c.id: getattr(c, "rule_obj", None) for c in protocol.criteria}

    def uses(cid: str, seen: frozenset[str]) -> list[Use]:
        rule = rules.get(cid)
        if rule is None or cid in seen:
            return []
        out: list[Use] = []
        for leaf in _leaves(rule):
            found = (
                uses(leaf.criterion, seen | {cid})
                if type(leaf).__name__ == "Ref"
                else _leaf_uses(leaf)
            )
            out += [u for u in found if u not in out]
        return out

    return {c.id: uses(c.id, frozenset()) for c in protocol.criteria}


def _matches(affected: Field, use: Use) -> bool:
    table, column, selector = affected
    if table == "*":
        return True
    if table != use.table:
        return False
    if column not in ("*", use.column):
        return False
    return selector is None or use.selector is None or selector == use.selector


def criteria_for(affects: Iterable[Field], uses: dict[str, list[Use]]) -> list[str]:
    """Criterion ids (protocol order) using any of the ``affects`` fields."""
    fields = [tuple(a) for a in affects]
    return [
        cid
        for cid, us in uses.items()
        if any(_matches(f, u) for f in fields for u in us)  # type: ignore[arg-type]
    ]


def field_text(affects: Iterable[Field]) -> str:
    """``table.column[selector]`` per affected field, ``;``-separated."""
    out = []
    for table, column, selector in affects:
        text = f"{table}.{column}" + (f"[{selector}]" if selector else "")
        if text not in out:
            out.append(text)
    return "; ".join(out)


def parse_fields(text: str | None) -> list[Field]:
    """The inverse of :func:`field_text`."""
    out: list[Field] = []
    for part in (text or "").split(";"):
        part = part.strip()
        if not part:
            continue
        selector = None
        if part.endswith("]") and "[" in part:
            part, selector = part[:-1].split("[", 1)
        table, _, column = part.partition(".")
        out.append((table, column or "*", selector))
    return out


def link_criteria(summary: pl.DataFrame, protocol: Any) -> pl.DataFrame:
    """``summary`` with ``criteria`` (``;``-separated ids, protocol order) filled from the
    protocol's own rules: the criteria using a field the check's rows affect."""
    uses = criterion_uses(protocol)
    texts = summary.get_column("affects").to_list()
    cache: dict[str | None, str | None] = {}
    for t in set(texts):
        ids = criteria_for(parse_fields(t), uses)
        cache[t] = ";".join(ids) or None
    return summary.with_columns(pl.Series("criteria", [cache[t] for t in texts], dtype=pl.String))
