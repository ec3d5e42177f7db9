"""Criterion readiness for the screened population: can the data decide each criterion, and
where not, why?

The population is the patients *screened*: every patient with an index date (in event
mode, patients with a qualifying index event, each at the index the screen chose for
them). Per criterion of any protocol (fields and windows from its own rules,
:mod:`feasibility.quality.links`):

* ``ready_pct``: share of screened patients whose status is pass or fail (0-100); also
  among the patients *reaching* the criterion's funnel step (not failing an earlier step);
* why the others are ``unknown``, one reason each, in this order: a **structurally
  absent** field (fewer than ``STRUCTURAL_PCT`` % of screened patients have any record of
  it at any date: the registry almost never records it, so "could be eligible" rests on
  it); values **set aside** (a record in the window, but in an unaccepted unit,
  implausible or outside the vocabulary); **not measured in the window**; other (sex U,
  undated rows, ...);
* closed-world criteria (no record = pass or fail, e.g. nursing) are decided for nearly
  everyone, so ``with_record_pct`` also gives the share with any record of what they read,
  and a structurally absent field is flagged, never shown as ready;
* ``could_flip``: screened patients with a row flagged by a data-quality check (warning or
  error) in a field the criterion reads, dated in its window (or undated): statuses a data
  defect could change;
* ``badge``: ``structurally missing`` (a field almost never recorded, or its table absent),
  ``ready`` (>= ``READY_PCT`` % decided, with records for >= ``RECORD_PCT`` % when closed-world,
  fewer than ``FLIP_PCT`` % with a defect), else ``partly``.

Thresholds are team decisions, stated here and in the report.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from feasibility.quality.links import Use, criterion_uses, field_text
from feasibility.quality.result import FINDING, STATUS_RANK, ValidationResult
from feasibility.schema import EVENT_DATE, INTERVALS

#: Team decisions (percent of screened patients).
STRUCTURAL_PCT = 5.0
READY_PCT = 90.0
RECORD_PCT = 50.0
FLIP_PCT = 1.0
BADGES = ("ready", "partly", "structurally missing")

SCHEMA = {
    "criterion": pl.String,
    "label": pl.String,
    "badge": pl.String,
    "closed_world": pl.Boolean,
    "screened": pl.Int64,
    "decided": pl.Int64,
    "ready_pct": pl.Float64,
    "reaching": pl.Int64,
    "ready_pct_reaching": pl.Float64,
    "unknown": pl.Int64,
    "unknown_structurally_absent": pl.Int64,
    "unknown_set_aside": pl.Int64,
    "unknown_not_in_window": pl.Int64,
    "unknown_other": pl.Int64,
    "with_record": pl.Int64,
    "with_record_pct": pl.Float64,
    "structurally_absent": pl.String,
    "could_flip": pl.Int64,
    "could_flip_pct": pl.Float64,
    "tables_absent": pl.String,
    "n_findings_error": pl.Int64,
    "n_findings_warning": pl.Int64,
    "n_findings_info": pl.Int64,
    "worst_status": pl.String,
    "fields": pl.String,
    "data_available_pct": pl.Float64,
}

SELECTOR = {
    "measurements": "test",
    "assessments": "item",
    "diagnoses": "code",
    "medications": "drug",
    "procedures": "category",
}
#: Checks whose flagged rows can never change a status (an exact copy counts once).
NO_FLIP = (".row.not_duplicate",)


def _selector_matcher(table: str, selector: str | None):
    """A predicate on a raw selector value: does the row belong to ``selector`` (a code
    list, drug list or procedure category; test and item names compare equal)? A value
    that nearly spells a listed one (:mod:`.nearmiss`) belongs too: it is the defect that
    could flip the status."""
    if selector is None:
        return lambda v: True
    if table in ("diagnoses", "medications"):
        from feasibility.protocol import load_codelists
        from feasibility.quality.nearmiss import code_near_miss, drug_near_miss
        from feasibility.schema import canonical_drug

        codes, drugs = load_codelists()
        if table == "diagnoses" and selector in codes:
            cl = codes[selector]

            def code(v: str | None) -> bool:
                if v is None:
                    return False
                near = code_near_miss(v)
                return cl.matches(v) or (near is not None and cl.matches(near))

            return code
        if table == "medications" and selector in drugs:
            spellings = drugs[selector].spellings

            def drug(v: str | None) -> bool:
                if v is None:
                    return False
                if canonical_drug(v) in spellings or v.strip().lower() in spellings:
                    return True
                return drug_near_miss(v) in set(spellings.values())

            return drug
    return lambda v: v is not None and v.strip().lower() == selector


_IDX = "__index"


def _pct(n: int | None, d: int) -> float | None:
    return None if n is None or not d else 100.0 * n / d


def _screened(status: pl.DataFrame) -> pl.DataFrame:
    """patient_id and index date of every screened patient (one row each)."""
    if "index_date" not in status.columns:
        return status.select("patient_id", pl.lit(None, pl.Date).alias(_IDX)).head(0)
    idx = pl.col("index_date")
    if status.schema["index_date"] == pl.String:
        idx = idx.str.to_date(strict=False)
    return status.select("patient_id", idx.cast(pl.Date).alias(_IDX)).drop_nulls(_IDX)


class _Facts:
    """Per-patient facts at the screened index, computed once per (table, selector, window)."""

    def __init__(self, registry: Any, validation: ValidationResult, screened: pl.DataFrame):
        self.registry = registry
        self.screened = screened
        self.present = frozenset(getattr(registry, "present", ()) or validation.present)
        bad = validation.summary.filter(
            pl.col("severity").is_in(["error", "warning"]),
            pl.col("source") == "gx",
            ~pl.col("check").str.ends_with(NO_FLIP[0]),
        ).select("check", "table", "affects")
        rows = validation.unexpected.join(bad.select("check"), on="check", how="semi")
        self.flagged = rows.filter(pl.col("row").is_not_null()).join(
            bad.select("check", "affects"), on="check"
        )
        self._rows: dict[str, pl.DataFrame] = {}
        self._cache: dict[tuple, pl.Series] = {}

    def rows(self, table: str) -> pl.DataFrame:
        """Raw rows of ``table`` (_row, patient_id, __sel, __date, usable) of screened patients."""
        if table in self._rows:
            return self._rows[table]
        reg = self.registry
        date_col = EVENT_DATE.get(table)
        raw = reg.raw[table]
        names = raw.collect_schema().names()
        sel_col = SELECTOR.get(table)
        sel = (
            pl.col(sel_col).cast(pl.String)
            if sel_col is not None and sel_col in names
            else pl.lit(None, pl.String)
        )
        if table in ("measurements", "assessments"):
            sel = sel.str.strip_chars().str.to_lowercase()
        frame = (
            raw.select(
                pl.col("_row").cast(pl.Int64),
                pl.col("patient_id").cast(pl.String).str.strip_chars(),
                sel.alias("__sel"),
                (
                    pl.col(date_col)
                    if date_col is not None and date_col in names
                    else pl.lit(None, pl.Date)
                ).alias("__date"),
                (pl.col("value").is_not_null() if "value" in names else pl.lit(True)).alias(
                    "__has_value"
                ),
            )
            .join(self.screened.lazy(), on="patient_id", how="semi")
            .collect()
        )
        kept = reg.tables[table].select(pl.col("_row").cast(pl.Int64)).collect()
        flagged_values = self.flagged.filter(
            pl.col("table") == table,
            pl.col("check").str.contains(r"\.(plausible|accepted|vocabulary)"),
        ).select("row")
        frame = frame.with_columns(
            (
                pl.col("_row").is_in(kept.get_column("_row").implode())
                & pl.col("__has_value")
                & ~pl.col("_row").is_in(flagged_values.get_column("row").implode())
            ).alias("usable")
        )
        self._rows[table] = frame
        return frame

    def _in_window(self, frame: pl.DataFrame, days: int | None) -> pl.DataFrame:
        joined = frame.join(self.screened, on="patient_id")
        keep = pl.col("__date") <= pl.col(_IDX)
        if days is not None and days >= 0:
            keep = keep & (pl.col("__date") >= pl.col(_IDX) - pl.duration(days=days))
        return joined.filter(keep)

    def patients(self, kind: str, use: Use) -> pl.Series:
        """Screened patients with: ``usable`` (a usable record in the window), ``set_aside``
        (a record in the window the screen cannot use), ``ever`` (any record, any date)."""
        key = (kind, use.table, use.selector if use.kind == "latest" else None, use.window_days)
        if key in self._cache:
            return self._cache[key]
        frame = self.rows(use.table)
        if use.kind == "latest":
            frame = frame.filter(pl.col("__sel") == use.selector)
        if kind == "ever":
            out = frame.get_column("patient_id").unique()
        else:
            win = self._in_window(frame, use.window_days if use.kind == "latest" else None)
            pick = pl.col("usable") if kind == "usable" else ~pl.col("usable")
            out = win.filter(pick).get_column("patient_id").unique()
        self._cache[key] = out
        return out

    def attribute(self, column: str) -> set[str]:
        """Screened patients with a non-null patients.``column``."""
        raw = self.registry.raw["patients"]
        if column not in raw.collect_schema().names():
            return set()
        got = (
            raw.select(pl.col("patient_id").str.strip_chars(), column)
            .filter(pl.col(column).is_not_null())
            .collect()
        )
        return set(got.get_column("patient_id").to_list())

    def flagged_patients(self, cid: str, criteria_col: pl.DataFrame, uses: list[Use]) -> set[str]:
        """Screened patients with a flagged row (check linked to ``cid``) in a used field,
        dated in its window or undated."""
        checks = criteria_col.filter(pl.col("__crit").list.contains(cid)).get_column("check")
        rows = self.flagged.filter(pl.col("check").is_in(checks.implode()))
        out: set[str] = set()
        for table in sorted({u.table for u in uses if u.table != "patients"}):
            mine = rows.filter(pl.col("table") == table).select("row").unique()
            if mine.is_empty() or table not in self.present:
                continue
            frame = self.rows(table).join(mine, left_on="_row", right_on="row", how="semi")
            mine_uses = [u for u in uses if u.table == table]
            # an event criterion reads only the rows of its code list, drug list or category:
            # a flagged row of another code cannot change it (its date column included)
            lists = sorted({u.selector for u in mine_uses if u.kind == "event" and u.selector})
            if lists:
                matchers = [_selector_matcher(table, sel) for sel in lists]
                values = [
                    v
                    for v in frame.get_column("__sel").unique().to_list()
                    if any(m(v) for m in matchers)
                ]
                frame = frame.filter(pl.col("__sel").is_in(values))
            for u in mine_uses:
                part = frame
                if u.kind == "latest":
                    part = part.filter(pl.col("__sel") == u.selector)
                days = u.window_days if u.window_days is not None and u.window_days >= 0 else None
                if table in INTERVALS:
                    days = None  # an exposure started any time may still run at the index
                undated = part.filter(pl.col("__date").is_null())
                out |= set(undated.get_column("patient_id").to_list())
                out |= set(self._in_window(part, days).get_column("patient_id").to_list())
        if any(u.table == "patients" for u in uses):
            pats = rows.filter(pl.col("table") == "patients").get_column("patient_id")
            out |= set(pats.drop_nulls().str.strip_chars().to_list())
        if not hasattr(self, "_screened_ids"):
            self._screened_ids = set(self.screened.get_column("patient_id").to_list())
        return out & self._screened_ids


def _distinct(uses) -> list[Use]:
    """One use per (table, selector, window): a latest value and its date are one fact."""
    out: dict[tuple, Use] = {}
    for u in uses:
        key = (u.table, u.selector if u.kind == "latest" else None, u.window_days, u.kind)
        if u.kind == "latest":
            out.setdefault(key, u)
        else:
            out.setdefault((*key, u.column), u)
    return list(out.values())


def _reasons(
    unknown: pl.DataFrame, latest: list[Use], structural: list[Use], absent: bool, facts: _Facts
) -> dict[str, int]:
    """Why each unknown patient is unknown, first reason that applies: a structurally
    absent field (or table) lacking, a set-aside value in the window, no value in the
    window, other."""
    pid = pl.col("patient_id")
    lack = [~pid.is_in(facts.patients("usable", u).implode()) for u in latest]
    aside = [pid.is_in(facts.patients("set_aside", u).implode()) for u in latest]
    none = pl.lit(False)
    is_structural = pl.lit(absent) | pl.any_horizontal(
        none, *(lk for lk, u in zip(lack, latest, strict=True) if u in structural)
    )
    is_aside = pl.any_horizontal(none, *(lk & a for lk, a in zip(lack, aside, strict=True)))
    is_window = pl.any_horizontal(none, *lack)
    reason = (
        pl.when(is_structural)
        .then(pl.lit("structural"))
        .when(is_aside)
        .then(pl.lit("set_aside"))
        .when(is_window)
        .then(pl.lit("window"))
        .otherwise(pl.lit("other"))
    )
    got = dict(unknown.select(reason.alias("r")).group_by("r").len().iter_rows())
    return {k: int(got.get(k, 0)) for k in ("structural", "set_aside", "window", "other")}


def _leaves(crit: Any) -> list[Any]:
    from feasibility.protocol import leaves

    rule = getattr(crit, "rule_obj", None)
    return leaves(rule) if rule is not None else []


def _reaching(status: pl.DataFrame, protocol: Any, cid: str) -> pl.Series | None:
    """Mask of screened rows not failing any funnel step before ``cid``'s step."""
    steps = list(getattr(protocol, "steps", ()) or ())
    step: str | None = cid
    if cid not in steps:
        parents = [
            c.id
            for c in protocol.criteria
            if c.id in steps and any(getattr(leaf, "criterion", None) == cid for leaf in _leaves(c))
        ]
        step = parents[0] if parents else None
    if step is None:
        return None
    before = [s for s in steps[: steps.index(step)] if s in status.columns]
    if "index_event" in status.columns:
        before = ["index_event", *before]
    if not before:
        return pl.Series([True] * status.height)
    return status.select(pl.all_horizontal(pl.col(s) != "fail" for s in before)).to_series()


def criterion_readiness(
    protocol: Any,
    validation: ValidationResult,
    screen_result: Any,
    registry: Any = None,
) -> pl.DataFrame:
    """One row per computable criterion of ``protocol`` (protocol order); columns in
    ``SCHEMA`` (percentages 0-100). ``registry`` defaults to the one validated."""
    validation = validation.for_protocol(protocol)
    registry = registry if registry is not None else getattr(validation, "registry", None)
    status = screen_result.patient_status
    screened_status = status.filter(pl.col("index_date").is_not_null())
    screened = _screened(status)
    n = screened.height
    summary = validation.summary.with_columns(
        pl.col("criteria").fill_null("").str.split(";").alias("__crit")
    )
    present = frozenset(getattr(registry, "present", ()) or validation.present)
    facts = _Facts(registry, validation, screened) if registry is not None else None
    uses_by = criterion_uses(protocol)
    rows = []
    for crit in protocol.criteria:
        uses = uses_by.get(crit.id, [])
        tables = sorted({u.table for u in uses})
        absent = [t for t in tables if present and t not in present]
        col = screened_status.get_column(crit.id) if crit.id in status.columns else None
        unknown_mask = (col == "unknown") if col is not None else None
        decided = None if col is None else int((col != "unknown").sum())
        unknown = None if unknown_mask is None else int(unknown_mask.sum())
        closed = getattr(crit, "if_missing", "unknown") != "unknown"
        reach = _reaching(screened_status, protocol, crit.id) if col is not None else None
        reaching = None if reach is None else int(reach.sum())
        decided_reaching = None if reach is None else int(((col != "unknown") & reach).sum())
        reasons: Mapping[str, int | None] = {
            "structural": None,
            "set_aside": None,
            "window": None,
            "other": None,
        }
        with_record = structural = flip = None
        if facts is not None and col is not None:
            latest = _distinct(u for u in uses if u.kind == "latest" and u.table in present)
            events = _distinct(u for u in uses if u.kind == "event" and u.table in present)
            structural_uses = [
                u
                for u in latest + events
                if facts.patients("ever", u).len() < STRUCTURAL_PCT / 100 * n
            ]
            structural = [field_text([(u.table, u.column, u.selector)]) for u in structural_uses]
            structural += [f"{t} (table absent)" for t in absent]
            reasons = _reasons(
                screened_status.filter(unknown_mask).select("patient_id"),
                latest,
                structural_uses,
                bool(absent),
                facts,
            )
            if latest or events:
                have = [facts.patients("usable", u) for u in latest + events]
                have += [facts.patients("set_aside", u) for u in events]
                ids = pl.concat(have).unique() if have else pl.Series([], dtype=pl.String)
                with_record = int(screened.get_column("patient_id").is_in(ids.implode()).sum())
            elif closed:
                with_record = None  # a patient attribute: its null means something
            flip = len(facts.flagged_patients(crit.id, summary, uses))
        mine = summary.filter(pl.col("__crit").list.contains(crit.id))
        findings = mine.filter(pl.col("status").is_in(FINDING))
        count = {
            sev: findings.filter(pl.col("severity") == sev).height
            for sev in ("error", "warning", "info")
        }
        statuses = mine.get_column("status").to_list()
        worst = max(statuses, key=lambda s: STATUS_RANK.get(s, -1)) if statuses else None
        ready_pct = 0.0 if absent else _pct(decided, n)
        badge = _badge(ready_pct, closed, _pct(with_record, n), _pct(flip, n), structural)
        rows.append(
            {
                "criterion": crit.id,
                "label": getattr(crit, "label", crit.id),
                "badge": badge,
                "closed_world": closed,
                "screened": n,
                "decided": decided,
                "ready_pct": ready_pct,
                "reaching": reaching,
                "ready_pct_reaching": 0.0 if absent else _pct(decided_reaching, reaching or 0),
                "unknown": unknown,
                "unknown_structurally_absent": reasons["structural"],
                "unknown_set_aside": reasons["set_aside"],
                "unknown_not_in_window": reasons["window"],
                "unknown_other": reasons["other"],
                "with_record": with_record,
                "with_record_pct": _pct(with_record, n),
                "structurally_absent": "; ".join(structural or []) or None,
                "could_flip": flip,
                "could_flip_pct": _pct(flip, n),
                "tables_absent": ";".join(absent) or None,
                "n_findings_error": count["error"],
                "n_findings_warning": count["warning"],
                "n_findings_info": count["info"],
                "worst_status": worst,
                "fields": field_text((u.table, u.column, u.selector) for u in uses) or None,
                "data_available_pct": ready_pct,
            }
        )
    return pl.DataFrame(rows, schema=SCHEMA, orient="row")


def _badge(
    ready: float | None,
    closed: bool,
    record: float | None,
    flip: float | None,
    structural: list[str] | None,
) -> str | None:
    """One badge per criterion (see the module docstring)."""
    if structural:
        return "structurally missing"
    if ready is None:
        return None
    ok = ready >= READY_PCT and (flip is None or flip < FLIP_PCT)
    if closed and record is not None:
        ok = ok and record >= RECORD_PCT
    return "ready" if ok else "partly"
