"""Exceptions the package raises on bad input. Each message names where the problem is."""

from __future__ import annotations


class FeasibilityError(Exception):
    """Base class: an input problem the user can fix. The CLI prints it in one line."""


class RegistryError(FeasibilityError):
    """A structural problem in a registry: it cannot be loaded as it is.

    Attributes name the place: ``table``, ``column``, ``row`` (1-based data row,
    header excluded) and ``value`` where they apply.
    """

    def __init__(
        self,
        message: str,
        *,
        table: str | None = None,
        column: str | None = None,
        row: int | None = None,
        value: object = None,
    ) -> None:
        super().__init__(message)
        self.table = table
        self.column = column
        self.row = row
        self.value = value


class ProtocolError(FeasibilityError):
    """A protocol file that cannot be compiled: names the criterion and field."""

    def __init__(
        self, message: str, *, criterion: str | None = None, field: str | None = None
    ) -> None:
        super().__init__(message)
        self.criterion = criterion
        self.field = field
