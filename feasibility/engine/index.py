"""Index dates: one fixed date for everyone, or every qualifying event (event mode).

The screen evaluates every (patient_id, index_date) pair at once; event mode simply
has several pairs per patient. Patients with no qualifying event keep a row with a
null index_date and fail the extra funnel step ``index_event``.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass

import polars as pl

from feasibility.errors import FeasibilityError
from feasibility.schema import EVENT_DATE, TABLES

_OP_CHARS = frozenset("<>=!")
_KINDS: dict[object, str] = {
    pl.Boolean: "true or false",
    pl.Int64: "a whole number",
    pl.Float64: "a finite number",
    pl.Date: "an ISO date (YYYY-MM-DD)",
}
_COND_RE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(>=|<=|==|!=|=|>|<)\s*(.+?)\s*$")


def parse_where(text: str, table: str) -> pl.Expr:
    """Parse a tiny filter language for the CLI: ``column OP literal`` joined by ``and``.

    Example: ``line_number >= 2 and investigational == false``. Literals are numbers,
    ``true``/``false``, ISO dates or (quoted or bare) strings; columns must belong to the
    table's contract columns.
    """
    if table not in TABLES:
        raise FeasibilityError(f"--index-where: unknown table {table!r}")
    cols = TABLES[table]
    if not text.strip():
        raise FeasibilityError("--index-where is empty (expected e.g. 'line_number >= 2')")
    exprs: list[pl.Expr] = []
    for part in re.split(r"\s+and\s+", text.strip(), flags=re.IGNORECASE):
        m = _COND_RE.match(part)
        if not m or m.group(3)[:1] in _OP_CHARS:
            raise FeasibilityError(
                f"--index-where: cannot parse {part!r} (expected 'column OP value' with OP one "
                "of >= <= > < == !=, e.g. 'line_number >= 2')"
            )
        col, op, lit = m.groups()
        if col not in cols:
            raise FeasibilityError(
                f"--index-where: {table} has no column {col!r}; columns: {list(cols)}"
            )
        dtype = cols[col]
        lit = lit.strip().strip("'\"")
        value: object
        try:
            if dtype == pl.Boolean:
                if lit.lower() not in ("true", "false"):
                    raise ValueError
                value = lit.lower() == "true"
            elif dtype == pl.Int64:
                value = int(lit)
                if not -(2**63) <= value < 2**63:
                    raise ValueError
            elif dtype == pl.Float64:
                value = float(lit)
                if not math.isfinite(value):
                    raise ValueError
            elif dtype == pl.Date:
                value = dt.date.fromisoformat(lit)
            else:
                value = lit
        except ValueError as exc:
            raise FeasibilityError(
                f"--index-where: {lit!r} is not {_KINDS.get(dtype, str(dtype))} for {table}.{col}"
            ) from exc
        c = pl.col(col)
        exprs.append(
            {
                ">=": c >= value,
                "<=": c <= value,
                ">": c > value,
                "<": c < value,
                "==": c == value,
                "=": c == value,
                "!=": c != value,
            }[op]
        )
    out = exprs[0]
    for e in exprs[1:]:
        out = out & e
    return out


@dataclass(frozen=True)
class IndexEvents:
    """Event-mode index: each row of ``table`` matching ``where`` whose event date
    (``date_column``, default the table's event date, e.g. therapies.start_date) lies in
    ``[start, end]`` is an index date for its patient.

    ``where`` is a polars expression or a string such as ``"line_number >= 2"``.
    A patient counts once: at the first index at which they are eligible, or else at
    their best index (pass > unknown > fail on ``eligible``; ties -> earliest).
    """

    table: str = "therapies"
    where: pl.Expr | str | None = None
    start: dt.date | None = None
    end: dt.date | None = None
    date_column: str | None = None

    def describe(self) -> str:
        where = (
            f" where {self.where}"
            if isinstance(self.where, str)
            else " (filtered)"
            if self.where is not None
            else ""
        )
        return f"each {self.table}.{self.column} in [{self.start or '-inf'}, {self.end or '+inf'}]{where}"

    def __post_init__(self) -> None:
        self.check()  # the Python API refuses what the CLI refuses, at construction

    def check(self) -> None:
        """Raise :class:`FeasibilityError` (one line, naming the option) unless the table,
        date column, window and filter are usable; reads no data."""
        if self.table not in TABLES:
            raise FeasibilityError(
                f"--index-events: unknown table {self.table!r}; use one of {sorted(EVENT_DATE)}"
            )
        column = self.column
        if TABLES[self.table].get(column) != pl.Date:
            dates = [c for c, t in TABLES[self.table].items() if t == pl.Date]
            raise FeasibilityError(
                f"--index-column: {self.table} has no date column {column!r}; use one of {dates}"
            )
        if self.start is not None and self.end is not None and self.start > self.end:
            raise FeasibilityError(
                f"--index-from {self.start} is after --index-to {self.end}: the window is "
                "empty; swap them"
            )
        if isinstance(self.where, str):
            parse_where(self.where, self.table)

    @property
    def column(self) -> str:
        if self.date_column:
            return self.date_column
        if self.table not in EVENT_DATE:
            raise FeasibilityError(
                f"--index-events: table {self.table!r} has no event date; use one of "
                f"{sorted(EVENT_DATE)}"
            )
        return EVENT_DATE[self.table]

    def frame(self, table: pl.LazyFrame) -> pl.LazyFrame:
        """(patient_id, index_date) pairs, unique, from the normalised event table."""
        col = self.column
        lf = table
        if self.where is not None:
            lf = lf.filter(
                parse_where(self.where, self.table) if isinstance(self.where, str) else self.where
            )
        cond = pl.col(col).is_not_null()
        if self.start is not None:
            cond = cond & (pl.col(col) >= self.start)
        if self.end is not None:
            cond = cond & (pl.col(col) <= self.end)
        return lf.filter(cond).select("patient_id", pl.col(col).alias("index_date")).unique()
