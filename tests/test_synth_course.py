"""The disease course drives the data: treatment rules, states, observation like care.

Measured from the written 50,000-patient draw. Approval dates are written out here from
the FDA labels (independently of the generator's catalogue), so a wrong date in the
catalogue fails. Dates in the registry are shifted by up to 90 days per patient, so
date rules allow 90 days.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from _synth_helpers import canonical, course_metrics, large_draw, large_tables, read_defects

SHIFT = dt.timedelta(days=90)

#: regimen -> ((first US approval usable at line >= min_line, min_line), ...) from labels.
LABELS: dict[str, tuple[tuple[str, int], ...]] = {
    "KRd": (("2015-07-24", 1),),
    "Kd": (("2016-01-21", 2),),
    "Elo-Rd": (("2015-11-30", 2),),
    "Ixa-Rd": (("2015-11-20", 2),),
    "Pd": (("2013-02-08", 3),),
    "Dara-Rd": (("2016-11-21", 2), ("2019-06-27", 1)),
    "DVd": (("2016-11-21", 2),),
    "Dara-Pd": (("2017-06-16", 3),),
    "Dara-Kd": (("2020-08-20", 2),),
    "Dara-VRd": (("2024-07-30", 1),),
    "Isa-VRd": (("2024-09-20", 1),),
    "Isa-Pd": (("2020-03-02", 3),),
    "Isa-Kd": (("2021-03-31", 2),),
    "Elo-Pd": (("2018-11-06", 3),),
    "Selinexor-Vd": (("2020-12-18", 2),),
    "Belantamab mafodotin": (("2020-08-05", 5),),
    "Teclistamab": (("2022-10-25", 5),),
    "Elranatamab": (("2023-08-14", 5),),
    "Talquetamab": (("2023-08-09", 5),),
    "Ide-cel": (("2021-03-26", 5), ("2024-04-04", 3)),
    "Cilta-cel": (("2022-02-28", 5), ("2024-04-05", 2)),
}
T_CELL = ("Teclistamab", "Elranatamab", "Talquetamab", "Ide-cel", "Cilta-cel")


@pytest.fixture(scope="module")
def reg(tmp_path_factory):
    return large_tables(tmp_path_factory)


@pytest.fixture(scope="module")
def lines(reg, tmp_path_factory):
    """Therapy lines without the planted defect rows (dates moved before birth etc.)."""
    planted = read_defects(large_draw(tmp_path_factory)).filter(pl.col("table") == "therapies")
    return reg["therapies"].filter(
        pl.col("start_date").is_not_null()
        & pl.col("regimen").is_not_null()
        & ~pl.col("_row").is_in(planted["row"].implode())
    )


@pytest.fixture(scope="module")
def metrics(reg):
    return course_metrics(reg)


def _earliest_allowed(regimen: str, line: int) -> dt.date | None:
    dates = [dt.date.fromisoformat(d) for d, min_line in LABELS[regimen] if line >= min_line]
    return min(dates) if dates else None


def test_no_regimen_before_its_label_allows_it(lines):
    bad = []
    for regimen, line, start in lines.select("regimen", "line_number", "start_date").iter_rows():
        if regimen not in LABELS:
            continue
        first = _earliest_allowed(regimen, line)
        if first is None or start < first - SHIFT:
            bad.append((regimen, line, start))
    assert not bad, f"{len(bad)} lines before their label allowed them, e.g. {bad[:5]}"


def test_belantamab_not_after_its_us_withdrawal(lines):
    bela = lines.filter(pl.col("regimen") == "Belantamab mafodotin")
    assert bela.filter(pl.col("start_date") > dt.date(2022, 11, 22) + SHIFT).height == 0


def test_no_t_cell_therapy_at_line_2_before_the_2024_label(lines):
    early = lines.filter(
        (pl.col("line_number") == 2)
        & pl.col("regimen").is_in(T_CELL)
        & (pl.col("start_date") < dt.date(2024, 4, 5) - SHIFT)
    )
    assert early.height == 0
    l2_recent = lines.filter(
        (pl.col("line_number") == 2) & (pl.col("start_date") >= dt.date(2022, 1, 1))
    )
    assert l2_recent.select(pl.col("regimen").is_in(T_CELL).mean()).item() < 0.08


def test_anti_cd38_rarely_reused_right_after_first_line_anti_cd38(metrics):
    assert metrics["anti_cd38_reuse_line2"] < 0.15


def test_regimens_change_by_era_and_line(lines):
    def share(frame: pl.DataFrame, names: tuple[str, ...]) -> float:
        return frame.select(pl.col("regimen").is_in(names).mean()).item()

    first = lines.filter(pl.col("line_number") == 1)
    quads = ("Dara-Rd", "Dara-VRd", "Isa-VRd")
    early = first.filter(pl.col("start_date") < dt.date(2018, 1, 1))
    late = first.filter(pl.col("start_date") >= dt.date(2022, 1, 1))
    assert share(early, quads) < 0.01 < 0.2 < share(late, quads)
    late_lines = lines.filter(
        (pl.col("line_number") >= 5) & (pl.col("start_date") >= dt.date(2023, 1, 1))
    )
    assert share(late_lines, T_CELL) > 0.2


def test_survival_improves_by_era(metrics):
    assert metrics["os_5y_2015_2019"] > metrics["os_5y_2010_2014"] + 0.02


def test_performance_status_worsens_over_lines(metrics):
    assert metrics["ecog_ge3_line5plus"] > metrics["ecog_ge3_line2"] + 0.05


def test_labs_recover_on_response(reg, lines):
    """Hemoglobin is lower at diagnosis than 6-12 months into the first line."""
    hb = canonical(reg["measurements"].filter(pl.col("test") == "hemoglobin"))
    first = lines.filter(pl.col("line_number") == 1).select("patient_id", t="start_date")
    joined = hb.join(first, on="patient_id").with_columns(
        days=(pl.col("measured_on") - pl.col("t")).dt.total_days()
    )
    at_start = joined.filter(pl.col("days").is_between(-30, 0))["value_c"].median()
    on_response = joined.filter(pl.col("days").is_between(180, 365))["value_c"].median()
    assert on_response > at_start + 1.0


def test_extramedullary_disease_regresses_on_response(reg):
    emd = reg["lesions"].filter(~pl.col("bone_contiguous") & pl.col("imaged_on").is_not_null())
    per = (
        emd.sort("imaged_on")
        .group_by("patient_id")
        .agg(
            first=pl.col("longest_diameter_cm").first(),
            low=pl.col("longest_diameter_cm").min(),
            n=pl.col("imaged_on").n_unique(),
        )  # fmt: skip
        .filter(pl.col("n") >= 3)
    )
    shrank = per.select((pl.col("low") <= 0.5 * pl.col("first")).mean()).item()
    assert shrank > 0.25


def test_extramedullary_sites_fit_the_patient(reg):
    sex = reg["patients"].unique("patient_id").select("patient_id", "sex")
    emd = reg["lesions"].filter(~pl.col("bone_contiguous")).join(sex, on="patient_id")
    assert emd.filter((pl.col("site") == "testis") & (pl.col("sex") == "F")).height == 0
    sites = emd["site"].value_counts(normalize=True)
    share = dict(zip(sites["site"], sites["proportion"], strict=True))
    assert share["subcutaneous soft tissue"] > 2 * share["pancreas"]


def test_neuropathy_improves_after_bortezomib(reg):
    grades = (
        reg["assessments"]
        .filter(pl.col("item").str.to_lowercase() == "neuropathy_grade")
        .with_columns(g=pl.col("value").cast(pl.Int64, strict=False))
        .filter(pl.col("g").is_not_null() & pl.col("assessed_on").is_not_null())
        .sort("assessed_on")
    )
    per = (
        grades.group_by("patient_id")
        .agg(peak=pl.col("g").max(), last=pl.col("g").last())
        .filter(pl.col("peak") >= 2)
    )
    assert per.select((pl.col("last") < pl.col("peak")).mean()).item() > 0.3


def test_counts_monthly_on_therapy_and_rarer_off_therapy(reg, metrics):
    assert metrics["counts_per_year_on_therapy"] >= 10
    th = reg["therapies"].filter(pl.col("start_date").is_not_null())
    last_end = th.sort("line_number").group_by("patient_id").agg(e=pl.col("end_date").last())
    hb = (
        reg["measurements"]
        .filter(pl.col("test") == "hemoglobin")
        .select("patient_id", "measured_on")
    )
    pat = reg["patients"].unique("patient_id").select("patient_id", "death_date")
    off = last_end.join(pat, on="patient_id").filter(
        pl.col("e").is_not_null() & (pl.col("death_date").is_null())
    )
    counted = off.join(hb, on="patient_id").filter(
        pl.col("measured_on") > pl.col("e") + pl.duration(days=60)
    )
    years = off.select(
        (pl.lit(dt.date(2025, 6, 30)) - pl.col("e")).dt.total_days().clip(0).sum() / 365.25
    ).item()
    assert counted.height / years < 6


def test_infections_are_treated(reg):
    dx = reg["diagnoses"].with_columns(
        c=pl.col("code").str.replace_all(r"[.\s]", "").str.to_uppercase()
    )
    uti = dx.filter(pl.col("c") == "N390").select("patient_id", d="diagnosed_on")
    meds = reg["medications"].with_columns(drug=pl.col("drug").str.strip_chars().str.to_lowercase())
    treat = meds.filter(pl.col("drug").is_in(["ciprofloxacin", "nitrofurantoin", "cephalexin"]))
    hit = (
        uti.join(treat, on="patient_id")
        .filter(pl.col("start_date").is_between(pl.col("d"), pl.col("d") + pl.duration(days=2)))
        .select("patient_id", "d").unique().height
    )  # fmt: skip
    assert hit / uti.unique().height > 0.4
