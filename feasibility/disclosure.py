"""Disclosure control: one policy object through which every shared number passes.

Everything made for sharing (the report's text, tables and chart data, the CSV files
beside it, an exported notebook page) takes its numbers from one :class:`Policy`, applied
to all the numbers of that output together (contract section 5.4). The analyst's working
files (``feasibility screen``) are exact and stay inside the data environment.

Methods (one option, ``method``):

* ``round`` (default, informative and safe): a count from 1 to ``threshold`` (default 10)
  is shown as "≤10"; every other count is rounded *up* to the next multiple of ``base``
  (5): a shown 15 means 11 to 15, so every shown count stands for ``base`` possible true
  counts and none is exact; zero is shown. Percentages are computed from the shown
  numbers, and numbers that follow from others (readiness, per-year figures) are
  computed from shown numbers only, so they add nothing a reader could combine. This follows what trusted producers publish (OpenSAFELY
  redacts counts ≤ 7 and rounds the rest to the nearest 5; the CMS cell-size policy
  forbids cells 1-10, derivable ones included).
* ``suppress``: exact counts, with primary and complementary cell suppression (see
  :mod:`feasibility.suppression`), for sites whose rules demand it. Hidden cells read
  "hidden".
* ``none``: exact counts, nothing hidden.

A setting that can show a count from 1 to 10 (``none``, or a threshold below 10) makes the
output **internal**: every page and every CSV then carries :data:`INTERNAL_NOTICE`.

Frames returned here keep their count columns (shown value, or null when hidden) with a
boolean ``<column>_suppressed`` flag beside each; percentages are ``<column>_pct``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import polars as pl

from feasibility import suppression
from feasibility.suppression import (
    DEFAULT_THRESHOLD,
    FUNNEL_COUNTS,
    IMPACT_COUNTS,
    IMPACT_PASS,
    format_count,
    format_pct,
    is_small,
    reconcile_impact,
    suppress_funnel,
    suppress_impact,
    suppress_partitions,
    suppress_values,
)

__all__ = [
    "DEFAULT_THRESHOLD",
    "FUNNEL_COUNTS",
    "IMPACT_COUNTS",
    "INTERNAL_NOTICE",
    "METHODS",
    "Policy",
    "format_count",
    "format_pct",
    "is_small",
    "reconcile_impact",
    "suppress_funnel",
    "suppress_impact",
    "suppress_partitions",
    "suppress_values",
]

ROUND, SUPPRESS, NONE = "round", "suppress", "none"
METHODS = (ROUND, SUPPRESS, NONE)
DEFAULT_BASE = 5
#: Stamped on every page and every CSV of an output that can show a count from 1 to 10.
INTERNAL_NOTICE = "internal use — not for sharing"
#: Counts below this are never shown exactly in a shareable output.
SHAREABLE_MIN_THRESHOLD = 10


def _flag(name: str) -> str:
    return f"{name}_suppressed"


@dataclass(frozen=True)
class Policy:
    """How the numbers of a shared output are shown.

    ``method`` is ``round`` (default), ``suppress`` or ``none``; ``threshold`` the largest
    count hidden (1..threshold); ``base`` the rounding multiple of the ``round`` method.
    ``Policy(threshold, enabled=False)`` is the legacy spelling of ``method="none"``.
    """

    threshold: int = DEFAULT_THRESHOLD
    enabled: bool = True
    method: str = ROUND
    base: int = DEFAULT_BASE

    def __post_init__(self) -> None:
        if self.threshold < 0:
            raise ValueError(f"suppression threshold must be >= 0, got {self.threshold}")
        if self.base < 1:
            raise ValueError(f"rounding base must be >= 1, got {self.base}")
        if self.method not in METHODS:
            raise ValueError(f"disclosure method must be one of {METHODS}, got {self.method!r}")
        if not self.enabled:
            object.__setattr__(self, "method", NONE)
        object.__setattr__(self, "enabled", self.method != NONE)

    # ------------------------------------------------------------------ one count
    @property
    def internal(self) -> bool:
        """True when this setting can show a count from 1 to 10: not for sharing."""
        return self.method == NONE or self.threshold < SHAREABLE_MIN_THRESHOLD

    @property
    def notice(self) -> str:
        """:data:`INTERNAL_NOTICE` for an internal setting, else an empty string."""
        return INTERNAL_NOTICE if self.internal else ""

    @property
    def hidden_label(self) -> str:
        """How a hidden count reads: "≤10" (round: always a count 1..threshold) or "hidden"."""
        return f"≤{self.threshold}" if self.method == ROUND else "hidden"

    def small(self, n: int | None) -> bool:
        """True when ``n`` is a count this policy may not show (1..threshold)."""
        return self.enabled and n is not None and 1 <= n <= self.threshold

    def show(self, n: int | None) -> int | None:
        """The number shown for one count: None when hidden, rounded under ``round``."""
        if n is None:
            return None
        n = int(n)
        if self.method == NONE or n <= 0:
            return n
        if self.small(n):
            return None
        if self.method == SUPPRESS:
            return n
        return self.base * -(-n // self.base)  # up to the next multiple: 11..15 -> 15

    def interval(self, shown: int | None) -> tuple[int, int]:
        """The true counts a reader can infer from a shown value (for the checker and docs)."""
        if shown is None:
            return (1, self.threshold)
        if self.method != ROUND or shown == 0:
            return (shown, shown)
        return (max(shown - self.base + 1, self.threshold + 1), shown)

    def text(self, shown: int | None, hidden: bool | None = None) -> str:
        """A shown count as text: thousands separators, or the hidden label."""
        if hidden or shown is None:
            return self.hidden_label
        return f"{int(shown):,}"

    def whole(self, value: float | None) -> str:
        """An estimate in whole patients (expected enrolment, per year): never fractional."""
        if value is None:
            return self.hidden_label
        return f"{round(value):,}"

    def describe(self) -> str:
        """The policy in plain words (the report's Method section and the CSV column)."""
        t = self.threshold
        if self.method == NONE:
            return "no disclosure control: exact counts, including counts from 1 to 10"
        if self.method == SUPPRESS:
            return (
                f"cell suppression: counts from 1 to {t} are hidden, and so are further counts "
                "that would let one be worked out from the others; every other count is exact"
            )
        return (
            f"counts from 1 to {t} are shown as ≤{t}; every other count is rounded up to the "
            f"next multiple of {self.base} (so no count is exact, and totals may differ "
            f"from the sum of their parts by a few); zero is shown as 0; percentages are "
            "computed from the numbers shown"
        )

    # ------------------------------------------------------------------ frames
    def counts(self, df: pl.DataFrame, columns: Sequence[str]) -> pl.DataFrame:
        """Independent counts: each column shown through :meth:`show`, with its flag.

        Under ``suppress`` this is primary suppression only: use it for counts no other
        shown number adds up with (rows affected by a data-quality check)."""
        out = []
        for c in columns:
            vals = [None if v is None else int(v) for v in df[c].to_list()]
            shown = [self.show(v) for v in vals]
            hidden = [v is not None and s is None for v, s in zip(vals, shown, strict=True)]
            out += [
                pl.Series(c, shown, dtype=pl.Int64),
                pl.Series(_flag(c), hidden, dtype=pl.Boolean),
            ]
        return df.with_columns(out)

    def funnel(self, raw: pl.DataFrame) -> pl.DataFrame:
        """The funnel (contract columns) as shown, with flags and ``*_pct`` of the registry."""
        if self.method == SUPPRESS:
            return suppression.suppress_funnel(raw, self.threshold)
        df = self.counts(raw.sort("step"), FUNNEL_COUNTS)
        total = df["remaining"][0] if df.height else None
        return df.with_columns(
            _pct(pl.col("remaining"), total).alias("remaining_pct"),
            _pct(pl.col("remaining_with_unknown"), total).alias("remaining_with_unknown_pct"),
        )

    def impact(
        self, raw: pl.DataFrame, total: int | None, funnel: pl.DataFrame | None = None
    ) -> pl.DataFrame:
        """Criterion impact as shown; percentages of the shown ``total`` (the population
        the impact counts partition). ``funnel`` is the shown funnel (``suppress`` only:
        impact cells that would give back a count it hides are hidden too)."""
        cells = [*IMPACT_COUNTS] + ([IMPACT_PASS] if IMPACT_PASS in raw.columns else [])
        if self.method == SUPPRESS:
            known: dict[str, tuple[str, ...]] = {}
            total_shown = self.show(total) is not None
            if funnel is not None and funnel.height > 1:
                f = funnel.sort("step")
                f0, f1 = f.row(0, named=True), f.row(1, named=True)
                total_shown = not f0["remaining_suppressed"]
                known[f1["criterion"]] = tuple(
                    cell
                    for cell, col in (("pass", "remaining"), ("notfail", "remaining_with_unknown"))
                    if not f1[f"{col}_suppressed"]
                )
            out = suppression.suppress_impact(
                raw, total, self.threshold, total_shown=total_shown, known=known
            )
            return reconcile_impact(out, funnel) if funnel is not None else out
        df = self.counts(raw, cells)
        shown_total = self.show(total)
        return df.with_columns(_pct(pl.col(c), shown_total).alias(f"{c}_pct") for c in cells)

    def cohort(self, raw: pl.DataFrame, funnel: pl.DataFrame | None = None) -> pl.DataFrame:
        """Cohort counts per characteristic level and step, with ``pct`` of the step's
        shown total (computed from shown numbers)."""
        if self.method == SUPPRESS:
            return suppression.suppress_cohort(raw, funnel, self.threshold)
        totals = raw.group_by("variable", "step").agg(pl.col("count").sum().alias("_total"))
        totals = totals.with_columns(
            pl.Series("_total", [self.show(v) for v in totals["_total"].to_list()], pl.Int64)
        )
        df = self.counts(raw, ["count"])
        # a zero is hidden with the small counts here: a shown 0 would tell the reader
        # that every hidden cell of the same step is at least 1, and the step totals and
        # the steps before and after can then pin one exactly (the adversarial checker
        # found such cases); "≤10" stays true of 0
        zero = pl.col("count") == 0
        df = df.with_columns(
            pl.when(zero).then(None).otherwise(pl.col("count")).alias("count"),
            (pl.col(_flag("count")) | zero).alias(_flag("count")),
        ).join(totals, on=["variable", "step"], how="left")
        return df.with_columns(
            pl.when(
                pl.col("count").is_null() | pl.col("_total").is_null() | (pl.col("_total") == 0)
            )
            .then(None)
            .otherwise((pl.col("count") * 100.0 / pl.col("_total")).round(1))
            .alias("pct")
        ).drop("_total")

    def histogram(self, raw: pl.DataFrame) -> pl.DataFrame:
        """Histogram bins (bin_start, bin_end, count, side, ...) as shown."""
        if self.method == SUPPRESS:
            return suppress_partitions(
                raw, count="count", partition_by=("side",), threshold=self.threshold
            )
        return self.counts(raw, ["count"])

    def quality(self, dq: pl.DataFrame) -> pl.DataFrame:
        """Data-quality rows: ``unexpected_count`` shown, ``unexpected_percent`` recomputed
        from the shown count (hidden with it)."""
        if "unexpected_count" not in dq.columns:
            return dq
        raw_counts = dq["unexpected_count"].to_list()
        df = self.counts(dq, ["unexpected_count"])
        if "unexpected_percent" not in df.columns:
            return df
        pcts: list[float | None] = []
        for raw, shown, pct in zip(
            raw_counts,
            df["unexpected_count"].to_list(),
            df["unexpected_percent"].to_list(),
            strict=True,
        ):
            if shown is None or pct is None:
                pcts.append(None)
            elif raw and float(pct) > 0:
                pcts.append(round(shown * float(pct) / int(raw), 2))
            else:
                pcts.append(0.0 if shown == 0 else None)
        return df.with_columns(pl.Series("unexpected_percent", pcts, dtype=pl.Float64))

    def readiness(self, readiness: pl.DataFrame | None, total: int | None) -> list[dict]:
        """Readiness rows with ``data_available_pct`` as shown: the count of patients with
        the data is disclosed like any count and the percentage computed from shown
        numbers (``suppress``: hidden when that count or its complement is small)."""
        if readiness is None or readiness.height == 0:
            return []
        rows = []
        for row in readiness.iter_rows(named=True):
            pct = row.get("data_available_pct")
            hidden = False
            if pct is not None and total:
                implied = round(float(pct) * total / 100)
                if self.method == SUPPRESS:
                    hidden = self.small(implied) or self.small(total - implied)
                elif self.method == ROUND:
                    # from shown numbers only: the population and its unknowns (the
                    # impact table's "unknown"), never a third rounding
                    st, su = self.show(total), self.show(total - implied)
                    hidden = not st or su is None
                    pct = round((st - su) * 100.0 / st, 1) if st and su is not None else None
                pct = None if hidden else pct
            elif pct is not None and self.enabled:
                pct, hidden = None, True  # no population size to disclose it against
            rows.append({**row, "data_available_pct": pct, "data_available_pct_suppressed": hidden})
        return rows

    def share(
        self, part: int | None, total: int | None
    ) -> tuple[int | None, int | None, float | None]:
        """A part of a total as shown: (shown part, shown total, percent of the shown numbers)."""
        sp, st = self.show(part), self.show(total)
        pct = None if sp is None or not st else round(sp * 100.0 / st, 1)
        return sp, st, pct

    def values(self, values: Iterable[int | None]) -> list[int | None]:
        """Independent counts shown one by one (primary suppression under ``suppress``)."""
        return [self.show(v) for v in values]

    def stamp(self, df: pl.DataFrame) -> pl.DataFrame:
        """A CSV table with its ``disclosure`` column: the internal notice or the policy."""
        return df.with_columns(pl.lit(self.notice or self.describe()).alias("disclosure"))


def _pct(col: pl.Expr, total: int | None) -> pl.Expr:
    if total is None or total == 0:
        return pl.lit(None, dtype=pl.Float64)
    return (col.cast(pl.Float64) * 100.0 / total).round(1)


def policy_from_options(
    method: str | None = None, threshold: int | None = None, *, no_suppression: bool = False
) -> Policy:
    """The policy of a command line (``--disclosure``, ``--suppression-threshold``,
    ``--no-suppression``)."""
    return Policy(
        DEFAULT_THRESHOLD if threshold is None else int(threshold),
        method=NONE if no_suppression else (method or ROUND),
    )
