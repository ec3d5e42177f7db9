"""The report's tables: :mod:`feasibility.summaries` (exact counts) re-exported here, plus
the cell-suppression of the cohort table (the ``suppress`` disclosure method)."""

from feasibility.summaries import (
    AGE_BREAKS,
    COHORT_VARIABLES,
    NO_INDEX,
    NOT_RECORDED,
    SEX_LABELS,
    VARIABLE_LABELS,
    age_group_order,
    cohort_by_step,
    cohort_comparison,
    cohort_from_result,
    is_suppressed,
    value_histogram,
)
from feasibility.suppression import suppress_cohort

__all__ = [
    "AGE_BREAKS",
    "COHORT_VARIABLES",
    "NOT_RECORDED",
    "NO_INDEX",
    "SEX_LABELS",
    "VARIABLE_LABELS",
    "age_group_order",
    "cohort_by_step",
    "cohort_comparison",
    "cohort_from_result",
    "is_suppressed",
    "suppress_cohort",
    "value_histogram",
]
