"""Combinations: ``all`` (Kleene AND), ``any`` (Kleene OR), ``not``, ``any_present``,
``when`` (applicability), ``undecidable`` and ``criterion`` (a reference).

Each patient below has a hemoglobin (H, >= 8 g/dL) and a platelet (P, >= 50000 /mm3)
part that is true (t), false (f) or unknown (u: no value): patient ``tf`` has H true and
P false. Contract 2: OR passes if any part passes, fails if all fail, else unknown; AND
the reverse."""

import itertools

H = {"latest": {"test": "hemoglobin", "window": "30d", "op": ">=", "value": 8.0}}
P = {"latest": {"test": "platelets", "window": "30d", "op": ">=", "value": 50000}}
VALUES = {"hemoglobin": {"t": 9.0, "f": 7.0}, "platelets": {"t": 60000, "f": 40000}}
UNITS = {"hemoglobin": "g/dL", "platelets": "/mm3"}
PATIENTS = ["".join(p) for p in itertools.product("tfu", repeat=2)]


def _measurements() -> str:
    rows = ["patient_id | test | value | unit | measured_on"]
    for pid in PATIENTS:
        for test, state in zip(("hemoglobin", "platelets"), pid, strict=True):
            if state != "u":
                rows.append(f"{pid} | {test} | {VALUES[test][state]} | {UNITS[test]} | -1")
    return "\n".join(rows)


def _kleene(states: str, op: str) -> str:
    if op == "and":
        return "f" if "f" in states else "u" if "u" in states else "t"
    return "t" if "t" in states else "u" if "u" in states else "f"


STATUS = {"t": "pass", "f": "fail", "u": "unknown"}


def test_all_is_kleene_and(spec):
    """``all: [H, P]`` passes when both pass, fails when either fails, else unknown."""
    spec(
        tables={"measurements": _measurements()},
        rule={"all": [H, P]},
        expected={p: STATUS[_kleene(p, "and")] for p in PATIENTS},
    )


def test_any_is_kleene_or(spec):
    """``any: [H, P]`` passes when either passes, fails when both fail, else unknown."""
    spec(
        tables={"measurements": _measurements()},
        rule={"any": [H, P]},
        expected={p: STATUS[_kleene(p, "or")] for p in PATIENTS},
    )


def test_any_present_ignores_missing_parts(spec):
    """``any_present: [H, P]``: passes if any part passes, fails if at least one part is
    known and every known part fails, unknown only when every part is unknown (contract 3,
    plasma_cell_leukemia: "fail if all present fail, unknown if none present")."""
    expected = {}
    for p in PATIENTS:
        known = p.replace("u", "")
        expected[p] = STATUS["t" if "t" in known else "f" if known else "u"]
    spec(tables={"measurements": _measurements()}, rule={"any_present": [H, P]}, expected=expected)


def test_not(spec):
    """``not: H``: true <-> false, unknown stays unknown."""
    spec(
        tables={"measurements": _measurements()},
        rule={"not": H},
        expected={"tt": "fail", "ft": "pass", "ut": "unknown"},
    )


def test_when_is_applicability(spec):
    """``when: {condition: H, then: P}``: condition false -> pass (not applicable);
    condition unknown -> unknown, even when P passes (unlike Kleene implication);
    condition true -> P."""
    spec(
        tables={"measurements": _measurements()},
        rule={"when": {"condition": H, "then": P}},
        expected={
            "ft": "pass",
            "ff": "pass",
            "fu": "pass",
            "ut": "unknown",
            "uf": "unknown",
            "tt": "pass",
            "tf": "fail",
            "tu": "unknown",
        },
    )


def test_undecidable(spec):
    """``undecidable``: always unknown; ``all: [H, undecidable]`` is false where H is
    false and unknown where H is true (an exclusion: an exposed patient is unknown, an
    unexposed one passes)."""
    spec(
        tables={"measurements": _measurements()},
        rule={"all": [H, {"undecidable": {"reason": "response to treatment"}}]},
        section="exclusion",
        expected={"tt": "unknown", "ft": "pass", "ut": "unknown"},
    )


def test_criterion_reference(spec):
    """``criterion: id`` is the status of another criterion (pass = true), so an
    exclusion's pass is a referrer's true: ``any`` of the hemoglobin inclusion and the
    'low platelets' exclusion."""
    low_p = {"latest": {"test": "platelets", "window": "30d", "op": "<", "value": 50000}}
    spec(
        tables={"measurements": _measurements()},
        criteria={
            "h": {"rule": H},
            "no_low_p": {"rule": low_p, "section": "exclusion"},
            "either": {"rule": {"any": [{"criterion": "h"}, {"criterion": "no_low_p"}]}},
        },
        expected={
            "tf": {"h": "pass", "no_low_p": "fail", "either": "pass"},
            "ft": {"h": "fail", "no_low_p": "pass", "either": "pass"},
            "ff": {"h": "fail", "no_low_p": "fail", "either": "fail"},
            "uf": {"h": "unknown", "no_low_p": "fail", "either": "unknown"},
        },
    )


def test_reference_to_criteria_reading_sex(spec):
    """Contract 5.1 through references: ``either`` = any of "is F" and "is M". For sex U
    each part is unknown on its own, but ``either`` passes as F and passes as M, so it
    passes; ``both`` (all of them) fails as F and as M, so it fails."""
    spec(
        tables={"patients": "patient_id | sex | birth_date | death_date\nu | U | 1960-01-01 |"},
        criteria={
            "is_f": {"rule": "sex: {in: [F]}"},
            "is_m": {"rule": "sex: {in: [M]}"},
            "either": {"rule": "any: [{criterion: is_f}, {criterion: is_m}]"},
            "both": {"rule": "all: [{criterion: is_f}, {criterion: is_m}]"},
        },
        expected={"u": {"is_f": "unknown", "is_m": "unknown", "either": "pass", "both": "fail"}},
    )
