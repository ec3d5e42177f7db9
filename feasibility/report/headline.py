"""The report's headline in time: patients per year over an event window, expected
enrolments per year after the protocol's assumptions, and months to a target.

Every input count is a *shown* count (already through the disclosure policy), so the
figures derived here reveal nothing the report does not already show. Figures are in
whole patients; the interval on the months to target is the exact (Garwood) Poisson
interval on the observed count of eligible patients over the window.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

DAYS_PER_YEAR = 365.25


def _poisson_cdf(k: int, mu: float) -> float:
    """P(X <= k) for X ~ Poisson(mu)."""
    if mu <= 0:
        return 1.0
    total, term = 0.0, math.exp(-mu)
    if term == 0.0:  # large mu: sum in log space
        return sum(math.exp(-mu + i * math.log(mu) - math.lgamma(i + 1)) for i in range(k + 1))
    for i in range(k + 1):
        total += term
        term *= mu / (i + 1)
    return min(total, 1.0)


def _solve(f, lo: float, hi: float) -> float:
    """Root of a decreasing ``f`` on [lo, hi] by bisection."""
    for _ in range(200):
        mid = (lo + hi) / 2
        if f(mid) > 0:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def poisson_interval(x: int, conf: float = 0.95) -> tuple[float, float]:
    """Exact two-sided Poisson interval for the mean of an observed count ``x``."""
    alpha = 1 - conf
    hi_bound = x + 20 * math.sqrt(x + 1) + 20
    lower = (
        0.0 if x == 0 else _solve(lambda m: alpha / 2 - (1 - _poisson_cdf(x - 1, m)), 0.0, hi_bound)
    )
    upper = _solve(lambda m: _poisson_cdf(x, m) - alpha / 2, 0.0, hi_bound)
    return lower, upper


@dataclass(frozen=True)
class Timeline:
    """Per-year figures of an event-mode screen (from shown counts)."""

    start: dt.date
    end: dt.date
    eligible: int | None
    possible: int | None
    rate: float
    target: int | None = None

    @property
    def years(self) -> float:
        return max((self.end - self.start).days + 1, 1) / DAYS_PER_YEAR

    def per_year(self, n: int | None) -> int | None:
        return None if n is None else round(n / self.years)

    @property
    def enrol_per_year(self) -> int | None:
        return None if self.eligible is None else round(self.eligible * self.rate / self.years)

    def months_to_target(self) -> tuple[float, float, float] | None:
        """(estimate, low, high) months to enrol ``target`` patients, or None."""
        target = self.target
        if not target or not self.eligible or self.rate <= 0:
            return None
        lo, hi = poisson_interval(self.eligible)
        per_month = self.eligible * self.rate / self.years / 12

        def months(count: float) -> float:
            rate = count * self.rate / self.years / 12
            return math.inf if rate <= 0 else target / rate

        return target / per_month, months(hi), months(lo)


def fmt_months(m: float) -> str:
    """Whole months, or "more than 10 years"."""
    if not math.isfinite(m) or m > 120:
        return "more than 10 years"
    return f"{max(1, math.ceil(m))} months"
