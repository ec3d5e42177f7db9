"""Checks over a protocol's criteria as a whole: references name criteria, form no cycle,
every criterion is a funnel step or part of one, and ``when`` fits inclusions only."""

from __future__ import annotations

from collections.abc import Iterable

from feasibility.errors import ProtocolError
from feasibility.protocol.model import Criterion, Ref, Rule, When, _walk, leaves


def reference_graph(criteria: Iterable[Criterion]) -> dict[str, list[str]]:
    """Criterion id -> ids of the criteria its rule refers to (``criterion: <id>``)."""
    return {
        c.id: [leaf.criterion for leaf in leaves(c.rule_obj) if isinstance(leaf, Ref)]
        for c in criteria
    }


def check_when_in_inclusion(cid: str, kind: str, rule: Rule) -> None:
    """``when`` makes a criterion pass when not applicable: an exclusion cannot say that."""
    if kind == "exclusion" and any(isinstance(r, When) for r in _walk(rule)):
        raise ProtocolError(
            f"criterion {cid!r}, field 'rule': 'when' (not applicable -> pass) only fits "
            "inclusion criteria; for an exclusion write all: [condition, rule]",
            criterion=cid,
            field="rule",
        )


def check_references(graph: dict[str, list[str]]) -> None:
    """Every reference names a criterion of the protocol."""
    for cid, refs in graph.items():
        for r in refs:
            if r not in graph:
                raise ProtocolError(
                    f"criterion {cid!r}, field 'rule': unknown criterion {r!r} in combination",
                    criterion=cid,
                    field="rule",
                )


def check_acyclic(graph: dict[str, list[str]]) -> None:
    """No criterion refers to itself, directly or through others."""
    state: dict[str, int] = {}

    def visit(n: str) -> None:
        if state.get(n) == 1:
            raise ProtocolError(
                f"criterion {n!r}, field 'rule': circular criterion reference",
                criterion=n,
                field="rule",
            )
        if state.get(n) == 2:
            return
        state[n] = 1
        for m in graph[n]:
            visit(m)
        state[n] = 2

    for n in graph:
        visit(n)


def check_steps(steps: object, graph: dict[str, list[str]]) -> tuple[str, ...]:
    """``steps`` is a non-empty list of distinct criterion ids, and every criterion is a
    step or reachable from one through references."""
    if not isinstance(steps, list) or not steps:
        raise ProtocolError("steps must be a non-empty list of criterion ids", field="steps")
    for s in steps:
        if not isinstance(s, str) or s not in graph:
            raise ProtocolError(f"steps: unknown criterion {s!r}", criterion=str(s), field="steps")
    if len(set(steps)) != len(steps):
        raise ProtocolError("steps: duplicate criterion", field="steps")
    reachable: set[str] = set()
    stack = list(steps)
    while stack:
        s = stack.pop()
        if s not in reachable:
            reachable.add(s)
            stack.extend(graph[s])
    for cid in graph:
        if cid not in reachable:
            raise ProtocolError(
                f"criterion {cid!r} is neither a step nor part of one",
                criterion=cid,
                field="steps",
            )
    return tuple(steps)
