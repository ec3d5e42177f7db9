"""Planted defects for the screening-specific data-quality checks (issue 15): the classes
DQD teaches that a plain conformance check misses. Hooked into
:func:`feasibility.synth.defects.plant_table`; recorded in ``_defects.csv`` like the others.

=========================  =================================================================
near_miss_drug             medications.drug: a listed (code-list) drug misspelt by one
                           letter (``carbamazepin``); matches no list, so the screen misses it
near_miss_code             diagnoses.code: a listed ICD-10 code with a letter for a look-alike
                           digit (``C9O.0`` for C90.0)
sex_implausible            assessments: a pregnancy_test row (value negative) for a man
line_gap                   therapies.line_number: a patient's last line renumbered one up,
                           so the sequence skips a number (1, 2, 4)
line_overlap               therapies.start_date: line n starts before line n-1 ended
=========================  =================================================================

Rows are chosen among rows no other class touched; the two therapy-line classes only among
patients none of whose therapy rows carries another defect (so the previous line is intact).

Opt-in (``with defects.enabled(): generate_registry(...)``): with the classes off (the default) the
hook draws no random number, so every existing level writes byte-identical registries and
the committed sample stays valid. Turning them on for every level is a merge decision: the
generator's from-scratch defect truth (tests/_synth_helpers.py) must then learn them, and a
therapy line orphaned or moved by another class leaves a real gap or overlap behind that no
record names (the quality tests allow exactly that).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from feasibility.synth.dates import NO_DATE, date_series

CLASSES: tuple[str, ...] = (
    "near_miss_drug",
    "near_miss_code",
    "sex_implausible",
    "line_gap",
    "line_overlap",
)
#: Fractions of clean rows at level "realistic" (team estimate: typing slips in free-text
#: drug names are a few per thousand; renumbered or overlapping lines a few per hundred
#: lines in registry abstraction).
REALISTIC_RATES: dict[str, dict[str, float]] = {
    "near_miss_drug": {"medications": 0.002},
    "near_miss_code": {"diagnoses": 0.001},
    "sex_implausible": {"assessments": 0.0005},
    "line_gap": {"therapies": 0.004},
    "line_overlap": {"therapies": 0.004},
}


#: One letter dropped, added or swapped in a listed drug (each within the near-miss distance).
MISSPELT_DRUGS: tuple[str, ...] = (
    "carbamazepin",
    "ciprofloxacine",
    "clarithromycine",
    "itraconazol",
    "fluvoxamin",
    "phenytoine",
    "voriconazol",
    "ketoconazol",
    "posaconazol",
    "rifabutine",
)
#: Listed codes with a look-alike letter for a digit.
LOOKALIKE_CODES: tuple[str, ...] = ("C9O.0", "C9O.1", "I5O.9", "I2l.4", "B2O", "K9O.0")

#: Sex per chunk (keyed by the chunk's first patient number), set when the patients table
#: of the chunk is planted (tables are planted patients first) and read by the others.
_SEX: dict[int, np.ndarray] = {}


def plant(pl_: Any, rng: np.random.Generator, table: str, df: pl.DataFrame, rate, first: int):
    """Plant this module's classes into one chunk table (``pl_``: the table's planter)."""
    if table == "patients":  # kept for the chunk's assessments (no random draw)
        if "sex_implausible" in rate:
            _SEX[first] = np.asarray(pl_.cols["sex"].to_list(), dtype=object)
        return
    if not any(rate.get(c, 0.0) > 0 for c in CLASSES):
        if table == "therapies":
            _SEX.pop(first, None)
        return  # off: no random draw, the registry is exactly as without this module
    p = df["p"].to_numpy()
    if table == "medications":
        rows = pl_.choose(rate.get("near_miss_drug", 0.0))
        names = np.asarray(MISSPELT_DRUGS, dtype=object)
        pl_.set("drug", rows, names[rng.integers(0, len(names), len(rows))].tolist())
        pl_.record(rows, "near_miss_drug", "drug")
    if table == "diagnoses":
        rows = pl_.choose(rate.get("near_miss_code", 0.0))
        codes = np.asarray(LOOKALIKE_CODES, dtype=object)
        pl_.set("code", rows, codes[rng.integers(0, len(codes), len(rows))].tolist())
        pl_.record(rows, "near_miss_code", "code")
    if table == "assessments":
        sex = _SEX.get(first)
        if sex is not None:
            male = np.asarray([s == "M" for s in sex[p]], dtype=bool)
            rows = pl_.choose(rate.get("sex_implausible", 0.0), eligible=male)
            pl_.set("item", rows, ["pregnancy_test"] * len(rows))
            pl_.set("value", rows, ["negative"] * len(rows))
            pl_.record(rows, "sex_implausible", "item")
    if table == "therapies":
        _plant_lines(pl_, rng, df, rate)
    if table == "therapies":
        _SEX.pop(first, None)  # the last table planted that could need it


def _plant_lines(pl_: Any, rng: np.random.Generator, df: pl.DataFrame, rate) -> None:
    p = df["p"].to_numpy()
    line = df["line_number"].to_numpy()
    start, end = pl_.days("start_date"), pl_.days("end_date")
    # patients none of whose rows carries another defect
    touched = np.unique(p[pl_.taken])
    clean = ~np.isin(p, touched)
    frame = pl.DataFrame({"i": np.arange(len(p)), "p": p, "line": line, "s": start, "e": end})
    ordered = frame.sort("p", "line").with_columns(
        pl.col("line").shift(1).over("p").alias("prev_line"),
        pl.col("s").shift(1).over("p").alias("prev_s"),
        pl.col("e").shift(1).over("p").alias("prev_e"),
        pl.col("line").max().over("p").alias("last"),
        pl.col("line").count().over("p").alias("n"),
        pl.col("line").n_unique().over("p").alias("n_distinct"),
    )
    ok = ordered.filter(pl.col("n") == pl.col("n_distinct"))  # one row per line
    # gap: the last line of a patient with >= 2 lines, renumbered one up
    gap_ok = np.zeros(len(p), dtype=bool)
    cand = ok.filter((pl.col("line") == pl.col("last")) & (pl.col("line") >= 2))
    gap_ok[cand["i"].to_numpy()] = True
    rows = pl_.choose(rate.get("line_gap", 0.0), eligible=gap_ok & clean)
    pl_.set("line_number", rows, (line[rows] + 1).astype(np.int64))
    pl_.record(rows, "line_gap", "line_number")
    gap_patients = np.unique(p[rows])
    # overlap: line n (>= 2) starts before line n-1 ended (previous line lasting >= 3 days)
    cand = ok.filter(
        (pl.col("line") >= 2)
        & (pl.col("prev_line") == pl.col("line") - 1)
        & (pl.col("prev_e") != int(NO_DATE))
        & (pl.col("prev_s") != int(NO_DATE))
        & (pl.col("s") != int(NO_DATE))
        & (pl.col("prev_e") - pl.col("prev_s") >= 3)
        & (pl.col("s") >= pl.col("prev_e"))
    )
    over_ok = np.zeros(len(p), dtype=bool)
    over_ok[cand["i"].to_numpy()] = True
    over_ok &= clean & ~np.isin(p, gap_patients)
    rows = pl_.choose(rate.get("line_overlap", 0.0), eligible=over_ok)
    if len(rows):
        prev = dict(
            zip(
                cand["i"].to_list(),
                zip(cand["prev_s"].to_list(), cand["prev_e"].to_list(), strict=True),
                strict=True,
            )
        )
        new = []
        for r in rows:
            ps, pe = prev[int(r)]
            new.append(pe - int(rng.integers(1, min(30, pe - ps - 1) + 1)))
        pl_.set("start_date", rows, date_series(np.asarray(new, dtype=np.int64)))
    pl_.record(rows, "line_overlap", "start_date")
