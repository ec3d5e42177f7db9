"""Property tests: Kleene logic of the status algebra and funnel invariants on random registries."""

from __future__ import annotations

import datetime as dt

import polars as pl
from _screen_helpers import INDEX, cached_protocol, d, make_registry, patient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feasibility.engine import screen
from feasibility.engine.logic import from_status, k_and, k_not, k_or, k_when, to_status

tri = st.sampled_from([True, False, None])


def ref_and(a, b):
    if a is False or b is False:
        return False
    if a is None or b is None:
        return None
    return True


def ref_or(a, b):
    if a is True or b is True:
        return True
    if a is None or b is None:
        return None
    return False


def ref_not(a):
    return None if a is None else not a


def _eval(values: dict[str, list], expr: pl.Expr) -> list:
    df = pl.DataFrame(values, schema={k: pl.Boolean for k in values})
    return df.select(expr.alias("r"))["r"].to_list()


@given(st.lists(st.tuples(tri, tri, tri), min_size=1, max_size=30))
def test_kleene_truth_tables_and_laws(rows):
    a, b, c = (list(x) for x in zip(*rows, strict=True))
    vals = {"a": a, "b": b, "c": c}
    A, B, C = pl.col("a"), pl.col("b"), pl.col("c")
    assert _eval(vals, k_and(A, B)) == [ref_and(x, y) for x, y in zip(a, b, strict=True)]
    assert _eval(vals, k_or(A, B)) == [ref_or(x, y) for x, y in zip(a, b, strict=True)]
    assert _eval(vals, k_not(A)) == [ref_not(x) for x in a]
    # commutativity, associativity, De Morgan, double negation
    assert _eval(vals, k_and(A, B)) == _eval(vals, k_and(B, A))
    assert _eval(vals, k_or(A, B)) == _eval(vals, k_or(B, A))
    assert _eval(vals, k_and(k_and(A, B), C)) == _eval(vals, k_and(A, k_and(B, C)))
    assert _eval(vals, k_or(k_or(A, B), C)) == _eval(vals, k_or(A, k_or(B, C)))
    assert _eval(vals, k_not(k_and(A, B))) == _eval(vals, k_or(k_not(A), k_not(B)))
    assert _eval(vals, k_not(k_or(A, B))) == _eval(vals, k_and(k_not(A), k_not(B)))
    assert _eval(vals, k_not(k_not(A))) == a
    # applicability: false -> true, unknown -> unknown, true -> then
    expected_when = [
        True if x is False else None if x is None else y for x, y in zip(a, b, strict=True)
    ]
    assert _eval(vals, k_when(A, B)) == expected_when


@given(st.lists(tri, min_size=1, max_size=20))
def test_status_strings_round_trip(values):
    df = pl.DataFrame({"a": values}, schema={"a": pl.Boolean})
    out = df.select(to_status(pl.col("a")).alias("s"))
    assert set(out["s"]) <= {"pass", "fail", "unknown"}
    assert out.select(from_status(pl.col("s")).alias("b"))["b"].to_list() == values


# ---------------------------------------------------------------- funnel invariants

patient_facts = st.fixed_dictionaries(
    {
        "sex": st.sampled_from(["F", "M", "U", None]),
        "dead": st.booleans(),
        "myeloma": st.sampled_from([None, "C90.0", "C90.1", "C91.0"]),
        "other_dx": st.sampled_from([None, "C50.9", "I48.0", "B20", "K90.0", "C44.9"]),
        "treated": st.booleans(),
        "lesion": st.sampled_from([None, 1.0, 2.0, 3.5]),
        "hb": st.sampled_from([None, 7.0, 8.0, 12.0]),
        "anc": st.sampled_from([None, 500.0, 1500.0]),
        "ecog": st.sampled_from([None, "0", "2", "3"]),
        "weight": st.sampled_from([None, 40.0, 80.0]),
        "creat": st.sampled_from([None, 0.8, 4.0]),
        "drug": st.sampled_from([None, "rifampin", "aspirin"]),
    }
)


def _registry(facts: list[dict]):
    t: dict[str, list[dict]] = {
        k: []
        for k in (
            "patients",
            "diagnoses",
            "therapies",
            "lesions",
            "measurements",
            "assessments",
            "medications",
        )
    }
    for i, f in enumerate(facts):
        pid = f"p{i}"
        t["patients"].append(
            patient(pid, f["sex"], dt.date(1955, 3, 1), d(3) if f["dead"] else None)
        )
        for code in (f["myeloma"], f["other_dx"]):
            if code:
                t["diagnoses"].append({"patient_id": pid, "code": code, "diagnosed_on": d(50)})
        if f["treated"]:
            t["therapies"].append(
                {
                    "patient_id": pid,
                    "line_number": 1,
                    "regimen": "VRd",
                    "start_date": d(300),
                    "end_date": d(100),
                    "investigational": False,
                }
            )
        if f["lesion"] is not None:
            t["lesions"].append(
                {
                    "patient_id": pid,
                    "imaged_on": d(5),
                    "site": "x",
                    "longest_diameter_cm": f["lesion"],
                    "bone_contiguous": False,
                }
            )
        for test in ("hb", "anc", "weight", "creat"):
            if f[test] is not None:
                name = {"hb": "hemoglobin", "creat": "creatinine"}.get(test, test)
                unit = {"hemoglobin": "g/dL", "anc": "/mm3", "weight": "kg", "creatinine": "mg/dL"}[
                    name
                ]
                t["measurements"].append(
                    {
                        "patient_id": pid,
                        "test": name,
                        "value": f[test],
                        "unit": unit,
                        "measured_on": d(4),
                    }
                )
        if f["ecog"] is not None:
            t["assessments"].append(
                {"patient_id": pid, "item": "ecog", "value": f["ecog"], "assessed_on": d(2)}
            )
        if f["drug"]:
            t["medications"].append(
                {
                    "patient_id": pid,
                    "drug": f["drug"],
                    "route": None,
                    "start_date": d(20),
                    "end_date": None,
                }
            )
    return make_registry(**t)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(patient_facts, min_size=1, max_size=12), st.randoms(use_true_random=False))
def test_funnel_invariants(facts, rnd):
    result = screen(_registry(facts), cached_protocol("pomalidomide-ixazomib-dex"), INDEX)
    status = result.patient_status
    order = list(result.steps)
    rnd.shuffle(order)
    for f in (result.funnel(), result.funnel(order)):
        rem, remu, exc = (
            f["remaining"].to_list(),
            f["remaining_with_unknown"].to_list(),
            f["excluded"].to_list(),
        )
        assert f["criterion"][0] == "registry" and rem[0] == remu[0] == len(facts)
        assert all(x >= y for x, y in zip(rem, rem[1:], strict=False))
        assert all(x >= y for x, y in zip(remu, remu[1:], strict=False))
        assert all(r <= u for r, u in zip(rem, remu, strict=True))
        assert exc[0] == 0 and all(
            e == a - b for e, a, b in zip(exc[1:], rem[:-1], rem[1:], strict=True)
        )
        assert rem[-1] == (status["eligible"] == "pass").sum()
        assert remu[-1] == (status["eligible"] != "fail").sum()
    # eligible is the Kleene AND of the steps
    steps = list(result.steps)
    for row in status.iter_rows(named=True):
        values = [row[s] for s in steps]
        expected = "fail" if "fail" in values else "unknown" if "unknown" in values else "pass"
        assert row["eligible"] == expected
    impact = result.impact()
    for row in impact.iter_rows(named=True):
        col = status[row["criterion"]]
        assert row["fail_standalone"] == (col == "fail").sum()
        assert row["unknown"] == (col == "unknown").sum()
        assert row["fail_unique"] <= row["fail_standalone"]


# ---------------------------------------------------------------- event mode invariants

event_facts = st.fixed_dictionaries(
    {
        "lines": st.lists(st.integers(min_value=0, max_value=400), min_size=0, max_size=4),
        "hb_days": st.lists(st.integers(min_value=0, max_value=420), min_size=0, max_size=3),
        "hb": st.sampled_from([7.0, 9.0]),
        "lesion": st.booleans(),
    }
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(event_facts, min_size=1, max_size=8))
def test_event_mode_picks_first_passing_else_best_index(facts):
    from feasibility.engine import IndexEvents
    from feasibility.engine.logic import STATUS_RANK

    t: dict[str, list[dict]] = {
        k: []
        for k in ("patients", "diagnoses", "therapies", "lesions", "measurements", "assessments")
    }
    for i, f in enumerate(facts):
        pid = f"p{i}"
        t["patients"].append(patient(pid, "M", dt.date(1955, 3, 1)))
        t["diagnoses"].append({"patient_id": pid, "code": "C90.0", "diagnosed_on": d(2000)})
        t["therapies"].append(
            {
                "patient_id": pid,
                "line_number": 1,
                "regimen": "VRd",
                "start_date": d(1500),
                "end_date": d(1400),
                "investigational": False,
            }
        )
        for n, days in enumerate(f["lines"]):
            t["therapies"].append(
                {
                    "patient_id": pid,
                    "line_number": n + 2,
                    "regimen": "x",
                    "start_date": d(days),
                    "end_date": None,
                    "investigational": False,
                }
            )
        for days in f["hb_days"]:
            t["measurements"].append(
                {
                    "patient_id": pid,
                    "test": "hemoglobin",
                    "value": f["hb"],
                    "unit": "g/dL",
                    "measured_on": d(days),
                }
            )
        if f["lesion"]:
            t["lesions"].append(
                {
                    "patient_id": pid,
                    "imaged_on": d(5),
                    "site": "x",
                    "longest_diameter_cm": 3.0,
                    "bone_contiguous": False,
                }
            )
    # only the steps this test varies decide eligibility
    proto = cached_protocol("pomalidomide-ixazomib-dex")
    events = IndexEvents("therapies", where="line_number >= 2", start=d(400), end=INDEX)
    res = screen(make_registry(**t), proto, events)
    res = res.without(
        *[
            s
            for s in res.steps
            if s
            not in (
                "index_event",
                "myeloma_diagnosis",
                "previously_treated",
                "measurable_disease",
                "hemoglobin",
            )
        ]
    )
    pairs = res._pairs.with_columns(
        to_status(k_and(*[pl.col(s) for s in res.steps if s != "index_event"])).alias("e")
    )
    status = res.patient_status
    assert status.height == len(facts) and status["patient_id"].n_unique() == len(facts)
    for row in status.iter_rows(named=True):
        mine = pairs.filter(pl.col("patient_id") == row["patient_id"])
        if mine.height == 0:
            assert (
                row["index_date"] is None
                and row["index_event"] == "fail"
                and row["eligible"] == "fail"
            )
            continue
        best = min(STATUS_RANK[e] for e in mine["e"])
        first = mine.filter(pl.col("e").replace_strict(STATUS_RANK) == best)["index_date"].min()
        assert STATUS_RANK[row["eligible"]] == best
        assert row["index_date"] == first
