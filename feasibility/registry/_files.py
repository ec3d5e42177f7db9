"""Find the table files of a registry directory and fingerprint them.

A registry is a directory with one ``<table>.parquet`` or ``<table>.csv`` per table
(contract section 1). Files starting with ``_`` are the generator's metadata and
hidden files are the operating system's: both are skipped without a word. Anything
else that is not a known table is reported as a warning, never an error, so a
registry with extra tables still loads.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from feasibility.errors import RegistryError
from feasibility.schema import REQUIRED_TABLES, TABLES

FORMATS = (".parquet", ".csv")


@dataclass(frozen=True)
class TableFiles:
    """The files a registry directory offers: one per known table, plus warnings."""

    files: dict[str, Path]
    warnings: list[str] = field(default_factory=list)


def find_table_files(path: Path) -> TableFiles:
    """Map each contract table to its file; stop if the directory or ``patients`` is missing."""
    if not path.exists():
        raise RegistryError(f"registry directory {str(path)!r} does not exist")
    if not path.is_dir():
        raise RegistryError(f"registry {str(path)!r} is not a directory")
    files: dict[str, Path] = {}
    warnings: list[str] = []
    for entry in sorted(path.iterdir()):
        if entry.name.startswith(("_", ".")):
            continue
        suffix = entry.suffix.lower()
        if not entry.is_file() or suffix not in FORMATS:
            warnings.append(f"ignored {entry.name}: not a .parquet or .csv table file")
            continue
        table = entry.name[: -len(suffix)]
        if table not in TABLES:
            warnings.append(
                f"ignored {entry.name}: {table!r} is not a registry table "
                f"(known: {', '.join(TABLES)})"
            )
            continue
        if table in files:
            raise RegistryError(
                f"table {table!r} has two files ({files[table].name} and {entry.name}); "
                "keep one so it is clear which holds the data",
                table=table,
            )
        files[table] = entry
    for table in sorted(REQUIRED_TABLES):
        if table not in files:
            raise RegistryError(
                f"table {table!r} is missing: {path} has no {table}.parquet or {table}.csv",
                table=table,
            )
    return TableFiles(files=files, warnings=warnings)


def fingerprint(files: dict[str, Path]) -> str:
    """sha256 over the table files' names and bytes, in table-name order."""
    digest = hashlib.sha256()
    for table in sorted(files):
        file = files[table]
        # name and size first, so no two different file sets can hash the same stream
        digest.update(f"{file.name}\0{file.stat().st_size}\0".encode())
        with file.open("rb") as handle:
            while chunk := handle.read(1 << 22):
                digest.update(chunk)
    return digest.hexdigest()
