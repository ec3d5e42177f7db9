"""Reading one field of a protocol item: every problem is a :class:`ProtocolError` naming
the criterion and the field (``rule.latest.value``), so a bad file never reaches an engine."""

from __future__ import annotations

import math
from typing import Any

from feasibility.errors import ProtocolError
from feasibility.protocol.compare import OPS


def err(crit: str, fld: str, msg: str) -> ProtocolError:
    """``criterion 'x', field 'rule.age.value': <msg>``."""
    return ProtocolError(f"criterion {crit!r}, field {fld!r}: {msg}", criterion=crit, field=fld)


def op(spec: dict, crit: str, fld: str) -> str:
    """The ``op`` of a rule body: one of :data:`~feasibility.protocol.compare.OPS`."""
    value = spec.get("op")
    if value not in OPS:
        raise err(crit, f"{fld}.op", f"op must be one of {list(OPS)}, got {value!r}")
    return value


def number(
    spec: dict, key: str, crit: str, fld: str, bounds: tuple[float, float] | None = None
) -> float:
    """A finite number (YAML int or float; no bool, no .nan/.inf), inside ``bounds``."""
    v = spec.get(key)
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise err(crit, f"{fld}.{key}", f"expected a number, got {v!r}")
    try:
        value = float(v)
    except OverflowError:
        value = math.inf
    if not math.isfinite(value):
        raise err(crit, f"{fld}.{key}", f"expected a finite number, got {v!r}")
    if bounds is not None and not bounds[0] <= value <= bounds[1]:
        raise err(crit, f"{fld}.{key}", f"{v!r} is outside {bounds[0]:g}..{bounds[1]:g}")
    return value


def whole(spec: dict, key: str, crit: str, fld: str, upper: int, what: str) -> int | None:
    """An optional whole number from 0 to ``upper`` (absent: None); ``what`` names it in
    the error (``whole number`` / ``whole number of days``)."""
    v = spec.get(key)
    if v is not None and (isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= upper):
        raise err(crit, f"{fld}.{key}", f"expects a {what} from 0 to {upper}, got {v!r}")
    return v


def flag(spec: dict, key: str, default: bool, crit: str, fld: str) -> bool:
    """A YAML boolean (true/false); a string such as "false" is refused, not truthy."""
    v = spec.get(key, default)
    if not isinstance(v, bool):
        raise err(crit, f"{fld}.{key}", f"expects true or false (unquoted), got {v!r}")
    return v


def check_keys(spec: dict, allowed: set[str], crit: str, fld: str) -> None:
    """Refuse keys a rule type does not know (a typo must not be silently ignored)."""
    extra = set(spec) - allowed
    if extra:
        raise err(crit, fld, f"unknown key(s) {sorted(map(str, extra))}; allowed {sorted(allowed)}")


def as_lines(v: Any, crit: str, fld: str) -> tuple[str, ...]:
    """Text or a non-empty list of lines (a criterion's ``source``, an assumption's ``text``)."""
    if isinstance(v, str) and v.strip():
        return (v,)
    if isinstance(v, list) and v and all(isinstance(x, str) for x in v):
        return tuple(v)
    raise ProtocolError(
        f"criterion {crit!r}, field {fld!r}: expected text or a list of lines",
        criterion=crit,
        field=fld,
    )
