"""Helpers for the synthetic generator tests: read written registries, measure them.

Everything here works from the files on disk (never from generator internals), so a
test checks what a user of the registry would see.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from feasibility.plausibility import PLAUSIBLE_RANGES
from feasibility.schema import ASSESSMENT_ITEMS, EVENT_DATE, INTERVALS, TABLES, unit_factor_frame

#: Regimens that contain bortezomib, by the names the generator writes (V = Velcade).
BORTEZOMIB_REGIMENS = (
    "VRd",
    "Dara-VRd",
    "VCd",
    "VMP",
    "VTd",
    "Isa-VRd",
    "DVd",
    "PVd",
    "Selinexor-Vd",
    "Vd",
    "Mezigdomide-Vd (trial)",
)


def read_table(directory: Path, table: str) -> pl.DataFrame:
    """A written table with its 1-based data row as ``_row`` (parquet or csv)."""
    pq_path = directory / f"{table}.parquet"
    if pq_path.exists():
        df = pl.read_parquet(pq_path)
    else:
        df = pl.read_csv(directory / f"{table}.csv", schema=TABLES[table])
    return df.with_row_index("_row", offset=1).with_columns(pl.col("_row").cast(pl.Int64))


def read_registry(directory: Path) -> dict[str, pl.DataFrame]:
    return {t: read_table(directory, t) for t in TABLES}


def read_defects(directory: Path) -> pl.DataFrame:
    return pl.read_csv(
        directory / "_defects.csv",
        schema={"table": pl.String, "row": pl.Int64, "patient_id": pl.String,
                "column": pl.String, "defect": pl.String},
    )  # fmt: skip


def read_manifest(directory: Path) -> dict:
    return json.loads((directory / "_manifest.json").read_text())


def canonical(measurements: pl.DataFrame) -> pl.DataFrame:
    """Measurements with an accepted unit, ``value_c`` in the canonical unit."""
    return measurements.join(unit_factor_frame(), on=["test", "unit"], how="inner").with_columns(
        value_c=pl.col("value") * pl.col("factor")
    )


def _norm_code() -> pl.Expr:
    return pl.col("code").str.replace_all(r"[.\s]", "").str.to_uppercase()


def _latest_before(events: pl.DataFrame, anchors: pl.DataFrame, date_col: str, days: int):
    """Latest event per patient with anchor - days <= date <= anchor (anchor column ``t``)."""
    return (
        events.join(anchors, on="patient_id")
        .filter(
            (pl.col(date_col) <= pl.col("t"))
            & (pl.col(date_col) >= pl.col("t") - pl.duration(days=days))
        )
        .sort(date_col)
        .group_by("patient_id")
        .last()
    )


def distribution_metrics(reg: dict[str, pl.DataFrame]) -> dict[str, float]:
    """The TARGETS quantities, measured from the written tables."""
    pat = reg["patients"].unique("patient_id")
    dx = reg["diagnoses"].with_columns(c=_norm_code()).filter(pl.col("diagnosed_on").is_not_null())
    out: dict[str, float] = {}

    first_mm = (
        dx.filter(pl.col("c").str.contains(r"^C90[012]"))
        .group_by("patient_id")
        .agg(pl.col("diagnosed_on").min())
        .join(pat, on="patient_id")
    )
    age = ((pl.col("diagnosed_on") - pl.col("birth_date")).dt.total_days() / 365.25).floor()
    out["median_age_at_diagnosis"] = first_mm.select(age.median()).item()
    out["male_share"] = pat.select((pl.col("sex") == "M").mean()).item()

    c90 = dx.filter(pl.col("c").str.starts_with("C90"))
    per = c90.group_by("patient_id").agg(pcl=pl.col("c").str.starts_with("C901").any())
    out["pcl_share"] = per["pcl"].mean()

    anchors = (
        reg["therapies"]
        .filter((pl.col("line_number") == 2) & pl.col("start_date").is_not_null())
        .group_by("patient_id")
        .agg(t=pl.col("start_date").min())
        .join(pat.select("patient_id", "sex", "birth_date"), on="patient_id")
    )
    n_rel = anchors.height
    emd = reg["lesions"].filter(~pl.col("bone_contiguous")).select("patient_id").unique()
    out["emd_share_relapsed"] = anchors.join(emd, on="patient_id").height / n_rel

    meas = canonical(reg["measurements"].filter(pl.col("measured_on").is_not_null()))
    ranges = pl.DataFrame(
        [(t, lo, hi) for t, (lo, hi) in PLAUSIBLE_RANGES.items()],
        schema={"test": pl.String, "lo": pl.Float64, "hi": pl.Float64},
        orient="row",
    )
    meas = meas.join(ranges, on="test").filter(pl.col("value_c").is_between("lo", "hi"))

    def latest(test: str, days: int) -> pl.DataFrame:
        return _latest_before(meas.filter(pl.col("test") == test), anchors, "measured_on", days)

    hb = latest("hemoglobin", 30)
    out["hb_lt_8_relapsed"] = hb.select((pl.col("value_c") < 8).mean()).item()
    plt_ = latest("platelets", 30)
    out["plt_le_75k_relapsed"] = plt_.select((pl.col("value_c") <= 75_000).mean()).item()
    qtc = latest("qtc", 30)
    out["qtc_gt_470"] = qtc.select((pl.col("value_c") > 470).mean()).item()
    cr = latest("creatinine", 30).select("patient_id", "t", "sex", "birth_date", cr="value_c")
    wt = latest("weight", 90).select("patient_id", wt="value_c")
    cg = cr.join(wt, on="patient_id").filter(pl.col("sex").is_in(["F", "M"]))
    age_t = ((pl.col("t") - pl.col("birth_date")).dt.total_days() / 365.25).floor()
    crcl = (140 - age_t) * pl.col("wt") / (72 * pl.col("cr"))
    crcl = pl.when(pl.col("sex") == "F").then(crcl * 0.85).otherwise(crcl)
    out["crcl_le_30_relapsed"] = cg.select((crcl <= 30).mean()).item()

    def share_with(pattern: str, before_anchor: bool) -> float:
        hits = dx.filter(pl.col("c").str.contains(pattern))
        if before_anchor:
            hits = hits.join(anchors, on="patient_id").filter(pl.col("diagnosed_on") <= pl.col("t"))
            return hits["patient_id"].n_unique() / n_rel
        return hits.join(pat, on="patient_id")["patient_id"].n_unique() / pat.height

    other = dx.filter(
        pl.col("c").str.contains(r"^C(?:[0-8][0-9]|9[0-6])")
        & ~pl.col("c").str.starts_with("C44")
        & ~pl.col("c").str.starts_with("C90")
    )
    other = other.join(anchors, on="patient_id").filter(pl.col("diagnosed_on") <= pl.col("t"))
    out["prior_malignancy_relapsed"] = other["patient_id"].n_unique() / n_rel
    out["arrhythmia_relapsed"] = share_with(r"^I4[789]", before_anchor=True)
    out["hiv_share"] = share_with(r"^(?:B20|Z21)", before_anchor=False)
    out["hbv_share"] = share_with(r"^(?:B16|B180|B181|Z2251)", before_anchor=False)
    out["hcv_share"] = share_with(r"^(?:B171|B182)", before_anchor=False)

    bz = (
        reg["therapies"]
        .filter(pl.col("regimen").is_in(BORTEZOMIB_REGIMENS))
        .group_by("patient_id")
        .agg(t=pl.col("start_date").min())
    )
    neuro = (
        reg["assessments"]
        .filter(pl.col("item").str.to_lowercase() == "neuropathy_grade")
        .join(bz, on="patient_id")
        .filter(pl.col("assessed_on") >= pl.col("t"))
        .group_by("patient_id")
        .agg(any_grade=(pl.col("value").cast(pl.Int64, strict=False) >= 1).any())
    )
    out["bortezomib_neuropathy"] = neuro["any_grade"].mean()
    return out


def defect_truth(reg: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Every (table, row, defect) that the written files actually show, found from scratch."""
    pat = reg["patients"].unique("patient_id", keep="first")
    known = pat.select("patient_id")
    life = pat.select("patient_id", "birth_date", "death_date")
    found: list[pl.DataFrame] = []

    def add(table: str, rows: pl.DataFrame, defect: str) -> None:
        found.append(
            rows.select(
                pl.lit(table).alias("table"),
                pl.col("_row").alias("row"),
                pl.lit(defect).alias("defect"),
            )  # fmt: skip
        )

    sex = pl.col("sex").str.strip_chars().str.to_uppercase()
    add("patients", reg["patients"].filter(~sex.is_in(["F", "M", "U"]).fill_null(False)),
        "sex_outside_vocabulary")  # fmt: skip

    m = reg["measurements"]
    accepted = unit_factor_frame().select("test", "unit", "factor")
    with_f = m.join(accepted, on=["test", "unit"], how="left")
    add("measurements", with_f.filter(pl.col("factor").is_null()), "unit_outside_vocabulary")
    ranges = pl.DataFrame(
        [(t, lo, hi) for t, (lo, hi) in PLAUSIBLE_RANGES.items()],
        schema={"test": pl.String, "lo": pl.Float64, "hi": pl.Float64},
        orient="row",
    )
    val = with_f.join(ranges, on="test").filter(
        pl.col("factor").is_not_null() & pl.col("value").is_not_null()
    )
    vc = pl.col("value") * pl.col("factor")
    add("measurements", val.filter((vc < pl.col("lo")) | (vc > pl.col("hi"))), "implausible_value")

    a = reg["assessments"]
    add("assessments", a.filter(~pl.col("item").str.to_lowercase().is_in(list(ASSESSMENT_ITEMS))),
        "unknown_assessment_item")  # fmt: skip

    required = {
        t: [c for c in cols if c not in {"race", "ethnicity", "site", "death_date", "route",
                                         "end_date"}]
        for t, cols in TABLES.items()
    }  # fmt: skip
    for table, df in reg.items():
        cols = [c for c in TABLES[table]]
        nulls = pl.any_horizontal([pl.col(c).is_null() for c in required[table]])
        add(table, df.filter(nulls), "missing_value")
        if table == "patients":
            continue
        add(table, df.filter(pl.struct(cols).is_duplicated() & ~pl.struct(cols).is_first_distinct()),
            "duplicate_row")  # fmt: skip
        add(table, df.join(known, on="patient_id", how="anti"), "orphan_patient_id")
        ev = EVENT_DATE[table]
        joined = df.join(life, on="patient_id", how="inner")
        add(table, joined.filter(pl.col(ev) < pl.col("birth_date")), "before_birth")
        add(table, joined.filter(pl.col(ev) > pl.col("death_date")), "after_death")
        if table in INTERVALS:
            s, e = INTERVALS[table]
            add(table, df.filter(pl.col(e) < pl.col(s)), "end_before_start")
    return pl.concat(found).sort(["table", "row", "defect"])


def generated(tmp_path_factory: pytest.TempPathFactory, name: str, **kwargs) -> Path:
    """Generate a registry into a fresh temp directory and return it."""
    from feasibility.synth import generate_registry

    out = tmp_path_factory.mktemp(name)
    generate_registry(out_dir=out, **kwargs)
    return out


#: The shared large draw: 50,000 patients with realistic defects (generated once per worker).
N_LARGE = 50_000
SEED_LARGE = 20240630


_CACHE: dict[str, object] = {}


def large_draw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared draw's directory, generated once per test process."""
    if "dir" not in _CACHE:
        _CACHE["dir"] = generated(tmp_path_factory, "synth50k", n_patients=N_LARGE,
                                  seed=SEED_LARGE, defects="realistic")  # fmt: skip
    return _CACHE["dir"]  # type: ignore[return-value]


def large_tables(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pl.DataFrame]:
    """The shared draw's tables as written (with ``_row``), read once per test process."""
    if "reg" not in _CACHE:
        _CACHE["reg"] = read_registry(large_draw(tmp_path_factory))
    return _CACHE["reg"]  # type: ignore[return-value]


# --- Disease course and observation metrics (targets added for issue 16) -------------

#: Data cutoff on the true calendar; dates are shifted by at most 90 days per patient.
CUTOFF = "2025-09-30"
ANTI_CD38_PREFIXES = ("Dara-", "Isa-", "DVd")
T_CELL_REGIMENS = ("Teclistamab", "Elranatamab", "Talquetamab", "Ide-cel", "Cilta-cel")
INFECTION_CODES = ("J189", "N390", "J069", "A419", "B029", "U071", "L0390", "B449")


def _codes(reg: dict[str, pl.DataFrame]) -> pl.DataFrame:
    return (
        reg["diagnoses"]
        .with_columns(c=_norm_code())
        .filter(pl.col("diagnosed_on").is_not_null() & pl.col("c").is_not_null())
    )


def _first_dx(reg: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """patient_id, dx (first C90.0-2 date), birth_date, death_date, sex."""
    pat = reg["patients"].unique("patient_id", keep="first")
    return (
        _codes(reg)
        .filter(pl.col("c").str.contains(r"^C90[012]"))
        .group_by("patient_id")
        .agg(dx=pl.col("diagnosed_on").min())
        .join(pat.select("patient_id", "birth_date", "death_date", "sex"), on="patient_id")
    )


def _survival_share(times: pl.DataFrame, days: float) -> float:
    """Share alive ``days`` after the start (``t`` = days to death, null = alive)."""
    return times.select((pl.col("t").is_null() | (pl.col("t") > days)).mean()).item()


def _median_months(times: pl.DataFrame, horizon_days: float) -> float:
    """Median survival (months) among starts followed for at least ``horizon_days``;
    survivors beyond the horizon count as long survivors (valid while the median is
    shorter than the horizon)."""
    t = times.select(pl.col("t").fill_null(10**6).clip(upper_bound=10**6))["t"]
    return float(t.median()) / 30.44 if t.len() else float("nan")


def course_metrics(reg: dict[str, pl.DataFrame]) -> dict[str, float]:
    """Disease-course, observation and treatment-rule quantities of the course TARGETS."""
    out: dict[str, float] = {}
    codes = _codes(reg)
    first = _first_dx(reg).with_columns(
        yr=pl.col("dx").dt.year(), t=(pl.col("death_date") - pl.col("dx")).dt.total_days()
    )
    cutoff = pl.lit(CUTOFF).str.to_date()
    for name, lo, hi, years in (("os_5y_2010_2014", 2010, 2014, 5), ("os_5y_2015_2019", 2015, 2019, 5),
                                ("os_3y_2020_2022", 2020, 2022, 3)):  # fmt: skip
        followed = pl.col("dx") <= cutoff - pl.duration(days=int(365.25 * years) + 90)
        group = first.filter(pl.col("yr").is_between(lo, hi) & followed)
        out[name] = _survival_share(group, 365.25 * years)

    meas = canonical(reg["measurements"].filter(pl.col("measured_on").is_not_null()))
    at_dx = (
        meas.join(first.select("patient_id", "dx"), on="patient_id")
        .filter(pl.col("measured_on").is_between(pl.col("dx") - pl.duration(days=14),
                                                 pl.col("dx") + pl.duration(days=14)))
        .sort("measured_on")
        .group_by("patient_id", "test")
        .first()
    )  # fmt: skip
    cr = at_dx.filter(pl.col("test") == "creatinine")
    out["creatinine_ge_2_at_dx"] = cr.select((pl.col("value_c") >= 2.0).mean()).item()
    hb = at_dx.filter(pl.col("test") == "hemoglobin")
    out["hb_lt_12_at_dx"] = hb.select((pl.col("value_c") < 12.0).mean()).item()

    # Survival from an extramedullary relapse (first soft-tissue lesion after the line-2
    # start) and from secondary PCL (first C90.1 code after a C90.0 code).
    th = reg["therapies"].filter(pl.col("start_date").is_not_null())
    line2 = (
        th.filter(pl.col("line_number") == 2)
        .group_by("patient_id")
        .agg(l2=pl.col("start_date").min())
    )
    pat = reg["patients"].unique("patient_id", keep="first").select("patient_id", "death_date")
    horizon = 730
    late = pl.col("onset") <= cutoff - pl.duration(days=horizon + 90)
    emd = (
        reg["lesions"].filter(~pl.col("bone_contiguous") & pl.col("imaged_on").is_not_null())
        .group_by("patient_id").agg(onset=pl.col("imaged_on").min())
        .join(line2, on="patient_id").filter(pl.col("onset") > pl.col("l2"))
        .join(pat, on="patient_id").filter(late)
        .with_columns(t=(pl.col("death_date") - pl.col("onset")).dt.total_days())
    )  # fmt: skip
    out["emd_relapse_median_os_months"] = _median_months(emd, horizon)
    mm_first = codes.filter(pl.col("c").str.starts_with("C900")).group_by("patient_id").agg(
        mm=pl.col("diagnosed_on").min())  # fmt: skip
    spcl = (
        codes.filter(pl.col("c").str.starts_with("C901")).group_by("patient_id")
        .agg(onset=pl.col("diagnosed_on").min())
        .join(mm_first, on="patient_id").filter(pl.col("onset") > pl.col("mm") + pl.duration(days=60))
        .join(pat, on="patient_id").filter(late)
        .with_columns(t=(pl.col("death_date") - pl.col("onset")).dt.total_days())
    )  # fmt: skip
    out["spcl_median_os_months"] = _median_months(spcl, horizon)

    # Observation: blood counts per patient-year on therapy and off therapy.
    hbm = meas.filter(pl.col("test") == "hemoglobin").select("patient_id", "measured_on")
    done = th.filter(pl.col("end_date").is_not_null() & (pl.col("end_date") > pl.col("start_date")))
    on = (
        done.join(hbm, on="patient_id")
        .filter(pl.col("measured_on").is_between(pl.col("start_date"), pl.col("end_date")))
        .height
    )
    years = done.select((pl.col("end_date") - pl.col("start_date")).dt.total_days().sum()).item()
    out["counts_per_year_on_therapy"] = on / (years / 365.25)

    # ECOG charted within 30 days before a line-2 start; ECOG >= 3 by line.
    ecog = (
        reg["assessments"].filter(pl.col("item").str.to_lowercase() == "ecog")
        .with_columns(v=pl.col("value").cast(pl.Int64, strict=False))
        .filter(pl.col("v").is_not_null() & pl.col("assessed_on").is_not_null())
    )  # fmt: skip
    starts = th.select("patient_id", "line_number", t="start_date")
    latest = (
        starts.join(ecog, on="patient_id")
        .filter(pl.col("assessed_on").is_between(pl.col("t") - pl.duration(days=30), "t"))
        .sort("assessed_on").group_by("patient_id", "line_number", "t").last()
    )  # fmt: skip
    n2 = starts.filter(pl.col("line_number") == 2).height
    out["ecog_charted_line2"] = latest.filter(pl.col("line_number") == 2).height / n2

    def ecog_ge3(lines: pl.Expr) -> float:
        return latest.filter(lines).select((pl.col("v") >= 3).mean()).item()

    out["ecog_ge3_line1"] = ecog_ge3(pl.col("line_number") == 1)
    out["ecog_ge3_line2"] = ecog_ge3(pl.col("line_number") == 2)
    out["ecog_ge3_line5plus"] = ecog_ge3(pl.col("line_number") >= 5)

    # Plasma-cell measures at line starts once the disease is leukaemic.
    pcl_on = codes.filter(pl.col("c").str.starts_with("C901")).group_by("patient_id").agg(
        pcl=pl.col("diagnosed_on").min())  # fmt: skip
    pc = meas.filter(pl.col("test").str.starts_with("plasma_cells")).select(
        "patient_id", "measured_on"
    )
    pcl_starts = starts.join(pcl_on, on="patient_id").filter(pl.col("t") >= pl.col("pcl"))
    measured = (
        pcl_starts.join(pc, on="patient_id")
        .filter(pl.col("measured_on").is_between(pl.col("t") - pl.duration(days=30), "t"))
        .select("patient_id", "t").unique().height
    )  # fmt: skip
    out["pc_measured_at_pcl_line_start"] = measured / max(pcl_starts.height, 1)

    # Chronic coding: encounters (dates with any diagnosis record) after a patient's first
    # atrial fibrillation code that have an I48 code within the 183 days before them.
    af = codes.filter(pl.col("c").str.starts_with("I48")).select("patient_id", af="diagnosed_on")
    af_first = af.group_by("patient_id").agg(f=pl.col("af").min())
    enc = codes.select("patient_id", "diagnosed_on").unique().join(af_first, on="patient_id")
    enc = enc.filter(pl.col("diagnosed_on") > pl.col("f") + pl.duration(days=183))
    covered = (
        enc.join(af, on="patient_id")
        .filter(pl.col("af").is_between(pl.col("diagnosed_on") - pl.duration(days=183), "diagnosed_on"))
        .select("patient_id", "diagnosed_on").unique().height
    )  # fmt: skip
    out["af_coded_within_183d_of_encounter"] = covered / max(enc.height, 1)

    # Infection episodes per patient-year of follow-up (first code of a type per 30 days).
    inf = codes.filter(pl.col("c").is_in(list(INFECTION_CODES))).sort("diagnosed_on")
    episodes = (
        inf.with_columns(
            gap=(
                pl.col("diagnosed_on") - pl.col("diagnosed_on").shift(1).over("patient_id", "c")
            ).dt.total_days()
        )
        .filter(pl.col("gap").is_null() | (pl.col("gap") > 30))
        .height
    )
    fu = first.select(
        ((pl.coalesce("death_date", cutoff) - pl.col("dx")).dt.total_days().clip(0) / 365.25).sum()
    ).item()
    out["infections_per_patient_year"] = episodes / fu

    pat_all = reg["patients"].unique("patient_id", keep="first")
    out["black_share"] = (pat_all["race"] == "Black or African American").mean()
    out["hispanic_share"] = (pat_all["ethnicity"] == "Hispanic or Latino").mean()
    l2_start = th.filter(pl.col("line_number") == 2).group_by("patient_id").agg(
        l2=pl.col("start_date").min())  # fmt: skip
    early = first.filter(pl.col("yr").is_between(2010, 2019)).join(
        l2_start, on="patient_id", how="left"
    )
    out["relapsed_within_5y"] = early.select(
        ((pl.col("l2") - pl.col("dx")).dt.total_days() <= 5 * 365.25).fill_null(False).mean()
    ).item()
    out["investigational_share_population"] = th["investigational"].mean()

    # Treatment rules.
    wide = th.filter(pl.col("regimen").is_not_null())
    cd38 = pl.col("regimen").str.contains("^(?:Dara-|Isa-|DVd)")
    l1 = wide.filter(pl.col("line_number") == 1).select("patient_id", cd38_1=cd38)
    l2 = wide.filter(pl.col("line_number") == 2).select("patient_id", "start_date", cd38_2=cd38)
    both = l2.join(l1, on="patient_id").filter(pl.col("cd38_1"))
    out["anti_cd38_reuse_line2"] = both.select(pl.col("cd38_2").mean()).item() or 0.0
    return out


def academic_metrics(reg: dict[str, pl.DataFrame]) -> dict[str, float]:
    """The ACADEMIC_TARGETS quantities, measured from the written tables."""
    out = {"median_age_at_diagnosis": distribution_metrics(reg)["median_age_at_diagnosis"]}
    th = reg["therapies"].filter(pl.col("start_date").is_not_null())
    later = th.filter(pl.col("line_number") >= 2)
    out["investigational_share_later_lines"] = later["investigational"].mean()
    l2 = (
        th.filter(pl.col("line_number") == 2)
        .group_by("patient_id")
        .agg(l2=pl.col("start_date").min())
    )
    first_meas = (
        reg["measurements"].filter(pl.col("measured_on").is_not_null())
        .group_by("patient_id").agg(m=pl.col("measured_on").min())
    )  # fmt: skip
    joined = l2.join(first_meas, on="patient_id")
    out["referred_share_relapsed"] = joined.select(
        (pl.col("m") >= pl.col("l2") - pl.duration(days=90)).mean()
    ).item()
    return out


#: N_ACADEMIC patients drawn in the academic-centre setting (session cache).
N_ACADEMIC = 20_000


def academic_tables(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pl.DataFrame]:
    """An academic-centre draw's tables, generated and read once per test process."""
    if "academic" not in _CACHE:
        path = generated(tmp_path_factory, "synth_academic", n_patients=N_ACADEMIC, seed=7,
                         defects="none", setting="academic")  # fmt: skip
        _CACHE["academic"] = read_registry(path)
    return _CACHE["academic"]  # type: ignore[return-value]
