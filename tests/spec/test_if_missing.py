"""Inclusion, exclusion and ``if_missing``.

An inclusion passes when its rule is true; an exclusion passes when its rule is false
(contract 2: "pass means the patient does not have the excluding condition"). A missing
measurement or assessment is unknown unless the criterion says otherwise: ``if_missing``
is the status when the patient has no record at all for any part of the rule, tables
present (``feasibility.protocol.Criterion``)."""

DIARRHEA = "latest: {item: diarrhea_grade, window: 30d, op: '>=', value: 2}"
ASSESS = "patient_id | item | value | assessed_on\n"


def test_exclusion_passes_when_its_condition_is_false(spec):
    """Exclusion diarrhea: the most recent diarrhea_grade within 30 days >= 2 fails; a
    lower grade passes; no record passes (contract 3, ``if_missing: pass``); a record only
    outside the window is no record."""
    spec(
        tables={
            "assessments": ASSESS
            + """
                grade2 | diarrhea_grade | 2 | -3
                grade1 | diarrhea_grade | 1 | -3
                old    | diarrhea_grade | 3 | -31
            """
        },
        rule=DIARRHEA,
        section="exclusion",
        if_missing="pass",
        expected={"grade2": "fail", "grade1": "pass", "old": "pass", "none": "pass"},
    )


def test_if_missing_unknown_keeps_missing_data_unknown(spec):
    """The same rule with ``if_missing: unknown``: no record is unknown; an inclusion with
    the same rule passes when the condition holds."""
    spec(
        tables={"assessments": ASSESS + "grade2 | diarrhea_grade | 2 | -3"},
        criteria={
            "excl": {"rule": DIARRHEA, "section": "exclusion", "if_missing": "unknown"},
            "incl": {"rule": DIARRHEA, "section": "inclusion", "if_missing": "fail"},
        },
        expected={
            "grade2": {"excl": "fail", "incl": "pass"},
            "none": {"excl": "unknown", "incl": "fail"},
        },
    )


def test_if_missing_does_not_apply_to_an_absent_table(spec):
    """Contract 1: a missing table means its facts are unknown for everyone -- not "no
    record": ``if_missing: pass`` does not make them pass."""
    spec(
        tables={},
        absent=("assessments",),
        rule=DIARRHEA,
        section="exclusion",
        if_missing="pass",
        expected={"p1": "unknown"},
    )


def test_if_missing_when_an_absent_record_already_decides(spec):
    """A diagnosis rule's answer without a record is "absent" (false), but the criterion
    says ``if_missing: unknown``: read literally (the status when the patient has no
    record at all), a patient without any such diagnosis is unknown, one with it passes."""
    spec(
        tables={"diagnoses": "patient_id | code | diagnosed_on\nhas | C90.0 | -10"},
        rule="diagnosis: {codes: myeloma, window: ever}",
        if_missing="unknown",
        expected={"has": "pass", "none": "unknown"},
    )
