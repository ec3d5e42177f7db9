"""Helpers for the registry loader tests: write small registries into a directory.

Tables are given either as polars DataFrames (written as CSV or Parquet) or as CSV
text written verbatim, so a test can put exactly the bytes it means into a file.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

PATIENTS_CSV = (
    "patient_id,sex,birth_date,race,ethnicity,site,death_date\n"
    "P1,F,1960-01-01,,,site1,\n"
    "P2,M,1955-06-30,white,,site2,2024-01-01\n"
)


def patients_frame(n: int = 2) -> pl.DataFrame:
    """``n`` valid patients P1..Pn."""
    return pl.DataFrame(
        {
            "patient_id": [f"P{i}" for i in range(1, n + 1)],
            "sex": ["F", "M"] * (n // 2) + ["F"] * (n % 2),
            "birth_date": [f"19{50 + i % 40}-01-01" for i in range(n)],
            "race": [None] * n,
            "ethnicity": [None] * n,
            "site": ["site1"] * n,
            "death_date": [None] * n,
        },
        schema_overrides={"race": pl.String, "ethnicity": pl.String, "death_date": pl.String},
    ).with_columns(pl.col("birth_date").str.to_date())


def write_registry(
    root: Path, tables: dict[str, pl.DataFrame | str], fmt: str = "csv", *, patients: bool = True
) -> Path:
    """Write ``tables`` under ``root`` (created); add a valid ``patients`` unless given or
    ``patients`` is False. A str value is CSV text written as is (always ``.csv``)."""
    root.mkdir(parents=True, exist_ok=True)
    if patients and "patients" not in tables:
        tables = {"patients": PATIENTS_CSV, **tables}
    for name, table in tables.items():
        if isinstance(table, str):
            (root / f"{name}.csv").write_text(table, encoding="utf-8")
        elif fmt == "parquet":
            table.write_parquet(root / f"{name}.parquet")
        else:
            table.write_csv(root / f"{name}.csv")
    return root


def csv_table(header: str, *rows: str) -> str:
    """CSV text from a header and data lines."""
    return "\n".join([header, *rows]) + "\n"


def measurements_csv(*rows: tuple[str, str, str, str]) -> str:
    """measurements.csv with rows of (test, value, unit, measured_on) for patient P1."""
    return csv_table(
        "patient_id,test,value,unit,measured_on",
        *(f"P1,{test},{value},{unit},{day}" for test, value, unit, day in rows),
    )
