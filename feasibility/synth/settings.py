"""Care settings: who a registry holds (population-based vs academic referral centre).

A population-based registry (SEER-like) holds everyone diagnosed in its area: median
age 69, few trial patients, everyone followed from diagnosis. An academic myeloma
centre sees younger patients, more high-risk disease, more clinical-trial lines, and
receives a share of its patients at relapse (referred after first-line therapy
elsewhere; their prior lines are abstracted into the record, but labs and visits start
at referral). Figures and sources: ``sources.md`` (Settings).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Setting:
    """Parameters that differ between care settings."""

    name: str
    age_mean: float  # normal age at diagnosis (clipped 30-95); median ~ mean
    age_sd: float
    p_high_risk: float  # high-risk cytogenetics (del17p, t(4;14), t(14;16), 1q+)
    p_trial: tuple[float, float]  # share of first / later lines on a clinical trial
    p_referred: float  # share of patients with >= 2 lines first seen at a relapse


SETTINGS: dict[str, Setting] = {
    "population": Setting("population", 69.0, 10.0, 0.20, (0.01, 0.03), 0.0),
    "academic": Setting("academic", 64.0, 10.0, 0.25, (0.05, 0.12), 0.30),
}
DEFAULT_SETTING = "population"


def setting_for(name: str) -> Setting:
    """The named setting (KeyError for an unknown name; the caller validates)."""
    return SETTINGS[name]
