"""``latest``: the most recent measurement (test) or assessment (item) in the window,
compared with a threshold in the canonical unit or with a value set. Contract 2: "most
recent" is the latest record in the window; records after the index are never used; a
missing measurement or assessment is unknown."""

HB_8 = "latest: {test: hemoglobin, window: 30d, op: '>=', value: 8.0, unit: g/dL}"


def test_most_recent_value_in_the_window_decides(spec):
    """Hemoglobin >= 8.0 g/dL: the most recent value within 30 days decides; older values,
    values outside the window and values after the index are not used."""
    spec(
        tables={
            "measurements": """
                patient_id | test       | value | unit | measured_on
                recent_ok  | hemoglobin | 7.0   | g/dL | -20
                recent_ok  | hemoglobin | 9.0   | g/dL | -3
                recent_low | hemoglobin | 9.0   | g/dL | -20
                recent_low | hemoglobin | 7.9   | g/dL | -3
                too_old    | hemoglobin | 9.0   | g/dL | -31
                on_edge    | hemoglobin | 8.0   | g/dL | -30
                after      | hemoglobin | 7.0   | g/dL | -10
                after      | hemoglobin | 9.0   | g/dL | +1
                on_index   | hemoglobin | 8.5   | g/dL | 0
            """
        },
        rule=HB_8,
        expected={
            "recent_ok": "pass",
            "recent_low": "fail",
            "too_old": "unknown",
            "on_edge": "pass",
            "after": "fail",
            "on_index": "pass",
            "none": "unknown",
        },
    )


def test_values_are_compared_in_the_canonical_unit(spec):
    """Contract 1: hemoglobin in g/L is divided by 10; platelets in 10^9/L (and 10^3/uL,
    10*9/L) are multiplied by 1000 to /mm3. A threshold stated in another unit (here
    75 x 10^3/uL) is converted too."""
    spec(
        tables={
            "measurements": """
                patient_id | test      | value | unit    | measured_on
                g_per_l_90 | hemoglobin| 90    | g/L     | -2
                g_per_l_70 | hemoglobin| 70    | g/L     | -2
            """
        },
        rule=HB_8,
        expected={"g_per_l_90": "pass", "g_per_l_70": "fail"},
    )


def test_threshold_in_another_unit(spec):
    """Platelets < 75 x 10^3/uL (an exclusion's condition): 80 x 10^9/L and 80000 /mm3 are
    the same count; 70000 /uL is below."""
    spec(
        tables={
            "measurements": """
                patient_id | test      | value | unit    | measured_on
                si         | platelets | 80    | 10^9/L  | -1
                mm3        | platelets | 80000 | /mm3    | -1
                ul         | platelets | 70000 | /uL     | -1
                star       | platelets | 70    | 10*3/uL | -1
            """
        },
        rule="latest: {test: platelets, window: 21d, op: '<', value: 75, unit: 10^3/uL}",
        expected={"si": "fail", "mm3": "fail", "ul": "pass", "star": "pass"},
    )


def test_unaccepted_unit_or_impossible_value_never_decides(spec):
    """Contract 1 and 5.2: a value in a unit not accepted for its test, or outside the
    test's plausible range (hemoglobin > 25 g/dL, negative), is set aside; the most recent
    usable value in the window decides."""
    spec(
        tables={
            "measurements": """
                patient_id   | test       | value | unit  | measured_on
                bad_unit     | hemoglobin | 12    | mg/dL | -1
                bad_unit     | hemoglobin | 7.0   | g/dL  | -10
                impossible   | hemoglobin | 30    | g/dL  | -1
                impossible   | hemoglobin | 9.0   | g/dL  | -10
                only_bad     | hemoglobin | -1    | g/dL  | -1
            """
        },
        rule=HB_8,
        expected={"bad_unit": "fail", "impossible": "pass", "only_bad": "unknown"},
    )


def test_graded_assessment_compared_as_a_number(spec):
    """ECOG <= 2 within 30 days: grades compare as numbers; the most recent decides."""
    spec(
        tables={
            "assessments": """
                patient_id | item | value | assessed_on
                two        | ecog | 2     | -5
                three      | ecog | 1     | -20
                three      | ecog | 3     | -5
                old        | ecog | 0     | -40
            """
        },
        rule="latest: {item: ecog, window: 30d, op: '<=', value: 2}",
        expected={"two": "pass", "three": "fail", "old": "unknown"},
    )


def test_value_set_is_case_insensitive(spec):
    """Breastfeeding "yes" as the most recent value within 90 days (values case-insensitive,
    contract 1); the most recent "no" after an earlier "yes" is not in the set."""
    spec(
        tables={
            "assessments": """
                patient_id | item         | value | assessed_on
                yes_upper  | breastfeeding| YES   | -10
                no_latest  | breastfeeding| yes   | -60
                no_latest  | breastfeeding| No    | -5
            """
        },
        rule="latest: {item: breastfeeding, window: 90d, in: ['yes']}",
        expected={"yes_upper": "pass", "no_latest": "fail", "none": "unknown"},
    )


def test_other_tests_and_items_are_not_read(spec):
    """Only rows of the rule's own test count: a platelet count is not a hemoglobin."""
    spec(
        tables={
            "measurements": """
                patient_id | test      | value | unit | measured_on
                p1         | platelets | 9     | /mm3 | -1
            """
        },
        rule=HB_8,
        expected={"p1": "unknown"},
    )


def test_records_on_the_same_latest_day_that_disagree(spec):
    """Two hemoglobin values on the same, most recent day (7.0 and 9.0): there is no one
    "latest record" (contract 2), and which came last could change the answer, so -- the
    reference engine's reading of contract 5.1 ("unknown only when the missing fact could
    change the answer") -- unknown. Values on that day that agree decide."""
    spec(
        tables={
            "measurements": """
                patient_id | test       | value | unit | measured_on
                disagree   | hemoglobin | 7.0   | g/dL | -2
                disagree   | hemoglobin | 9.0   | g/dL | -2
                agree      | hemoglobin | 9.0   | g/dL | -2
                agree      | hemoglobin | 9.5   | g/dL | -2
            """
        },
        rule=HB_8,
        expected={"disagree": "unknown", "agree": "pass"},
    )
