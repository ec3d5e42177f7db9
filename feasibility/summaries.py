"""Summary tables of a screen (cohort by funnel step, deciding-value histograms): exact counts.

Each function returns a polars frame of exact counts (the analyst's view); the report
passes each through :class:`feasibility.disclosure.Policy` before showing or writing it
(disclosed frames carry ``<column>_suppressed`` flags).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import polars as pl

from feasibility.protocol.formulas import age_in_years

AGE_BREAKS = (50, 60, 70, 80)
NOT_RECORDED = "Not recorded"
NO_INDEX = "No index date"
COHORT_VARIABLES = ("age_group", "sex", "race", "ethnicity", "site")
VARIABLE_LABELS = {
    "age_group": "Age group",
    "sex": "Sex",
    "race": "Race",
    "ethnicity": "Ethnicity",
    "site": "Site",
}
SEX_LABELS = {"F": "Female", "M": "Male", "U": "Unknown or not recorded"}


def _number(value: object) -> float:
    """A Series aggregate that is a number (the series is non-empty Float64)."""
    if not isinstance(value, int | float):
        raise TypeError(f"expected a number, got {value!r}")
    return float(value)


def is_suppressed(df: pl.DataFrame) -> bool:
    """True when ``df`` already went through disclosure control (it has flag columns)."""
    return any(c.endswith("_suppressed") for c in df.columns)


def _age_group_expr(birth: pl.Expr, index: pl.Expr) -> pl.Expr:
    """Whole years between birth and index, binned into AGE_BREAKS groups."""

    def ymd(d: pl.Expr) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
        return d.dt.year().cast(pl.Int32), d.dt.month().cast(pl.Int32), d.dt.day().cast(pl.Int32)

    age = age_in_years(ymd(birth), ymd(index), lambda e: e.cast(pl.Int32))
    labels = (
        [f"<{AGE_BREAKS[0]}"]
        + [f"{lo}–{hi - 1}" for lo, hi in zip(AGE_BREAKS[:-1], AGE_BREAKS[1:], strict=True)]
        + [f"{AGE_BREAKS[-1]}+"]
    )
    # event mode: a patient without a qualifying event has no index date, hence no age
    expr = (
        pl.when(index.is_null())
        .then(pl.lit(NO_INDEX))
        .when(age.is_null())
        .then(pl.lit(NOT_RECORDED))
    )
    for lo, label in zip((None, *AGE_BREAKS), labels, strict=True):
        hi_idx = labels.index(label)
        hi = AGE_BREAKS[hi_idx] if hi_idx < len(AGE_BREAKS) else None
        cond = pl.lit(True)
        if lo is not None:
            cond = cond & (age >= lo)
        if hi is not None:
            cond = cond & (age < hi)
        expr = expr.when(cond).then(pl.lit(label))
    return expr.otherwise(pl.lit(NOT_RECORDED))


def age_group_order() -> list[str]:
    """Age group labels in display order."""
    return (
        [f"<{AGE_BREAKS[0]}"]
        + [f"{lo}–{hi - 1}" for lo, hi in zip(AGE_BREAKS[:-1], AGE_BREAKS[1:], strict=True)]
        + [f"{AGE_BREAKS[-1]}+", NOT_RECORDED, NO_INDEX]
    )


def cohort_by_step(
    patient_status: pl.DataFrame,
    patients: pl.DataFrame,
    steps: Sequence[str],
    labels: Sequence[str] | None = None,
) -> pl.DataFrame:
    """Counts of each characteristic level among the patients remaining at every funnel step.

    ``steps`` are the funnel's criterion ids in order, step 0 being ``registry`` (or
    anything: step 0 is everyone). A patient remains at step i when their status is
    ``pass`` on every criterion of steps 1..i (the funnel's ``remaining``). Age is
    whole years at the patient's index date. Returns variable, level, step, criterion,
    label, count (not yet suppressed).
    """
    labels = list(labels) if labels is not None else list(steps)
    crit_steps = list(steps)[1:]
    pats = patients.select(
        "patient_id",
        *[c for c in ("sex", "birth_date", "race", "ethnicity", "site") if c in patients.columns],
    ).unique("patient_id", keep="first")
    idx = patient_status.select("patient_id", "index_date", *crit_steps)
    if idx["index_date"].dtype == pl.String:
        idx = idx.with_columns(pl.col("index_date").str.to_date(strict=False))
    df = idx.join(pats, on="patient_id", how="left")
    memb = []
    running = pl.lit(True)
    memb.append(running.alias("_in_0"))
    for i, crit in enumerate(crit_steps, start=1):
        running = running & (pl.col(crit) == "pass").fill_null(False)
        memb.append(running.alias(f"_in_{i}"))
    sex = pl.col("sex") if "sex" in df.columns else pl.lit(None, dtype=pl.String)
    df = df.with_columns(
        *memb,
        _age_group_expr(
            pl.col("birth_date") if "birth_date" in df.columns else pl.lit(None, dtype=pl.Date),
            pl.col("index_date"),
        ).alias("age_group"),
        # U and a missing sex mean the same to a reader: one level, fewer tiny cells
        sex.replace_strict(SEX_LABELS, default=None).fill_null(SEX_LABELS["U"]).alias("sex"),
        *[
            (
                pl.col(c).cast(pl.String).str.strip_chars().replace("", None)
                if c in df.columns
                else pl.lit(None, dtype=pl.String)
            )
            .fill_null(NOT_RECORDED)
            .alias(c)
            for c in ("race", "ethnicity", "site")
        ],
    )
    n_steps = len(crit_steps) + 1
    frames = []
    for var in COHORT_VARIABLES:
        agg = df.group_by(var).agg(
            pl.col(f"_in_{i}").sum().cast(pl.Int64).alias(str(i)) for i in range(n_steps)
        )
        long = agg.unpivot(index=var, variable_name="step", value_name="count").select(
            pl.lit(var).alias("variable"),
            pl.col(var).alias("level"),
            pl.col("step").cast(pl.Int64),
            pl.col("count"),
        )
        frames.append(long)
    out = pl.concat(frames)
    step_info = pl.DataFrame(
        {"step": list(range(n_steps)), "criterion": list(steps), "label": labels},
        schema={"step": pl.Int64, "criterion": pl.String, "label": pl.String},
    )
    order = {v: i for i, v in enumerate(COHORT_VARIABLES)}
    return (
        out.join(step_info, on="step", how="left")
        .with_columns(pl.col("variable").replace_strict(order).alias("_vo"))
        .sort("_vo", "level", "step")
        .drop("_vo")
    )


def cohort_from_result(
    result: object, registry_or_patients: object, order: Sequence[str] | None = None
) -> pl.DataFrame:
    """:func:`cohort_by_step` for a screen result and its registry (or patients frame),
    in the funnel's step order: the notebook shortcut for the cohort charts."""
    patients = registry_or_patients
    if hasattr(patients, "tables"):
        patients = patients.tables["patients"]  # type: ignore[attr-defined]
    if isinstance(patients, pl.LazyFrame):
        patients = patients.collect()
    funnel = result.funnel(order)  # type: ignore[attr-defined]
    return cohort_by_step(
        result.patient_status,  # type: ignore[attr-defined]
        patients,  # type: ignore[arg-type]
        funnel["criterion"].to_list(),
        funnel["label"].to_list(),
    )


def cohort_comparison(cohort_suppressed: pl.DataFrame) -> pl.DataFrame:
    """Registry (step 0) against the eligible cohort (last step), one row per level, with SMD.

    The standardised mean difference of a level's indicator is
    (p_eligible - p_registry) / sqrt((p_e(1-p_e) + p_r(1-p_r)) / 2); null when either
    share is hidden. |SMD| > 0.1 is the usual sign of a drifted characteristic.
    """
    last = cohort_suppressed["step"].max()
    reg = cohort_suppressed.filter(pl.col("step") == 0).select(
        "variable",
        "level",
        pl.col("count").alias("registry_n"),
        pl.col("count_suppressed").alias("registry_n_suppressed"),
        pl.col("pct").alias("registry_pct"),
    )
    elig = cohort_suppressed.filter(pl.col("step") == last).select(
        "variable",
        "level",
        pl.col("count").alias("eligible_n"),
        pl.col("count_suppressed").alias("eligible_n_suppressed"),
        pl.col("pct").alias("eligible_pct"),
    )
    pe = pl.col("eligible_pct") / 100
    pr = pl.col("registry_pct") / 100
    denom = ((pe * (1 - pe) + pr * (1 - pr)) / 2).sqrt()
    return reg.join(elig, on=["variable", "level"], how="left", maintain_order="left").with_columns(
        pl.when(denom > 0)
        .then(((pe - pr) / denom).round(2))
        .otherwise(pl.when(pe.is_not_null() & pr.is_not_null()).then(0.0))
        .alias("smd")
    )


def _nice_width(span: float, bins: int = 20) -> float:
    if span <= 0 or not math.isfinite(span):
        return 1.0
    raw = span / bins
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def _passes(value: float, op: str, thr: float) -> bool:
    return {
        ">=": value >= thr,
        ">": value > thr,
        "<=": value <= thr,
        "<": value < thr,
        "==": value == thr,
        "!=": value != thr,
    }[op]


def value_histogram(
    values: pl.DataFrame,
    threshold: float,
    op: str,
    *,
    exclusion: bool = False,
    max_bins: int = 24,
) -> pl.DataFrame:
    """Bin deciding values so the threshold is a bin edge, each bin wholly pass or fail.

    Bins are left-closed for ``>=``/``<`` (so ``value == threshold`` falls in the bin
    starting at the threshold) and right-closed for ``<=``/``>``. Values outside the
    2nd-98th percentile range are gathered into the first and last bins (``open_low``
    / ``open_high`` flag them) so one implausible value does not flatten the chart.
    ``value op threshold`` is the criterion's proposition: it means pass for an inclusion
    and fail for an ``exclusion`` (QTc > 470 ms excludes). Counts are suppressed per side
    (pass bins partition the passing patients, fail bins the failing ones). Returns bin_start, bin_end, count, side, open_low, open_high: exact counts, for
    :meth:`feasibility.disclosure.Policy.histogram` to disclose.
    """
    vals = (
        values.select(pl.col("value").cast(pl.Float64))
        .drop_nulls()
        .filter(pl.col("value").is_finite())["value"]
    )
    schema = {
        "bin_start": pl.Float64,
        "bin_end": pl.Float64,
        "count": pl.Int64,
        "side": pl.String,
        "open_low": pl.Boolean,
        "open_high": pl.Boolean,
    }
    if vals.len() == 0:
        return pl.DataFrame(schema=schema)
    vmin, vmax = _number(vals.min()), _number(vals.max())
    integer_valued = bool((vals == vals.round(0)).all()) and (
        max(vmax, threshold) - min(vmin, threshold) <= max_bins
    )
    right_closed = op in ("<=", ">")
    if integer_valued:
        # integer grades (ECOG...): one bin per value, centred on it, no clipping
        width, origin = 1.0, -0.5
        lo_q, hi_q = min(vmin, math.floor(threshold)), max(vmax, math.ceil(threshold))

        def kfun(x: float) -> int:
            return math.floor((x - origin) / width)

        k = ((pl.col("value") - origin) / width).floor()
    else:
        lo_q = min(_number(vals.quantile(0.02, "lower")), threshold)
        hi_q = max(_number(vals.quantile(0.98, "higher")), threshold)
        width, origin = _nice_width(hi_q - lo_q, max_bins - 4), threshold

        def kfun(x: float) -> int:
            q = (x - origin) / width
            return math.ceil(q) - 1 if right_closed else math.floor(q)

        expr = (pl.col("value") - origin) / width
        k = (expr.ceil() - 1) if right_closed else expr.floor()
    k_lo, k_hi = kfun(lo_q), kfun(hi_q) + 1
    if not integer_valued:
        # at least one bin each side of the threshold, so clipping never changes a side
        k_lo, k_hi = min(k_lo, -1), max(k_hi, 1)
    binned = (
        pl.DataFrame({"value": vals})
        .with_columns(k.cast(pl.Int64).clip(k_lo, k_hi - 1).alias("k"))
        .group_by("k")
        .agg(pl.len().cast(pl.Int64).alias("count"))
    )
    all_k = pl.DataFrame({"k": list(range(k_lo, k_hi))}, schema={"k": pl.Int64})
    df = all_k.join(binned, on="k", how="left").with_columns(pl.col("count").fill_null(0)).sort("k")
    df = df.with_columns(
        (origin + pl.col("k") * width).alias("bin_start"),
        (origin + (pl.col("k") + 1) * width).alias("bin_end"),
        (pl.col("k") == k_lo).alias("open_low"),
        (pl.col("k") == k_hi - 1).alias("open_high"),
    )
    mids = [(s + e) / 2 for s, e in zip(df["bin_start"], df["bin_end"], strict=True)]
    sides = ["pass" if _passes(m, op, threshold) != exclusion else "fail" for m in mids]
    return df.with_columns(pl.Series("side", sides, dtype=pl.String)).select(
        pl.col(c).cast(t) for c, t in schema.items()
    )
