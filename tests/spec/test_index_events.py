"""Event mode (contract 2): each qualifying event is an index date -- here each therapy
line numbered >= 2 that starts inside the calendar window -- and every criterion is
evaluated at each such (patient, index) pair. A patient without a qualifying event has
no pair. Offsets below are days from 2024-06-30."""

import datetime as dt

from feasibility.engine.index import IndexEvents

INDEX = dt.date(2024, 6, 30)  # the spec tables' day 0 (tests/spec/conftest.py)

EVENTS = IndexEvents("therapies", "line_number >= 2", INDEX - dt.timedelta(days=400), INDEX)
LINES = """
    patient_id | line_number | regimen | start_date | end_date | investigational
    two_lines  | 1 | VRd | -600 | -300 | false
    two_lines  | 2 | Kd  | -300 | -100 | false
    two_lines  | 3 | Pd  | -50  |      | false
    line1_only | 1 | VRd | -100 |      | false
    too_early  | 1 | VRd | -900 | -700 | false
    too_early  | 2 | Pd  | -500 |      | false
"""


def test_each_qualifying_line_is_an_index(spec):
    """Lines 2 and 3 of ``two_lines`` start in the window: two pairs. previously_treated (a
    line started before the index) passes at each: line 1 (and 2) started earlier. A first
    line, or a second line before the window, gives no pair."""
    spec(
        tables={"therapies": LINES},
        rule="therapy: {started_before_index: true}",
        if_missing="fail",
        index=EVENTS,
        expected={("two_lines", -300): "pass", ("two_lines", -50): "pass"},
    )


def test_windows_are_relative_to_each_index(spec):
    """Hemoglobin >= 8 within 30 days of each index: a value 10 days before line 2 decides
    at line 2's index; none lies within 30 days of line 3's."""
    spec(
        tables={
            "therapies": LINES,
            "measurements": """
                patient_id | test       | value | unit | measured_on
                two_lines  | hemoglobin | 9.0   | g/dL | -310
            """,
        },
        rule="latest: {test: hemoglobin, window: 30d, op: '>=', value: 8.0}",
        index=EVENTS,
        expected={("two_lines", -300): "pass", ("two_lines", -50): "unknown"},
    )


def test_the_indexing_line_is_ongoing_at_its_own_index(spec):
    """An investigational line indexes itself: the concurrent-therapy exclusion fails at
    that index (start_date <= index and no end); at an earlier index it had not started."""
    spec(
        tables={
            "therapies": """
                patient_id | line_number | regimen | start_date | end_date | investigational
                trial      | 1 | VRd     | -600 | -300 | false
                trial      | 2 | Kd      | -300 | -100 | false
                trial      | 3 | trial-X | -50  |      | true
            """
        },
        rule="therapy: {ongoing: true, investigational: true}",
        section="exclusion",
        if_missing="pass",
        index=EVENTS,
        expected={("trial", -300): "pass", ("trial", -50): "fail"},
    )
