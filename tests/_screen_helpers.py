"""Helpers for the screening tests: an in-memory registry in the loader's normalised form.

``MemRegistry`` mimics the documented interface of ``feasibility.registry.Registry``
(``tables`` of normalised LazyFrames, ``present``, ``has``) so the engine can be tested
independently of the loader. ``make_registry`` fills absent columns with nulls and
applies the normalisation the loader guarantees (codes without dots upper-case, drug
canonical, ``systemic``, canonical measurement units).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import polars as pl

from feasibility.schema import NON_SYSTEMIC_ROUTES, TABLES, TESTS, canonical_drug

INDEX = dt.date(2024, 6, 30)


def d(days_before: int, index: dt.date = INDEX) -> dt.date:
    """The date ``days_before`` days before the index (negative: after)."""
    return index - dt.timedelta(days=days_before)


@dataclass
class MemRegistry:
    tables: dict[str, pl.LazyFrame]
    present: frozenset[str] = field(default_factory=frozenset)

    def has(self, table: str) -> bool:
        return table in self.present


def _frame(table: str, rows: list[dict]) -> pl.DataFrame:
    schema = dict(TABLES[table])
    cols = {c: [r.get(c) for r in rows] for c in schema}
    return pl.DataFrame(cols, schema=schema)


def normalise(table: str, df: pl.DataFrame) -> pl.DataFrame:
    """The loader's guarantees, applied to a typed frame (see docs/ARCHITECTURE.md)."""
    if table == "patients":
        df = df.with_columns(pl.col("sex").str.strip_chars().str.to_uppercase())
        df = df.with_columns(
            pl.when(pl.col("sex").is_in(["F", "M", "U"])).then(pl.col("sex")).alias("sex")
        )
    elif table == "diagnoses":
        df = df.with_columns(
            pl.col("code")
            .str.replace_all(".", "", literal=True)
            .str.replace_all(" ", "", literal=True)
            .str.to_uppercase()
        )
    elif table == "measurements":
        f = [
            (t.name, u, fac, t.canonical_unit)
            for t in TESTS.values()
            for u, fac in t.factors.items()
        ]
        fac = pl.DataFrame(f, schema=["test", "unit", "factor", "cu"], orient="row")
        df = (
            df.join(fac, on=["test", "unit"], how="inner")
            .with_columns(
                (pl.col("value") * pl.col("factor")).alias("value"), pl.col("cu").alias("unit")
            )
            .drop("factor", "cu")
        )
    elif table == "assessments":
        df = df.with_columns(
            pl.col("item").str.strip_chars().str.to_lowercase(),
            pl.col("value").str.strip_chars().str.to_lowercase(),
        )
    elif table == "medications":
        df = df.with_columns(
            pl.col("drug").map_elements(canonical_drug, return_dtype=pl.String),
            pl.col("route").str.strip_chars().str.to_lowercase(),
        )
        df = df.with_columns(
            (pl.col("route").is_null() | ~pl.col("route").is_in(list(NON_SYSTEMIC_ROUTES))).alias(
                "systemic"
            )
        )
    return df.unique(maintain_order=True)


def make_registry(absent: tuple[str, ...] = (), **tables: list[dict]) -> MemRegistry:
    """Build a normalised in-memory registry from lists of row dicts.

    Every contract table not in ``absent`` is present (empty if not given).
    """
    frames = {}
    present = set()
    for t in TABLES:
        df = normalise(t, _frame(t, tables.get(t, [])))
        frames[t] = df.lazy()
        if t not in absent:
            present.add(t)
        else:
            frames[t] = _frame(t, []).lazy()
    return MemRegistry(frames, frozenset(present))


def patient(
    pid: str = "p1", sex: str | None = "M", birth: dt.date | None = dt.date(1960, 1, 1), death=None
) -> dict:
    return {"patient_id": pid, "sex": sex, "birth_date": birth, "death_date": death}


def eligible_patient_rows(
    pid: str = "p1", sex: str = "M", index: dt.date = INDEX
) -> dict[str, list[dict]]:
    """Rows for one patient who passes every criterion of pomalidomide-ixazomib-dex at ``index``."""
    return {
        "patients": [patient(pid, sex, dt.date(1960, 1, 1))],
        "diagnoses": [{"patient_id": pid, "code": "C90.00", "diagnosed_on": d(700, index)}],
        "therapies": [
            {
                "patient_id": pid,
                "line_number": 1,
                "regimen": "VRd",
                "start_date": d(600, index),
                "end_date": d(200, index),
                "investigational": False,
            }
        ],
        "lesions": [
            {
                "patient_id": pid,
                "imaged_on": d(10, index),
                "site": "paraspinal soft tissue",
                "longest_diameter_cm": 3.1,
                "bone_contiguous": False,
            }
        ],
        "measurements": [
            {
                "patient_id": pid,
                "test": "creatinine",
                "value": 1.0,
                "unit": "mg/dL",
                "measured_on": d(5, index),
            },
            {
                "patient_id": pid,
                "test": "weight",
                "value": 70.0,
                "unit": "kg",
                "measured_on": d(5, index),
            },
            {
                "patient_id": pid,
                "test": "anc",
                "value": 2000.0,
                "unit": "/mm3",
                "measured_on": d(5, index),
            },
            {
                "patient_id": pid,
                "test": "platelets",
                "value": 150000.0,
                "unit": "/mm3",
                "measured_on": d(5, index),
            },
            {
                "patient_id": pid,
                "test": "hemoglobin",
                "value": 11.0,
                "unit": "g/dL",
                "measured_on": d(5, index),
            },
            {
                "patient_id": pid,
                "test": "qtc",
                "value": 430.0,
                "unit": "ms",
                "measured_on": d(5, index),
            },
        ],
        "assessments": [
            {"patient_id": pid, "item": "ecog", "value": "1", "assessed_on": d(5, index)},
            {
                "patient_id": pid,
                "item": "neuropathy_grade",
                "value": "0",
                "assessed_on": d(5, index),
            },
        ],
    }


def merge(*parts: dict[str, list[dict]]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for p in parts:
        for t, rows in p.items():
            out.setdefault(t, []).extend(rows)
    return out
