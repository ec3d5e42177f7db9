"""Damaged registries for the fuzz suite (issue 10 point 6).

A clean synthetic registry (no planted defects) is held as polars frames; a *damage*
is a small function that changes those frames (or how they are written) and records
what it planted: value-level defects the loader must set aside and count, or a
structural defect the commands must refuse with one line. ``Damaged.write`` then
writes the registry as CSV or Parquet.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from feasibility.plausibility import PLAUSIBLE_RANGES
from feasibility.schema import TABLES, TESTS

#: Values no lab produces, whatever the test and unit (every range starts at >= 0).
IMPLAUSIBLE = [-1.0, -1e9, 1e19, 1e22, 1e308, math.inf, -math.inf, math.nan]
HUGE_DIAMETERS = [50.5, 51.0, 1e6, 1e308, math.inf, math.nan]
#: Tables the value-level damage never removes (their planted counts must survive).
REMOVABLE = ["diagnoses", "assessments", "medications", "procedures", "therapies"]
OPTIONAL_COLUMNS = [("patients", "death_date"), ("therapies", "end_date"), ("medications", "route")]


@dataclass
class Damaged:
    """A registry under construction: frames, how to write them, and what was planted."""

    frames: dict[str, pl.DataFrame]
    fmt: str
    rng: random.Random
    planted: Counter = field(default_factory=Counter)  # (table, column, problem) -> rows
    structural: list[str] = field(default_factory=list)  # must end in exit 2
    maybe_structural: list[str] = field(default_factory=list)  # exit 0 or 2 both fine
    dropped_columns: set[tuple[str, str]] = field(default_factory=set)
    raw_edits: list = field(default_factory=list)  # (table, function(bytes) -> bytes)
    duplicate_header: str | None = None
    delimiter_table: str | None = None

    # ------------------------------------------------------------ value-level damage
    def implausible_measurements(self, n: int) -> None:
        df = self.frames["measurements"]
        done = {i for i, _ in self._marks("measurements")}
        choices = [i for i in range(df.height) if i not in done]
        rows = self.rng.sample(choices, min(n, len(choices)))
        values = df["value"].to_list()
        for i in rows:
            values[i] = self.rng.choice(IMPLAUSIBLE)
            self._mark("measurements", i)
        self.frames["measurements"] = df.with_columns(pl.Series("value", values))
        self.planted["measurements", "value", "implausible_value"] += len(rows)

    def huge_lesions(self, n: int) -> None:
        df = self.frames["lesions"]
        rows = self.rng.sample(range(df.height), min(n, df.height))
        values = df["longest_diameter_cm"].to_list()
        fresh = [i for i in rows if values[i] is None or values[i] <= 50.0]
        for i in fresh:
            values[i] = self.rng.choice(HUGE_DIAMETERS)
        self.frames["lesions"] = df.with_columns(pl.Series("longest_diameter_cm", values))
        self.planted["lesions", "longest_diameter_cm", "implausible_value"] += len(fresh)

    def blank_ids(self, n: int) -> None:
        df = self.frames["patients"]
        copies = df.sample(n, with_replacement=True, seed=self.rng.randrange(2**31))
        blanks = [self.rng.choice(["", " ", "   "]) for _ in range(n)]
        self.frames["patients"] = pl.concat(
            [df, copies.with_columns(pl.Series("patient_id", blanks))]
        )

    def conflicting_patients(self, n: int) -> None:
        df = self.frames["patients"]
        real = df.filter(pl.col("patient_id").str.strip_chars() != "")
        copies = real.sample(min(n, real.height), seed=self.rng.randrange(2**31))
        column = self.rng.choice(["birth_date", "sex"])
        if column == "birth_date":
            changed = copies.with_columns(pl.col("birth_date") + pl.duration(days=1))
        else:
            changed = copies.with_columns(
                pl.when(pl.col("sex") == "F").then(pl.lit("M")).otherwise(pl.lit("F")).alias("sex")
            )
        self.frames["patients"] = pl.concat([df, changed])

    def exact_duplicates(self, n: int) -> None:
        table = self.rng.choice(["diagnoses", "therapies", "procedures"])
        df = self.frames.get(table)
        if df is not None and df.height:
            extra = df.sample(n, with_replacement=True, seed=self.rng.randrange(2**31))
            self.frames[table] = pl.concat([df, extra])

    def drop_optional_column(self) -> None:
        table, column = self.rng.choice(OPTIONAL_COLUMNS)
        if table in self.frames and column in self.frames[table].columns:  # may repeat
            self.frames[table] = self.frames[table].drop(column)
            self.dropped_columns.add((table, column))

    def remove_table(self) -> None:
        table = self.rng.choice(REMOVABLE)
        self.frames.pop(table, None)
        self.dropped_columns = {(t, c) for t, c in self.dropped_columns if t != table}

    # ------------------------------------------------------------ structural damage
    def missing_required_column(self) -> None:
        table = self.rng.choice(["measurements", "patients", "diagnoses"])
        column = {"measurements": "unit", "patients": "birth_date", "diagnoses": "code"}[table]
        if table not in self.frames:
            table, column = "patients", "birth_date"
        self.frames[table] = self.frames[table].drop(column)
        self.structural.append(f"{table}.{column} missing")

    def duplicated_column(self) -> None:
        self.duplicate_header = self.rng.choice(["patients", "measurements"])
        self.structural.append(f"{self.duplicate_header}: duplicated column")

    def wrong_delimiter(self) -> None:
        if self.fmt != "csv":
            return self.duplicated_column()
        self.delimiter_table = self.rng.choice(["patients", "therapies"])
        if self.delimiter_table in self.frames:
            self.structural.append(f"{self.delimiter_table}: semicolons")
        return None

    def unparseable_date(self) -> None:
        if self.fmt != "csv":
            return self.missing_required_column()
        df = self.frames["patients"].with_columns(pl.col("birth_date").cast(pl.String))
        i = self.rng.randrange(df.height)
        values = df["birth_date"].to_list()
        values[i] = self.rng.choice(["2024-13-45", "yesterday", "0000-00-00", "1e308"])
        self.frames["patients"] = df.with_columns(pl.Series("birth_date", values))
        self.structural.append("patients.birth_date unparseable")
        return None

    def corrupt_bytes(self) -> None:
        table = self.rng.choice(["measurements", "therapies"])
        if table not in self.frames:
            return
        seed = self.rng.randrange(2**31)

        def corrupt(data: bytes) -> bytes:
            r = random.Random(seed)
            out = bytearray(data)
            body = range(8, max(9, len(out) - 64)) if self.fmt == "parquet" else range(len(out))
            for _ in range(max(4, len(out) // 200)):
                out[r.choice(body)] = r.randrange(256)
            return bytes(out)

        self.raw_edits.append((table, corrupt))
        self.maybe_structural.append(f"{table}: corrupt bytes")

    def non_utf8(self) -> None:
        if self.fmt != "csv":
            return self.missing_required_column()
        self.raw_edits.append(("patients", lambda data: data.replace(b"site", b"s\xe9te", 1)))
        self.structural.append("patients: not UTF-8")
        return None

    # ------------------------------------------------------------ bookkeeping
    def _marks(self, table: str) -> list[tuple[int, str]]:
        return [(i, t) for t, i in self.planted_rows if t == table]

    def _mark(self, table: str, i: int) -> None:
        self.planted_rows.append((table, i))

    def __post_init__(self) -> None:
        self.planted_rows: list[tuple[str, int]] = []

    # ------------------------------------------------------------ expectations
    def expected_patients(self) -> set[str]:
        ids = self.frames["patients"]["patient_id"].str.strip_chars()
        return {i for i in ids.to_list() if i}

    def expected_set_aside(self) -> Counter:
        """Planted value-level counts, including the loader's own derivations that the test
        computes independently: blank ids and conflicting patient fields."""
        out = Counter(self.planted)
        patients = self.frames["patients"]
        ids = patients["patient_id"].to_list()
        out["patients", "patient_id", "blank_patient_id"] = sum(1 for i in ids if not i.strip())
        groups: dict[str, list[dict]] = {}
        for rec in patients.to_dicts():
            if rec["patient_id"].strip():
                groups.setdefault(rec["patient_id"].strip(), []).append(rec)
        for column in patients.columns:
            if column == "patient_id":
                continue
            rows = sum(len(g) for g in groups.values() if len({r[column] for r in g}) > 1)
            out["patients", column, "conflicting_duplicate"] = rows
        return +out

    # ------------------------------------------------------------ writing
    def write(self, root: Path) -> Path:
        root.mkdir(parents=True, exist_ok=True)
        for table, df in self.frames.items():
            path = root / f"{table}.{self.fmt}"
            if self.fmt == "csv":
                sep = ";" if table == self.delimiter_table else ","
                df.write_csv(path, separator=sep)
                if table == self.duplicate_header:
                    _duplicate_csv_column(path)
            elif table == self.duplicate_header:
                arrow = df.to_arrow()
                names = [*arrow.column_names, arrow.column_names[1]]
                pq.write_table(pa.table([*arrow.columns, arrow.column(1)], names=names), path)
            else:
                df.write_parquet(path)
        for table, edit in self.raw_edits:
            path = root / f"{table}.{self.fmt}"
            if path.exists():
                path.write_bytes(edit(path.read_bytes()))
        return root


def _duplicate_csv_column(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    out = []
    for line in lines:
        first = line.split(",", 2)
        out.append(line + "," + (first[1] if len(first) > 1 else ""))
    path.write_text("\n".join(out) + "\n", encoding="utf-8")


DAMAGES = {
    "implausible_measurements": lambda d: d.implausible_measurements(d.rng.randint(1, 4)),
    "huge_lesions": lambda d: d.huge_lesions(d.rng.randint(1, 3)),
    "blank_ids": lambda d: d.blank_ids(d.rng.randint(1, 3)),
    "conflicting_patients": lambda d: d.conflicting_patients(d.rng.randint(1, 3)),
    "exact_duplicates": lambda d: d.exact_duplicates(d.rng.randint(1, 3)),
    "drop_optional_column": Damaged.drop_optional_column,
    "remove_table": Damaged.remove_table,
}
STRUCTURAL = {
    "missing_required_column": Damaged.missing_required_column,
    "duplicated_column": Damaged.duplicated_column,
    "wrong_delimiter": Damaged.wrong_delimiter,
    "unparseable_date": Damaged.unparseable_date,
    "non_utf8": Damaged.non_utf8,
    "corrupt_bytes": Damaged.corrupt_bytes,
}


def load_frames(root: Path) -> dict[str, pl.DataFrame]:
    """The clean registry's tables as frames (contract columns only)."""
    return {
        t: pl.read_parquet(root / f"{t}.parquet").select(list(TABLES[t]))
        for t in TABLES
        if (root / f"{t}.parquet").exists()
    }


def clean_is_plausible(frames: dict[str, pl.DataFrame]) -> bool:
    """The base registry has no implausible values (so planted counts are exact)."""
    m = frames["measurements"]
    for rec in m.iter_rows(named=True):
        factor = TESTS[rec["test"]].factors.get(rec["unit"])
        if factor is None or rec["value"] is None:
            return False
        low, high = PLAUSIBLE_RANGES[rec["test"]]
        if not low <= rec["value"] * factor <= high:
            return False
    d = frames["lesions"]["longest_diameter_cm"].drop_nulls()
    return bool(d.is_empty() or d.max() <= 50.0)
