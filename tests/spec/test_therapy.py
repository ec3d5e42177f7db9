"""``therapy``: a line of therapy started before index, or ongoing at index, optionally
only investigational lines, lines numbered >= N, lines whose regimen contains a listed
drug, or lines still given in the N days before index. Absent is false."""

TH = "patient_id | line_number | regimen | start_date | end_date | investigational\n"


def test_previously_treated(spec):
    """previously_treated: a therapy line with start_date before index (strictly: a line
    starting on the index day is the new line)."""
    spec(
        tables={
            "therapies": TH
            + """
                before   | 1 | VRd | -300 | -100 | false
                on_index | 1 | VRd | 0    |      | false
                after    | 1 | VRd | +5   |      | false
            """
        },
        rule="therapy: {started_before_index: true}",
        if_missing="fail",
        expected={"before": "pass", "on_index": "fail", "after": "fail", "none": "fail"},
    )


def test_ongoing_investigational(spec):
    """Exclusion concurrent_therapy: fail on an investigational line with start_date <=
    index and end_date null or >= index. A line with a null investigational flag could be
    one: unknown."""
    spec(
        tables={
            "therapies": TH
            + """
                ongoing     | 3 | trial-X | -30 |     | true
                ends_index  | 3 | trial-X | -30 | 0   | true
                ended       | 3 | trial-X | -30 | -1  | true
                standard    | 3 | Pd      | -30 |     | false
                null_flag   | 3 | trial-Y | -30 |     |
                starts_later| 3 | trial-X | +1  |     | true
            """
        },
        rule="therapy: {ongoing: true, investigational: true}",
        section="exclusion",
        if_missing="pass",
        expected={
            "ongoing": "fail",
            "ends_index": "fail",
            "ended": "pass",
            "standard": "pass",
            "null_flag": "unknown",
            "starts_later": "pass",
        },
    )


def test_line_number_and_regimen_drugs(spec):
    """At least a second line started before index (line_number >= 2); and, separately, a
    line whose regimen contains lenalidomide (VRd does, Pd does not)."""
    spec(
        tables={
            "therapies": TH
            + """
                two_lines | 1 | VRd | -600 | -400 | false
                two_lines | 2 | Pd  | -300 | -100 | false
                one_line  | 1 | Pd  | -600 | -400 | false
            """
        },
        criteria={
            "second_line": {
                "rule": "therapy: {started_before_index: true, min_line: 2}",
                "if_missing": "fail",
            },
            "had_len": {
                "rule": "therapy: {started_before_index: true, drugs: lenalidomide}",
                "if_missing": "fail",
            },
        },
        expected={
            "two_lines": {"second_line": "pass", "had_len": "pass"},
            "one_line": {"second_line": "fail", "had_len": "fail"},
        },
    )


def test_given_within_days_before_index(spec):
    """A line started before index and ended within 14 days before it (or still ongoing)."""
    spec(
        tables={
            "therapies": TH
            + """
                ongoing | 2 | Kd | -100 |     | false
                d14     | 2 | Kd | -100 | -14 | false
                d15     | 2 | Kd | -100 | -15 | false
            """
        },
        rule="therapy: {started_before_index: true, ended_within_days: 14}",
        section="exclusion",
        if_missing="pass",
        expected={"ongoing": "fail", "d14": "fail", "d15": "pass"},
    )


def test_null_line_number_could_qualify(spec):
    """A line started before index whose line_number is null could be a second line: for
    "at least a second line" it is unknown (contract 5.1, unknown only when the missing
    fact could change the answer; as a null investigational flag above)."""
    spec(
        tables={"therapies": TH + "null_line |  | Pd | -100 | | false"},
        rule="therapy: {started_before_index: true, min_line: 2}",
        if_missing="fail",
        expected={"null_line": "unknown"},
    )
