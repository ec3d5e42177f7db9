"""Operations on the rule model: relaxing a criterion's threshold or window, and naming
what a thresholded leaf compares (the deciding measure).

They ask the nodes (:meth:`Rule.with_threshold`, :meth:`Rule.with_window`,
:attr:`Rule.comparison`, :attr:`Rule.measure`, :meth:`Rule.map_children`), never their
type, so a new rule type takes part by answering those.
"""

from __future__ import annotations

from feasibility.protocol.compare import UnitError
from feasibility.protocol.model import Rule, thresholded_leaves
from feasibility.protocol.windows import Window


def deciding_measure(leaf: Rule) -> str:
    """What a leaf's deciding value measures: its test or item, ``age``,
    ``creatinine_clearance``, ``longest_diameter_cm``; a leaf without a measure is named by
    its rule type (lower case)."""
    return leaf.measure or type(leaf).__name__.lower()


def relax_rule(
    rule: Rule,
    cid: str,
    threshold: float | None = None,
    unit: str | None = None,
    window: Window | None = None,
    measure: str | None = None,
) -> Rule:
    """Copy of ``rule`` with the threshold and/or window of its (selected) parts changed.

    ``threshold`` (stated in ``unit``, default the protocol's unit) goes to the one
    thresholded leaf of the rule, or with ``measure`` to the one whose
    :attr:`~Rule.measure` it names; more or fewer is a ``ValueError``. ``window`` goes to
    every leaf with a window (those of ``measure`` only, when given). ``cid`` names the
    criterion in errors."""
    if threshold is not None:
        nums = [
            leaf for leaf in thresholded_leaves(rule) if measure is None or leaf.measure == measure
        ]
        if len(nums) != 1:
            raise ValueError(
                f"{cid}: {len(nums)} thresholded parts match; pass measure=<test or item>"
            )

    def rewrite(node: Rule) -> Rule:
        if node.children():
            return node.map_children(rewrite)
        if measure is not None and node.measure != measure:
            return node
        if threshold is not None:
            try:
                node = node.with_threshold(threshold, unit)
            except UnitError as exc:
                raise ValueError(f"{cid}: {exc}") from None
        if window is not None:
            node = node.with_window(window)
        return node

    return rewrite(rule)


__all__ = ["deciding_measure", "relax_rule"]
