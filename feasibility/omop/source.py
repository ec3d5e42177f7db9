"""Open an OMOP CDM 5.4 database: a directory of Parquet or CSV tables, or a DuckDB file.

Only the tables the mapping reads are opened, as polars LazyFrames with lower-case
column names. Date columns are cast to ``Date`` (Parquet dates, timestamps, or ISO /
``YYYYMMDD`` text in CSV). DuckDB files need the optional ``duckdb`` package
(``pip install feasibility[omop]``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from feasibility.errors import RegistryError

#: The clinical and vocabulary tables the reader uses (others are ignored).
TABLES: tuple[str, ...] = (
    "person",
    "care_site",
    "observation_period",
    "death",
    "condition_occurrence",
    "measurement",
    "observation",
    "drug_exposure",
    "procedure_occurrence",
    "episode",
    "episode_event",
    "concept",
    "concept_relationship",
    "concept_ancestor",
)

DUCKDB_SUFFIXES: tuple[str, ...] = (".duckdb", ".ddb", ".db")
_FILE_SUFFIXES: tuple[str, ...] = (".parquet", ".csv")


def is_omop(path: str | Path) -> bool:
    """True if ``path`` looks like an OMOP CDM database: a DuckDB file, or a directory
    with a ``person`` table and no native ``patients`` table."""
    p = Path(path)
    if p.is_file():
        return p.suffix.lower() in DUCKDB_SUFFIXES
    if not p.is_dir():
        return False
    names = {e.name.lower() for e in p.iterdir()}
    has = lambda t: any(f"{t}{s}" in names for s in _FILE_SUFFIXES)  # noqa: E731
    return has("person") and not has("patients")


@dataclass
class OmopSource:
    """The opened OMOP tables (lazy) and the files they came from."""

    path: Path
    kind: str  # "parquet", "csv", "mixed" or "duckdb"
    tables: dict[str, pl.LazyFrame]
    files: dict[str, Path] = field(default_factory=dict)
    #: results of whole-table scans the reader needs more than once (distinct concepts)
    cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def has(self, table: str) -> bool:
        """True if the database has ``table`` (possibly empty)."""
        return table in self.tables

    def get(self, table: str) -> pl.LazyFrame:
        """The table, dates typed; raises if absent (check :meth:`has` first)."""
        return self.tables[table]

    def fingerprint(self) -> str:
        """sha256 over the table files' names and bytes."""
        digest = hashlib.sha256()
        for name in sorted(self.files):
            file = self.files[name]
            digest.update(f"{file.name}\0{file.stat().st_size}\0".encode())
            with file.open("rb") as handle:
                while chunk := handle.read(1 << 22):
                    digest.update(chunk)
        return digest.hexdigest()


def _typed_dates(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Lower-case the column names and make every ``*_date`` column a ``Date``."""
    schema = lf.collect_schema()
    lf = lf.rename({c: c.lower() for c in schema.names() if c != c.lower()})
    schema = lf.collect_schema()
    exprs = []
    for name, dtype in schema.items():
        if not name.endswith("_date"):
            continue
        col = pl.col(name)
        if dtype == pl.Date:
            continue
        if isinstance(dtype, pl.Datetime):
            exprs.append(col.dt.date())
        elif dtype == pl.String:
            text = col.str.strip_chars()
            exprs.append(
                pl.coalesce(
                    text.str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False),
                    text.str.to_date("%Y%m%d", strict=False),
                ).alias(name)
            )
        elif dtype.is_integer():  # YYYYMMDD as a number
            exprs.append(col.cast(pl.String).str.to_date("%Y%m%d", strict=False).alias(name))
    if exprs:
        lf = lf.with_columns(exprs)
    decimals = [n for n, d in schema.items() if isinstance(d, pl.Decimal)]
    if decimals:
        lf = lf.with_columns(pl.col(decimals).cast(pl.Float64))
    return lf


def open_omop(path: str | Path) -> OmopSource:
    """Open the OMOP database at ``path`` (directory of tables or DuckDB file)."""
    root = Path(path)
    if not root.exists():
        raise RegistryError(f"OMOP database {str(root)!r} does not exist")
    if root.is_file():
        return _open_duckdb(root)
    files: dict[str, Path] = {}
    for entry in sorted(root.iterdir()):
        suffix = entry.suffix.lower()
        table = entry.name[: -len(suffix)].lower() if suffix else ""
        if entry.is_file() and suffix in _FILE_SUFFIXES and table in TABLES:
            if table in files:
                raise RegistryError(
                    f"OMOP table {table!r} has two files ({files[table].name} and {entry.name})",
                    table=table,
                )
            files[table] = entry
    if "person" not in files:
        raise RegistryError(
            f"OMOP database {root} has no person table (person.parquet or person.csv)",
            table="person",
        )
    tables: dict[str, pl.LazyFrame] = {}
    for table, file in files.items():
        try:
            if file.suffix.lower() == ".csv":
                lf = pl.scan_csv(file, infer_schema_length=100_000, encoding="utf8")
            else:
                lf = pl.scan_parquet(file)
            tables[table] = _typed_dates(lf)
        except Exception as exc:  # an unreadable file: name it
            raise RegistryError(
                f"OMOP table {table!r}: cannot read {file.name}: {exc}", table=table
            ) from None
    kinds = {f.suffix.lower().lstrip(".") for f in files.values()}
    return OmopSource(root, kinds.pop() if len(kinds) == 1 else "mixed", tables, files)


def fetch_arrow(con: Any, query: str) -> Any:
    """The Arrow table of a DuckDB query (the method's name varies by duckdb version)."""
    relation = con.sql(query)
    for name in ("to_arrow_table", "fetch_arrow_table", "arrow"):
        method = getattr(relation, name, None)
        if method is not None:
            return method()
    raise RegistryError("this duckdb version offers no Arrow result")


def _open_duckdb(file: Path) -> OmopSource:
    try:
        import duckdb
    except ImportError:  # pragma: no cover - depends on the installation
        raise RegistryError(
            f"{file.name} is a DuckDB database: install the optional extra "
            "(pip install 'feasibility[omop]') to read it"
        ) from None
    try:
        con = duckdb.connect(str(file), read_only=True)
    except Exception as exc:
        raise RegistryError(f"cannot open DuckDB database {file.name}: {exc}") from None
    try:
        rows = con.execute(
            "select table_schema, table_name from information_schema.tables"
        ).fetchall()
        found: dict[str, tuple[str, str]] = {}
        for schema, name in rows:
            key = name.lower()
            # the first schema wins, but `main` before others
            if key in TABLES and (key not in found or schema == "main"):
                found[key] = (schema, name)
        if "person" not in found:
            raise RegistryError(f"DuckDB database {file.name} has no person table", table="person")
        tables = {}
        for key, (schema, name) in found.items():
            frame = pl.from_arrow(fetch_arrow(con, f'select * from "{schema}"."{name}"'))
            assert isinstance(frame, pl.DataFrame)
            tables[key] = _typed_dates(frame.lazy())
    finally:
        con.close()
    return OmopSource(file, "duckdb", tables, {"database": file})
