"""Windows: how far before the index date a rule looks (``30d``, ``ever``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from feasibility.errors import ProtocolError

#: Longest window (and overlap) in days a protocol may give: 100 years. Anything longer is
#: a typo (``ever`` says "any time"), and would overflow date arithmetic further on.
MAX_DAYS = 36_525


@dataclass(frozen=True)
class Window:
    """``index - days <= date <= index``; ``days=None`` means any date on or before index."""

    days: int | None

    def describe(self) -> str:
        return (
            "on or before index" if self.days is None else f"within {self.days} days before index"
        )


_WINDOW_RE = re.compile(r"^\s*(\d+)\s*d(ays?)?\s*$")


def _bounded_window(days: int, crit: str, fld: str) -> Window:
    if days > MAX_DAYS:
        raise ProtocolError(
            f"criterion {crit!r}, field {fld!r}: a window of {days} days is longer than 100 "
            f"years ({MAX_DAYS} days); use 'ever' for any time before index",
            criterion=crit,
            field=fld,
        )
    return Window(days)


def parse_window(value: Any, crit: str, fld: str) -> Window:
    """Accept ``30d``, ``30 days``, an integer number of days (at most 100 years), or ``ever``."""
    if isinstance(value, bool):
        raise ProtocolError(
            f"{crit}: {fld} must be like '30d' or 'ever', got {value!r}", criterion=crit, field=fld
        )
    if isinstance(value, int) and value >= 0:
        return _bounded_window(value, crit, fld)
    if isinstance(value, str):
        if value.strip().lower() == "ever":
            return Window(None)
        m = _WINDOW_RE.match(value)
        if m:
            return _bounded_window(int(m.group(1)), crit, fld)
    raise ProtocolError(
        f"{crit}: malformed {fld} {value!r} (expected e.g. '30d' or 'ever')",
        criterion=crit,
        field=fld,
    )
