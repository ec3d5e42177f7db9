"""Spec tests: per rule type, tiny tables in and statuses out, run on every engine.

Read a spec test as documentation. Its docstring says the rule in words; ``spec(...)``
gets the tables as small pipe tables, the rule (or several criteria) as YAML, and the
status each patient must get -- taken from the contract's words, never from an engine.

Conventions of the tables:

- dates are written as day offsets from the index date 2024-06-30 (``-30`` = 30 days
  before index, ``0`` = on the index, ``+1`` = the day after) or as ISO dates;
- an empty cell is a null;
- ``patients`` may be left out: every patient_id named elsewhere (and in ``expected``)
  then gets a row with sex F, born 1960-01-01, alive;
- a table the rule reads and the test does not give is present and empty (no records),
  unless named in ``absent`` (no file: its facts are unknown for everyone);
- missing contract columns are added empty (``unit`` of measurements, ``site`` of lesions).

Every test runs once per engine in ``ENGINES``.
"""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml

from feasibility.engine.index import IndexEvents
from feasibility.engine.seam import get_engine
from feasibility.protocol import parse_protocol
from feasibility.registry import load_registry
from feasibility.schema import TABLES

ENGINES = ["polars", "reference", "spark"]

INDEX = dt.date(2024, 6, 30)
STATUS = {True: "pass", False: "fail", None: "unknown"}


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return request.param


def day(text: str, index: dt.date = INDEX) -> str:
    """``-3`` -> the ISO date 3 days before index; an ISO date is kept."""
    text = text.strip()
    if text[:1] in "+-0123456789" and text.lstrip("+-").isdigit():
        return (index + dt.timedelta(days=int(text))).isoformat()
    return text


def parse_table(text: str) -> tuple[list[str], list[list[str]]]:
    """A pipe table: a header line, then one line per row (cells stripped)."""
    lines = [ln for ln in textwrap.dedent(text).strip().splitlines() if ln.strip()]
    header = [c.strip() for c in lines[0].split("|")]
    rows = [[c.strip() for c in ln.split("|")] for ln in lines[1:]]
    for r in rows:
        assert len(r) == len(header), f"row {r} does not match header {header}"
    return header, rows


def write_table(root: Path, table: str, text: str, index: dt.date) -> set[str]:
    """Write one pipe table as ``<table>.csv`` (dates resolved); return its patient ids."""
    header, rows = parse_table(text)
    schema = TABLES[table]
    columns = header + [c for c in schema if c not in header]
    dates = {c for c, t in schema.items() if t == pl.Date}
    lines = [",".join(columns)]
    for r in rows:
        cells = dict(zip(header, r, strict=True))
        out = []
        for c in columns:
            v = cells.get(c, "")
            out.append(day(v, index) if c in dates and v else v)
        lines.append(",".join(out))
    (root / f"{table}.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    pid = header.index("patient_id") if "patient_id" in header else None
    return {r[pid] for r in rows if pid is not None and r[pid]}


def protocol_from(criteria: dict[str, dict[str, Any]], steps: list[str] | None = None) -> Any:
    """A protocol with the given criteria (id -> {rule, section?, if_missing?})."""
    items = []
    for cid, spec in criteria.items():
        rule = spec["rule"]
        items.append(
            {
                "id": cid,
                "section": spec.get("section", "inclusion"),
                "label": cid,
                "source": cid,
                "rule": yaml.safe_load(rule) if isinstance(rule, str) else rule,
                "if_missing": spec.get("if_missing", "unknown"),
            }
        )
    return parse_protocol(
        {"id": "spec", "title": "spec", "eligibility": items, "steps": steps or list(criteria)}
    )


def run_spec(
    tmp_path: Path,
    engine: str,
    *,
    tables: dict[str, str],
    expected: dict[Any, Any],
    rule: str | dict | None = None,
    section: str = "inclusion",
    if_missing: str = "unknown",
    criteria: dict[str, dict[str, Any]] | None = None,
    absent: tuple[str, ...] = (),
    index: dt.date | IndexEvents = INDEX,
    exactly: bool = False,
) -> None:
    """Screen the tables with the rule (criterion ``c``) or the criteria and compare.

    ``expected`` maps a patient_id to the status of ``c`` or, with ``criteria``, to a dict
    {criterion: status}; in event mode the keys are (patient_id, index date offset).
    In event mode, or with ``exactly``, the engine must answer for exactly these keys."""
    if criteria is None:
        assert rule is not None
        criteria = {"c": {"rule": rule, "section": section, "if_missing": if_missing}}
    protocol = protocol_from(criteria)
    fixed = index if isinstance(index, dt.date) else INDEX
    root = tmp_path / "registry"
    root.mkdir()
    ids: set[str] = {k if isinstance(k, str) else k[0] for k in expected}
    read = {t for c in protocol.criteria for t in c.tables} - set(absent)
    if isinstance(index, IndexEvents):
        read.add(index.table)
    for table in sorted(read | set(tables)):
        if table != "patients":
            ids |= write_table(root, table, tables.get(table, "patient_id"), fixed)
    if "patients" in tables:
        write_table(root, "patients", tables["patients"], fixed)
    else:
        rows = "\n".join(f"{p} | F | 1960-01-01 |" for p in sorted(ids))
        write_table(root, "patients", f"patient_id | sex | birth_date | death_date\n{rows}", fixed)
    registry = load_registry(root)
    run = get_engine(engine).run(registry, protocol, index)
    pairs = run.pairs
    got: dict[Any, Any] = {}
    for row in pairs.iter_rows(named=True):
        key: Any = row["patient_id"]
        if isinstance(index, IndexEvents):
            key = (key, (row["index_date"] - fixed).days)
        if (
            set(criteria) == {"c"}
            and "c" in row
            and not any(isinstance(v, dict) for v in expected.values())
        ):
            got[key] = STATUS[row["c"]]
        else:
            got[key] = {cid: STATUS[row[cid]] for cid in criteria}
    if isinstance(index, IndexEvents) or exactly:
        assert got == expected, f"{engine} engine: {got}"
    else:
        answered = {k: got.get(k) for k in expected}
        assert answered == expected, f"{engine} engine: {answered}"


@pytest.fixture
def spec(tmp_path: Path, engine: str):
    """``spec(tables=..., rule=..., expected=...)``: see :func:`run_spec`.

    ``known_wrong={"engine": "why"}`` marks an engine known to disagree with the contract
    on this test (reported, not yet fixed): the test is an expected failure there, and
    becomes a failure again (strict) once that engine is fixed, so the mark is removed."""

    def check(known_wrong: dict[str, str] | None = None, **kwargs: Any) -> None:
        known = known_wrong or {}
        # the spark engine translates the polars compiler: it shares its known disagreements
        reason = known.get(engine) or (known.get("polars") if engine == "spark" else None)
        if reason is None:
            run_spec(tmp_path, engine, **kwargs)
            return
        try:
            run_spec(tmp_path, engine, **kwargs)
        except AssertionError:
            pytest.xfail(f"{engine} engine known to disagree: {reason}")
        pytest.fail(f"{engine} engine now agrees; remove its known_wrong mark ({reason})")

    return check
