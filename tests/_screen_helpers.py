"""Helpers for the screening tests: an in-memory registry in the loader's normalised form.

``MemRegistry`` mimics the documented interface of ``feasibility.registry.Registry``
(``tables`` of normalised LazyFrames, ``present``, ``has``) so the engine can be tested
independently of the loader. ``make_registry`` fills absent columns with nulls and
applies the normalisation the loader guarantees (codes without dots upper-case, drug
canonical, ``systemic``, canonical measurement units).
"""

from __future__ import annotations

import datetime as dt
import functools
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


# ---------------------------------------------------------------- one-patient screening
PROTOCOL_ID = "pomalidomide-ixazomib-dex"
Row = tuple[str, dict]


def meas(
    test: str, value: float, days_before: int, unit: str | None = None, pid: str = "p1"
) -> Row:
    unit = unit or TESTS[test].canonical_unit
    return "measurements", {
        "patient_id": pid,
        "test": test,
        "value": value,
        "unit": unit,
        "measured_on": d(days_before),
    }


def assess(item: str, value: str, days_before: int, pid: str = "p1") -> Row:
    return "assessments", {
        "patient_id": pid,
        "item": item,
        "value": value,
        "assessed_on": d(days_before),
    }


def dx(code: str, days_before: int, pid: str = "p1") -> Row:
    return "diagnoses", {"patient_id": pid, "code": code, "diagnosed_on": d(days_before)}


def med(
    drug: str,
    start_before: int,
    end_before: int | None = None,
    route: str | None = "oral",
    pid: str = "p1",
) -> Row:
    end = None if end_before is None else d(end_before)
    return "medications", {
        "patient_id": pid,
        "drug": drug,
        "route": route,
        "start_date": d(start_before),
        "end_date": end,
    }


def proc(category: str, days_before: int, pid: str = "p1") -> Row:
    return "procedures", {"patient_id": pid, "category": category, "performed_on": d(days_before)}


def lesion(
    days_before: int, diameter: float | None, bone_contiguous: bool | None = False, pid: str = "p1"
) -> Row:
    return "lesions", {
        "patient_id": pid,
        "imaged_on": d(days_before),
        "site": "soft tissue",
        "longest_diameter_cm": diameter,
        "bone_contiguous": bone_contiguous,
    }


def therapy(
    start_before: int,
    end_before: int | None = None,
    line: int = 1,
    investigational: bool | None = False,
    pid: str = "p1",
) -> Row:
    end = None if end_before is None else d(end_before)
    return "therapies", {
        "patient_id": pid,
        "line_number": line,
        "regimen": "KRd",
        "start_date": d(start_before),
        "end_date": end,
        "investigational": investigational,
    }


@functools.lru_cache(maxsize=8)
def cached_protocol(ref: str):
    from feasibility.protocol import load_protocol

    return load_protocol(ref)


def rows_to_tables(rows: tuple[Row, ...] | list[Row]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for table, row in rows:
        out.setdefault(table, []).append(row)
    return out


def screen_patient(
    *rows: Row,
    sex: str | None = "M",
    birth: dt.date | None = dt.date(1960, 1, 1),
    death: dt.date | None = None,
    index: dt.date = INDEX,
    absent: tuple[str, ...] = (),
    protocol=PROTOCOL_ID,
):
    """Screen one patient p1 with the given rows; returns the ScreenResult."""
    from feasibility.engine import screen

    if isinstance(protocol, str):
        protocol = cached_protocol(protocol)
    tables = rows_to_tables(rows)
    tables["patients"] = [patient("p1", sex, birth, death)]
    return screen(make_registry(absent=absent, **tables), protocol, index)


def status_of(criterion: str, *rows: Row, **kw) -> str:
    """The status (pass/fail/unknown) of one criterion for patient p1."""
    return screen_patient(*rows, **kw).patient_status.row(0, named=True)[criterion]
