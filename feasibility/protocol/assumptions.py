"""Assumptions: eligibility sentences no registry can decide, with an estimated pass rate
applied by the report to expected counts only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from feasibility.errors import ProtocolError
from feasibility.protocol.fields import as_lines


@dataclass(frozen=True)
class AppliesTo:
    """The people an assumption concerns, as a share of the eligible patients (estimate and
    plausible range) with its source; everyone else passes it (rate 1)."""

    who: str
    share: float
    share_low: float
    share_high: float
    source: str


@dataclass(frozen=True)
class Assumption:
    """A sentence no registry can decide, with an estimated pass rate and where it comes from.

    ``pass_rate`` is the rate among the people it concerns, ``rate_low``/``rate_high`` its
    plausible range (default: the estimate itself). ``given``: the rate is conditional on
    passing that earlier assumption (e.g. willingness to give samples among patients who
    consent), so the product of the rates is the joint probability. ``applies_to``: only a
    share of the eligible patients is concerned (e.g. women of childbearing potential).
    ``same_as``: the same judgement as another assumption (its text kept in protocol
    order), counted once, there."""

    id: str
    section: str
    text: tuple[str, ...]
    pass_rate: float
    source: str
    rate_low: float | None = None
    rate_high: float | None = None
    given: str | None = None
    applies_to: AppliesTo | None = None
    same_as: str | None = None

    def effective_rate(self, bound: str = "estimate") -> float:
        """The pass rate over all eligible patients: ``1 - share * (1 - rate)`` when the
        assumption concerns a share of them; 1 when it is counted under another.
        ``bound``: ``estimate``, ``low`` (lowest rate, largest share) or ``high``."""
        if self.same_as is not None:
            return 1.0
        rate = {
            "estimate": self.pass_rate,
            "low": self.pass_rate if self.rate_low is None else self.rate_low,
            "high": self.pass_rate if self.rate_high is None else self.rate_high,
        }[bound]
        if self.applies_to is None:
            return rate
        a = self.applies_to
        share = {"estimate": a.share, "low": a.share_high, "high": a.share_low}[bound]
        return 1.0 - share * (1.0 - rate)


@dataclass(frozen=True)
class ExpectedRange:
    """Expected enrolment from ``eligible`` patients: the estimate and a low-high range from
    the assumptions' rate ranges (every rate at its low end, then every one at its high end:
    a deliberately wide, conservative range, not a confidence interval)."""

    eligible: int
    estimate: float
    low: float
    high: float
    rate: float
    rate_low: float
    rate_high: float

    def describe(self, digits: int = 1) -> str:
        return f"≈ {self.estimate:,.{digits}f} ({self.low:,.{digits}f}–{self.high:,.{digits}f})"


def _rate(value: Any, cid: str, fld: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ProtocolError(
            f"assumption {cid!r}, field {fld!r}: a number in [0, 1], got {value!r}",
            criterion=cid,
            field=fld,
        )
    return float(value)


_ASSUMPTION_KEYS = {
    "id",
    "section",
    "text",
    "pass_rate",
    "rate_low",
    "rate_high",
    "rate_source",
    "given",
    "applies_to",
    "same_as",
    "notes",
}


def _assumption(item: dict, cid: str, section: str, earlier: list[Assumption]) -> Assumption:
    """Parse an assumption item (see :class:`Assumption`); references must name an earlier
    assumption, and a rate range must contain its estimate."""
    extra = set(item) - _ASSUMPTION_KEYS
    if extra:
        raise ProtocolError(
            f"assumption {cid!r}: unknown key(s) {sorted(extra)}", criterion=cid, field="rule"
        )
    known = {a.id: a for a in earlier}
    text = as_lines(item.get("text"), cid, "text")
    same_as = item.get("same_as")
    if same_as is not None:
        if same_as not in known or known[same_as].same_as is not None:
            raise ProtocolError(
                f"assumption {cid!r}, field 'same_as': names no earlier counted assumption "
                f"({same_as!r})",
                criterion=cid,
                field="same_as",
            )
        if "pass_rate" in item:
            raise ProtocolError(
                f"assumption {cid!r}: same_as is counted under {same_as!r}; give no pass_rate",
                criterion=cid,
                field="pass_rate",
            )
        ref = known[same_as]
        return Assumption(
            cid, section, text, ref.pass_rate, f"counted once under {same_as}", same_as=same_as
        )
    rate = _rate(item.get("pass_rate"), cid, "pass_rate")
    low = _rate(item.get("rate_low", rate), cid, "rate_low")
    high = _rate(item.get("rate_high", rate), cid, "rate_high")
    if not low <= rate <= high:
        raise ProtocolError(
            f"assumption {cid!r}: rate_low <= pass_rate <= rate_high, got {low}, {rate}, {high}",
            criterion=cid,
            field="rate_low",
        )
    src = item.get("rate_source")
    if not isinstance(src, str) or not src:
        raise ProtocolError(
            f"assumption {cid!r}, field 'rate_source': required",
            criterion=cid,
            field="rate_source",
        )
    given = item.get("given")
    if given is not None and given not in known:
        raise ProtocolError(
            f"assumption {cid!r}, field 'given': names no earlier assumption ({given!r})",
            criterion=cid,
            field="given",
        )
    applies = item.get("applies_to")
    applies_to = None
    if applies is not None:
        if not isinstance(applies, dict) or not isinstance(applies.get("who"), str):
            raise ProtocolError(
                f"assumption {cid!r}, field 'applies_to': a mapping with who, share, "
                "share_low, share_high, source",
                criterion=cid,
                field="applies_to",
            )
        share = _rate(applies.get("share"), cid, "applies_to.share")
        s_low = _rate(applies.get("share_low", share), cid, "applies_to.share_low")
        s_high = _rate(applies.get("share_high", share), cid, "applies_to.share_high")
        s_src = applies.get("source")
        if not s_low <= share <= s_high or not isinstance(s_src, str) or not s_src:
            raise ProtocolError(
                f"assumption {cid!r}, field 'applies_to': share_low <= share <= share_high "
                "and a source are required",
                criterion=cid,
                field="applies_to",
            )
        applies_to = AppliesTo(applies["who"], share, s_low, s_high, s_src)
    return Assumption(cid, section, text, rate, src, low, high, given, applies_to)
