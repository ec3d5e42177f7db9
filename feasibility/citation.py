"""One wording, used by the CLI and the report, for how many criteria and funnel steps a
protocol has, which criteria are parts of a step, and which protocol file to cite.

A protocol's criteria are not all funnel steps: a criterion referenced by another (the
two parts of measurable disease: extramedullary disease, plasma cell leukemia) is
evaluated and reported per patient but only enters the funnel through the step that
combines it. The protocol file's version is its sha256 fingerprint.
"""

from __future__ import annotations

from typing import Any

#: Hex digits of the fingerprint shown in short forms (the full one is in the provenance).
SHORT = 12


def counts(protocol: Any) -> str:
    """E.g. ``24 criteria in 22 funnel steps``."""
    n_crit, n_steps = len(protocol.criteria), len(protocol.steps)
    crit = "criterion" if n_crit == 1 else "criteria"
    step = "step" if n_steps == 1 else "steps"
    return f"{n_crit} {crit} in {n_steps} funnel {step}"


def parts(protocol: Any) -> dict[str, list[str]]:
    """Criteria that are not funnel steps, by the step whose rule refers to them:
    ``{step id: [part ids]}`` (a part no step refers to is listed under ``""``)."""
    from feasibility.protocol.checks import reference_graph

    steps = set(protocol.steps)
    refs = reference_graph(protocol.criteria)
    out: dict[str, list[str]] = {}
    for c in protocol.criteria:
        if c.id in steps:
            continue
        parent = next((s.id for s in protocol.criteria if s.id in steps and c.id in refs[s.id]), "")
        out.setdefault(parent, []).append(c.id)
    return out


def parts_sentence(protocol: Any) -> str:
    """One sentence on the criteria that are not steps ("" when every criterion is one),
    e.g. "extramedullary_disease and plasma_cell_leukemia are parts of the step
    measurable_disease: evaluated and reported for every patient, not funnel steps."."""
    bits = []
    for step, ids in parts(protocol).items():
        names = " and ".join(ids) if len(ids) <= 2 else ", ".join(ids[:-1]) + " and " + ids[-1]
        where = f"parts of the step {step}" if step else "referred to by no funnel step"
        bits.append(f"{names} {'is' if len(ids) == 1 else 'are'} {where}")
    if not bits:
        return ""
    return "; ".join(bits) + ": evaluated and reported for every patient, not funnel steps."


def fingerprint(protocol: Any, short: bool = True) -> str:
    fp = str(getattr(protocol, "fingerprint", "") or "")
    return fp[:SHORT] if short else fp


def cite(protocol: Any) -> str:
    """How to cite the protocol file a run used, e.g.
    ``pomalidomide-ixazomib-dex (protocol file sha256 3bb04b6298f8)``."""
    fp = fingerprint(protocol)
    return f"{protocol.id} (protocol file sha256 {fp})" if fp else str(protocol.id)
