"""The assumption model (issue 11 point 6): cited rates, conditional and merged assumptions,
rates restricted to the people they concern, and the expected enrolment as a range."""

from __future__ import annotations

import copy
import math
import re

import pytest

from feasibility.errors import ProtocolError
from feasibility.protocol import available_protocols, load_protocol, parse_protocol

BASE = {
    "id": "t",
    "title": "t",
    "eligibility": [
        {
            "id": "alive",
            "section": "inclusion",
            "label": "alive",
            "source": "s",
            "rule": {"alive": {}},
            "if_missing": "pass",
        },
        {
            "id": "consent",
            "section": "inclusion",
            "text": "consent",
            "pass_rate": 0.5,
            "rate_low": 0.4,
            "rate_high": 0.6,
            "rate_source": "team estimate",
        },
    ],
    "steps": ["alive"],
}


def _with(*items: dict) -> dict:
    data = copy.deepcopy(BASE)
    data["eligibility"].extend(items)
    return data


def test_expected_range_from_rate_ranges():
    p = parse_protocol(BASE)
    r = p.expected_range(100)
    assert (r.low, r.estimate, r.high) == pytest.approx((40.0, 50.0, 60.0))
    assert r.describe() == "≈ 50.0 (40.0–60.0)"


def test_conditional_rate_multiplies_into_the_joint_rate():
    p = parse_protocol(
        _with(
            {
                "id": "samples",
                "section": "inclusion",
                "text": "samples",
                "given": "consent",
                "pass_rate": 0.9,
                "rate_source": "team estimate",
            }
        )
    )
    assert p.assumption_rate() == pytest.approx(0.45)
    assert p.assumptions[1].given == "consent"


def test_same_judgement_is_counted_once():
    p = parse_protocol(
        _with(
            {
                "id": "again",
                "section": "exclusion",
                "text": "the same judgement in other words",
                "same_as": "consent",
            }
        )
    )
    assert p.assumption_rate() == pytest.approx(0.5)
    assert p.expected_range(10).high == pytest.approx(6.0)


def test_rate_applies_only_to_the_share_it_concerns():
    p = parse_protocol(
        _with(
            {
                "id": "pregnancy_tests",
                "section": "exclusion",
                "text": "women of childbearing potential must ...",
                "pass_rate": 0.5,
                "rate_low": 0.5,
                "rate_high": 1.0,
                "applies_to": {
                    "who": "women of childbearing potential",
                    "share": 0.1,
                    "share_low": 0.0,
                    "share_high": 0.2,
                    "source": "team estimate",
                },
                "rate_source": "team estimate",
            }
        )
    )
    a = p.assumptions[1]
    assert a.effective_rate() == pytest.approx(0.95)  # 1 - 0.1 * (1 - 0.5)
    assert a.effective_rate("low") == pytest.approx(0.9)  # share 0.2, rate 0.5
    assert a.effective_rate("high") == pytest.approx(1.0)
    assert p.assumption_rate() == pytest.approx(0.5 * 0.95)


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"pass_rate": 0.9, "rate_low": 0.95, "rate_source": "x"}, "rate_low"),
        ({"pass_rate": 0.9, "given": "nobody", "rate_source": "x"}, "given"),
        ({"same_as": "nobody"}, "same_as"),
        ({"same_as": "consent", "pass_rate": 0.9}, "pass_rate"),
        (
            {"pass_rate": 0.9, "rate_source": "x", "applies_to": {"who": "w", "share": 2}},
            "applies_to.share",
        ),
        ({"pass_rate": 0.9}, "rate_source"),
    ],
)
def test_malformed_assumptions_fail_at_load(item, field):
    bad = {"id": "bad", "section": "inclusion", "text": "t", **item}
    with pytest.raises(ProtocolError) as exc:
        parse_protocol(_with(bad))
    assert exc.value.field == field


CITATION = re.compile(r"(19|20)\d\d")


@pytest.mark.parametrize("pid", available_protocols())
def test_every_rate_cites_a_publication_or_says_team_estimate(pid):
    for a in load_protocol(pid).assumptions:
        if a.same_as is not None:
            continue
        src = a.source.lower()
        assert "team estimate" in src or CITATION.search(src), (pid, a.id, a.source)
        if a.applies_to is not None:
            share_src = a.applies_to.source.lower()
            assert "team estimate" in share_src or CITATION.search(share_src)


def test_consent_rate_is_the_published_figure():
    # Unger et al. (JNCI 2021;113:244-57): 55.0% of patients offered a treatment trial enrol
    a = {x.id: x for x in load_protocol("pomalidomide-ixazomib-dex").assumptions}
    assert a["informed_consent"].pass_rate == 0.55
    assert (a["informed_consent"].rate_low, a["informed_consent"].rate_high) == (0.489, 0.609)
    # overlaps are conditioned or merged, not multiplied as if independent
    for cid in ("rems_enrolment", "willing_follow_up", "willing_samples"):
        assert a[cid].given == "informed_consent"
    assert a["serious_illness_judgement"].same_as == "comorbidity_judgement"
    assert a["pregnancy_testing_schedule"].applies_to.who == "women of childbearing potential"


@pytest.mark.parametrize("pid", available_protocols())
def test_shipped_expected_range_is_ordered(pid):
    p = load_protocol(pid)
    r = p.expected_range(200)
    assert r.low <= r.estimate <= r.high
    assert r.estimate == pytest.approx(200 * math.prod(a.effective_rate() for a in p.assumptions))


def test_report_summary_shows_the_range():
    import math

    from feasibility.report.sections import _assumption_rate_text, _expected_range_note

    p = load_protocol("pomalidomide-ixazomib-dex")
    r = p.expected_range(40)
    # whole patients (issue 9): the range widened outwards to whole numbers
    assert (
        _expected_range_note(40, p)
        == f"; range {math.floor(r.low):,}–{math.ceil(r.high):,} from the rates' uncertainty"
    )
    assert _expected_range_note(None, p) == ""  # a hidden count gives no range
    a = {x.id: x for x in p.assumptions}
    assert _assumption_rate_text(a["serious_illness_judgement"]).startswith("counted once")
    assert "(49–61%)" in _assumption_rate_text(a["informed_consent"])
