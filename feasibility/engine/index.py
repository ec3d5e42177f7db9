"""Index dates: one fixed date for everyone, or every qualifying event (event mode).

The screen evaluates every (patient_id, index_date) pair at once; event mode simply
has several pairs per patient. Patients with no qualifying event keep a row with a
null index_date and fail the extra funnel step ``index_event``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import polars as pl

from feasibility.errors import FeasibilityError
from feasibility.schema import EVENT_DATE, TABLES

_COND_RE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(>=|<=|==|!=|=|>|<)\s*(.+?)\s*$")


def parse_where(text: str, table: str) -> pl.Expr:
    """Parse a tiny filter language for the CLI: ``column OP literal`` joined by ``and``.

    Example: ``line_number >= 2 and investigational == false``. Literals are numbers,
    ``true``/``false``, ISO dates or (quoted or bare) strings; columns must belong to the
    table's contract columns.
    """
    cols = TABLES[table]
    exprs: list[pl.Expr] = []
    for part in re.split(r"\s+and\s+", text.strip(), flags=re.IGNORECASE):
        m = _COND_RE.match(part)
        if not m:
            raise FeasibilityError(
                f"--index-where: cannot parse {part!r} (expected e.g. 'line_number >= 2')"
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
            elif dtype == pl.Float64:
                value = float(lit)
            elif dtype == pl.Date:
                value = dt.date.fromisoformat(lit)
            else:
                value = lit
        except ValueError as exc:
            raise FeasibilityError(
                f"--index-where: {lit!r} is not a valid {dtype} for {table}.{col}"
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

    @property
    def column(self) -> str:
        if self.date_column:
            return self.date_column
        if self.table not in EVENT_DATE:
            raise FeasibilityError(
                f"index events: table {self.table!r} has no event date; use one of {sorted(EVENT_DATE)}"
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
