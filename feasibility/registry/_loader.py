"""``load_registry``: a registry directory in, typed and normalised lazy tables out.

Each table file is read once: typed (stopping on structural problems), normalised,
exact duplicates dropped, and kept in memory as one eager frame behind a LazyFrame
(measurements compute ``value``/``unit`` in the canonical unit when collected, see
``measurements_view``). ``raw`` frames are lazy re-scans of the files, so they cost
nothing until someone collects them.

Memory and time matter at a million patients (tens of millions of measurement rows):
vocabulary columns are Enums (one byte a row), the unfiltered frame is released
column by column while filtering, and duplicates are found by sorting row hashes.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import ClassVar

import polars as pl

from feasibility.schema import TABLES

from ._dedup import first_occurrence
from ._files import find_table_files, fingerprint
from ._normalise import (
    NORMALISERS,
    SET_ASIDE_SCHEMA,
    VIEWS,
    VOCABULARIES,
    Context,
    SetAside,
    filter_columns,
)
from ._read import (
    empty_frame,
    open_table,
    raw_frame,
    read_typed,
)


@dataclass(frozen=True, eq=False)
class Registry:
    """A loaded registry: normalised tables for the engine, raw tables for data quality.

    ``tables`` holds all eight contract tables (an absent one is an empty frame of the
    same schema); ``present`` says which had a file. ``set_aside`` counts values the
    loader could not use (outside a vocabulary), so validation can show them.
    """

    path: Path
    tables: dict[str, pl.LazyFrame]
    raw: dict[str, pl.LazyFrame]
    present: frozenset[str]
    set_aside: pl.DataFrame
    warnings: list[str] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict, repr=False)
    #: ``tables`` are lazy views over frames already in memory: collecting one reads no
    #: file, so consumers need not keep their own copy (the engine's table cache does not).
    in_memory: ClassVar[bool] = True

    def has(self, table: str) -> bool:
        """True if the registry had a file for ``table``."""
        return table in self.present

    @cached_property
    def fingerprint(self) -> str:
        """sha256 over the table files (names, sizes and bytes); computed on first use."""
        return fingerprint(self.files)

    @property
    def patient_ids(self) -> pl.LazyFrame:
        """The normalised ``patients.patient_id`` column."""
        return self.tables["patients"].select("patient_id")

    def __repr__(self) -> str:
        return f"Registry({str(self.path)!r}, present={sorted(self.present)})"


def _typed_empty(table: str) -> pl.DataFrame:
    """What :func:`read_typed` returns for a file with a header and no rows."""
    vocab = VOCABULARIES.get(table, {})
    return empty_frame(table).with_columns(pl.col(c).cast(pl.Categorical) for c in vocab)


def _normalise(table: str, box: list[pl.DataFrame]) -> tuple[pl.DataFrame, list[SetAside]]:
    """Normalise, then drop exact duplicates (first ``_row`` kept).

    Duplicates are judged on the contract columns as written (``source_*`` where the
    normaliser rewrote a value), after trimming and case-folding vocabulary columns.
    The typed frame comes in a one-element list so the normaliser holds the only
    reference and can release columns as it replaces them.
    """
    ctx = Context(table=table)
    normal, usable = NORMALISERS[table](box.pop(), ctx)
    columns = [f"source_{c}" if f"source_{c}" in normal.columns else c for c in TABLES[table]]
    keep = first_occurrence(normal, columns)
    if usable is not None:
        keep = keep & usable
    box.append(normal)
    del normal
    return filter_columns(box, keep), ctx.found


def load_registry(path: str | Path, *, progress: bool = False) -> Registry:
    """Load the registry directory at ``path`` (contract section 1).

    Raises :class:`~feasibility.errors.RegistryError` naming the table, column, row and
    value for structural problems: a missing directory or ``patients`` table, a missing
    required column, an unparseable date, number or boolean, an unreadable file.
    With ``progress`` a short line per table goes to stderr.
    """
    root = Path(path)
    started = time.perf_counter()

    def say(message: str) -> None:
        if progress:
            print(message, file=sys.stderr, flush=True)

    found = find_table_files(root)
    say(f"loading registry {root} ({len(found.files)} table files)")
    for warning in found.warnings:
        say(f"  warning: {warning}")

    tables: dict[str, pl.LazyFrame] = {}
    raw: dict[str, pl.LazyFrame] = {}
    set_aside: list[SetAside] = []
    for table in TABLES:
        file = found.files.get(table)
        if file is None:
            normal, _ = _normalise(table, [_typed_empty(table)])
            tables[table] = VIEWS.get(table, pl.LazyFrame.lazy)(normal.lazy())
            raw[table] = empty_frame(table).lazy()
            say(f"  {table}: absent")
            continue
        t0 = time.perf_counter()
        src = open_table(table, file)
        box = [read_typed(src, VOCABULARIES.get(table, {}))]
        rows = box[0].height
        normal, problems = _normalise(table, box)
        tables[table] = VIEWS.get(table, pl.LazyFrame.lazy)(normal.lazy())
        raw[table] = raw_frame(src)
        set_aside.extend(problems)
        dropped = rows - normal.height
        note = f", {dropped:,} duplicate or unusable rows left out" if dropped else ""
        say(f"  {table}: {rows:,} rows from {file.name}{note} ({time.perf_counter() - t0:.1f} s)")
    say(f"registry loaded in {time.perf_counter() - started:.1f} s")
    return Registry(
        path=root,
        tables=tables,
        raw=raw,
        present=frozenset(found.files),
        set_aside=pl.DataFrame(
            [vars(s) for s in set_aside] if set_aside else None, schema=SET_ASIDE_SCHEMA
        ),
        warnings=list(found.warnings),
        files=dict(found.files),
    )


__all__ = ["Registry", "load_registry"]
