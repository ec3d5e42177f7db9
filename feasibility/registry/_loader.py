"""``load_registry``: a registry directory in, typed and normalised lazy tables out.

Each table file is opened and its structure checked at load. Files that need parsing
(CSV, text columns) are then read at once: typed (stopping on the first unparseable
value), normalised, exact duplicates dropped, and kept in memory as one eager frame
behind a LazyFrame (measurements compute ``value``/``unit`` in the canonical unit when
collected, see ``measurements_view``). Typed Parquet tables, which cannot fail on a
value, get the same treatment when first collected; until then a screen reads them
through ``Registry.scan`` (``_scan``). ``raw`` frames are lazy re-scans of the files, so
they cost nothing until someone collects them.

Memory and time matter at a million patients (tens of millions of measurement rows):
vocabulary columns are Enums (one byte a row), the unfiltered frame is released
column by column while filtering, and duplicates are found by sorting row hashes.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field
from functools import cached_property, partial
from pathlib import Path

import polars as pl

from feasibility.errors import RegistryError
from feasibility.schema import TABLES

from ._accounting import ROW_ACCOUNTING_SCHEMA, RowCount
from ._dedup import first_occurrence
from ._files import TableFiles, find_table_files, fingerprint
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
    SourceTable,
    _unreadable,
    empty_frame,
    open_table,
    raw_frame,
    read_typed,
)
from ._scan import deferrable, scan_normalised

#: Serialises progress lines: a deferred table loads on whichever thread collects it.
_SAY_LOCK = threading.Lock()


class _Store:
    """The normalised tables held in memory, each loaded (typed, normalised, duplicates
    dropped, set-aside values counted) when first needed, once, even if asked from
    several threads at the same time (polars calls deferred sources from its pool)."""

    def __init__(self, progress: bool) -> None:
        self.progress = progress
        self.sources: dict[str, SourceTable] = {}
        self.frames: dict[str, pl.DataFrame] = {}
        self.found: dict[str, list[SetAside]] = {}
        self.counts: dict[str, RowCount] = {}
        self.locks = {t: threading.Lock() for t in TABLES}

    def say(self, message: str) -> None:
        """One progress line on stderr, written whole (tables load on polars' threads)."""
        if self.progress:
            with _SAY_LOCK:
                sys.stderr.write(message + "\n")
                sys.stderr.flush()

    def loaded(self, table: str) -> bool:
        return table in self.frames

    def frame(self, table: str) -> pl.DataFrame:
        with self.locks[table]:
            if table not in self.frames:
                self._load(table)
            return self.frames[table]

    def absent(self, table: str) -> None:
        self.frames[table], self.found[table], self.counts[table] = _normalise(
            table, [_typed_empty(table)]
        )

    def _load(self, table: str) -> None:
        t0 = time.perf_counter()
        src = self.sources[table]
        box = [read_typed(src, VOCABULARIES.get(table, {}))]
        rows = box[0].height
        normal, problems, count = _normalise(table, box)
        self.frames[table], self.found[table], self.counts[table] = normal, problems, count
        dropped = rows - normal.height
        note = f", {dropped:,} duplicate or unusable rows left out" if dropped else ""
        self.say(
            f"  {table}: {rows:,} rows from {src.file.name}{note} "
            f"({time.perf_counter() - t0:.1f} s)"
        )


@dataclass(frozen=True, eq=False)
class Registry:
    """A loaded registry: normalised tables for the engine, raw tables for data quality.

    ``tables`` holds all eight contract tables (an absent one is an empty frame of the
    same schema); ``present`` says which had a file. ``set_aside`` counts values the
    loader could not use (outside a vocabulary), so validation can show them.

    A table whose file already has the contract's types (typed Parquet) is *deferred*:
    its structure was checked at load, but it is read, normalised and de-duplicated
    into memory when first collected (or by :meth:`materialise`), then kept. A screen
    does not wait for that: it reads such tables through :meth:`scan`, which decodes only
    the columns it needs and skips duplicate detection.
    """

    path: Path
    tables: dict[str, pl.LazyFrame]
    raw: dict[str, pl.LazyFrame]
    present: frozenset[str]
    warnings: list[str] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict, repr=False)
    _store: _Store = field(default_factory=lambda: _Store(False), repr=False)

    def has(self, table: str) -> bool:
        """True if the registry had a file for ``table``."""
        return table in self.present

    def loaded(self, table: str) -> bool:
        """True if ``table`` is held in memory (collecting it reads no file)."""
        return self._store.loaded(table)

    def materialise(self, *tables: str) -> Registry:
        """Read the named deferred tables (default: all) into memory now; returns self."""
        for table in tables or TABLES:
            self._store.frame(table)
        return self

    def scan(
        self, table: str, columns: list[str] | None = None, where: pl.Expr | None = None
    ) -> pl.LazyFrame:
        """The normalised ``table`` (optionally only ``columns``, and only the rows where
        ``where`` holds, a predicate over columns normalisation keeps as they are, such as
        dates) for consumers whose answer does not depend on exact duplicate rows: the
        in-memory table once it is loaded, else a lazy query over the file that keeps
        duplicates and hands ``where`` to the file reader (see ``_scan``)."""
        if self.loaded(table) or table not in self._store.sources:
            lf = self.tables[table]
            lf = lf if where is None else lf.filter(where)
        else:
            lf = scan_normalised(self._store.sources[table], where)
        return lf if columns is None else lf.select(columns)

    def read_error(self, table: str, exc: BaseException) -> RegistryError:
        """The error to raise when collecting :meth:`scan` of ``table`` failed: a deferred
        file is only read then (e.g. a damaged data page), so name the table and file."""
        return _unreadable(table, self.files[table], exc)

    @property
    def set_aside(self) -> pl.DataFrame:
        """Values the loader could not use, counted per table, column and problem, with a
        few example rows and values. Loads every deferred table (the count needs all rows)."""
        self.materialise()
        found = [vars(s) for t in TABLES for s in self._store.found.get(t, [])]
        return pl.DataFrame(found or None, schema=SET_ASIDE_SCHEMA)

    @property
    def missing_columns(self) -> dict[str, frozenset[str]]:
        """Optional contract columns absent from a present table's file (e.g.
        ``patients.death_date``): their facts are unknown for everyone, never "null"
        (the engine treats a criterion reading one as unknown; validation fails its
        checks). Only tables that have such a gap appear."""
        out = {t: src.absent_columns for t, src in self._store.sources.items()}
        return {t: cols for t, cols in out.items() if cols}

    def row_accounting(self) -> pl.DataFrame:
        """Per table: ``rows_read`` = ``rows_used`` + ``rows_set_aside``, with the rows set
        aside by reason (``by_reason``: "reason n; ..."). Every row the loader read is either
        in ``tables`` or counted under exactly one reason (exact duplicates included).
        Loads every deferred table (the counts need all rows)."""
        self.materialise()
        rows = []
        for table in TABLES:
            count = self._store.counts[table]
            rows.append(
                {
                    "table": table,
                    "present": self.has(table),
                    "rows_read": count.read,
                    "rows_used": count.used,
                    "rows_set_aside": count.read - count.used,
                    "by_reason": "; ".join(f"{r} {n}" for r, n in count.reasons.items()),
                }
            )
        return pl.DataFrame(rows, schema=ROW_ACCOUNTING_SCHEMA)

    def rows_set_aside(self, table: str) -> dict[str, int]:
        """Rows of ``table`` left out of ``tables``, by reason (see :meth:`row_accounting`)."""
        self.materialise(table)
        return dict(self._store.counts[table].reasons)

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


def _looks_omop(root: Path) -> bool:
    from feasibility.omop.source import is_omop

    return is_omop(root)


def _typed_empty(table: str) -> pl.DataFrame:
    """What :func:`read_typed` returns for a file with a header and no rows."""
    vocab = VOCABULARIES.get(table, {})
    return empty_frame(table).with_columns(pl.col(c).cast(pl.Categorical) for c in vocab)


def _normalise(
    table: str, box: list[pl.DataFrame]
) -> tuple[pl.DataFrame, list[SetAside], RowCount]:
    """Normalise, leave out rows without a patient_id, then drop exact duplicates (first
    ``_row`` kept); count every row left out under one reason (``RowCount``).

    Duplicates are judged on the contract columns as written (``source_*`` where the
    normaliser rewrote a value), after trimming and case-folding vocabulary columns.
    The typed frame comes in a one-element list so the normaliser holds the only
    reference and can release columns as it replaces them.
    """
    ctx = Context(table=table)
    normal, usable = NORMALISERS[table](box.pop(), ctx)
    blank = normal.get_column("patient_id").is_null()
    ctx.count(normal, "patient_id", "blank_patient_id", blank)
    columns = [f"source_{c}" if f"source_{c}" in normal.columns else c for c in TABLES[table]]
    first = first_occurrence(normal, columns)
    keep = first & ~blank
    if usable is not None:
        keep = keep & usable
    reasons = [("blank_patient_id (patient_id)", blank), *ctx.left_out, ("duplicate_row", ~first)]
    count = RowCount.attribute(normal.height, keep, reasons)
    box.append(normal)
    del normal
    return filter_columns(box, keep), ctx.found, count


def load_registry(
    path: str | Path,
    *,
    progress: bool = False,
    defer: bool = True,
    format: str = "auto",  # noqa: A002
    frames: dict[str, pl.LazyFrame] | None = None,
) -> Registry:
    """Load the registry directory at ``path`` (contract section 1).

    Raises :class:`~feasibility.errors.RegistryError` naming the table, column, row and
    value for structural problems: a missing directory or ``patients`` table, a missing
    required column, an unparseable date, number or boolean, an unreadable file.
    Tables whose files need parsing (CSV, text columns in Parquet) are read now, so
    such errors surface here; typed Parquet tables have nothing to parse and, with
    ``defer`` (the default), are read when first needed (see :class:`Registry`).
    With ``progress`` a short line per table goes to stderr.

    ``format``: ``"native"``, ``"omop"`` (an OMOP CDM 5.4 database, read through
    ``feasibility.omop``) or ``"auto"``: OMOP if ``path`` is a DuckDB file or a directory
    with a ``person`` table and no ``patients`` table. ``frames``: the tables as lazy
    frames made elsewhere (the OMOP reader's), instead of the files of ``path``.
    """
    root = Path(path)
    if format not in ("auto", "native", "omop"):
        raise ValueError(f"format must be auto, native or omop, not {format!r}")
    if frames is None and (format == "omop" or format == "auto" and _looks_omop(root)):
        from feasibility.omop import load_omop

        return load_omop(root, progress=progress, defer=defer)
    started = time.perf_counter()
    store = _Store(progress)

    if frames is None:
        found = find_table_files(root)
    else:
        found = TableFiles(files={t: root / f"{t} (mapped)" for t in frames if t in TABLES})
    store.say(f"loading registry {root} ({len(found.files)} table files)")
    for warning in found.warnings:
        store.say(f"  warning: {warning}")

    tables: dict[str, pl.LazyFrame] = {}
    raw: dict[str, pl.LazyFrame] = {}
    for table in TABLES:
        view = VIEWS.get(table, pl.LazyFrame.lazy)
        file = found.files.get(table)
        if file is None:
            store.absent(table)
            tables[table] = view(store.frames[table].lazy())
            raw[table] = empty_frame(table).lazy()
            store.say(f"  {table}: absent")
            continue
        src = open_table(table, file, None if frames is None else frames[table])
        store.sources[table] = src
        raw[table] = raw_frame(src)
        # patients are never deferred: conflicting duplicate rows must be merged (contract
        # 5.1) before anyone reads them, and the lazy scan keeps duplicates
        if defer and table != "patients" and deferrable(src):
            schema = _normalise(table, [_typed_empty(table)])[0].schema
            tables[table] = view(pl.defer(partial(store.frame, table), schema=schema))
            store.say(f"  {table}: {file.name} (typed; read when first needed)")
        else:
            tables[table] = view(store.frame(table).lazy())
    store.say(f"registry loaded in {time.perf_counter() - started:.1f} s")
    return Registry(
        path=root,
        tables=tables,
        raw=raw,
        present=frozenset(found.files),
        warnings=list(found.warnings),
        files=dict(found.files),
        _store=store,
    )


__all__ = ["Registry", "load_registry"]
