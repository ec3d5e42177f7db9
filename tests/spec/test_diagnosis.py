"""``diagnosis``: a diagnosis whose code matches a code list, dated in the window. ICD-10
codes match by prefix after removing the dot, in any case (contract 2); an absent
diagnosis means the condition is absent."""

DX = "patient_id | code | diagnosed_on\n"


def test_prefix_match_with_or_without_dot_any_case(spec):
    """Myeloma (C90.0, C90.1, C90.2) on or before index: ``C90.0`` matches ``C9000`` and
    ``c90.10``; C90.3 and a diagnosis after the index do not count; no diagnosis fails."""
    spec(
        tables={
            "diagnoses": DX
            + """
                dotted     | C90.00 | -400
                undotted   | C9000  | -1
                lower      | c90.10 | 0
                other_c90  | C90.3  | -10
                after      | C90.0  | +1
            """
        },
        rule="diagnosis: {codes: myeloma, window: ever}",
        if_missing="fail",
        expected={
            "dotted": "pass",
            "undotted": "pass",
            "lower": "pass",
            "other_c90": "fail",
            "after": "fail",
            "nothing": "fail",
        },
    )


def test_window_and_exclusion(spec):
    """Exclusion cardiovascular: fail on I20-I22, I47-I50 (and I24, I25.11, contract 5.3)
    within 183 days before index; the 183rd day counts, the 184th does not; I25.10 is not
    I25.11. An exclusion passes when its condition is false."""
    spec(
        tables={
            "diagnoses": DX
            + """
                af_recent   | I48.91 | -10
                edge        | I50.9  | -183
                too_old     | I21.4  | -184
                i2511       | I25.110| -5
                i2510       | I25.10 | -5
            """
        },
        rule="diagnosis: {codes: cardiovascular, window: 183d}",
        section="exclusion",
        if_missing="pass",
        expected={
            "af_recent": "fail",
            "edge": "fail",
            "too_old": "pass",
            "i2511": "fail",
            "i2510": "pass",
            "nothing": "pass",
        },
    )


def test_ranges_and_excluded_prefixes(spec):
    """Exclusion other_malignancy: C00-C96 except C44 and C90, and D45, D46, D47.1,
    D47.3, D47.4 (contract 5.3), within 365 days: breast cancer C50.9 fails, basal cell
    C44.91 and myeloma C90.00 do not; MDS D46.9 fails, MGUS D47.2 does not."""
    spec(
        tables={
            "diagnoses": DX
            + """
                breast | C50.9  | -30
                skin   | C44.91 | -30
                own    | C90.00 | -30
                mds    | D46.9  | -30
                mgus   | D47.2  | -30
            """
        },
        rule="diagnosis: {codes: other_malignancy, window: 365d}",
        section="exclusion",
        if_missing="pass",
        expected={
            "breast": "fail",
            "skin": "pass",
            "own": "pass",
            "mds": "fail",
            "mgus": "pass",
        },
    )


def test_inline_code_list(spec):
    """A rule may list its codes inline: any diagnosis starting with B20 or Z21, ever."""
    spec(
        tables={"diagnoses": DX + "hiv | b20 | -1000\nz21 | Z21 | -1"},
        rule="diagnosis: {codes: [B20, Z21], window: ever}",
        if_missing="fail",
        expected={"hiv": "pass", "z21": "pass", "none": "fail"},
    )


def test_absent_table_is_unknown(spec):
    """Contract 1: a missing table means its facts are unknown for everyone, even where
    an absent record would have passed."""
    spec(
        tables={},
        absent=("diagnoses",),
        rule="diagnosis: {codes: hiv, window: ever}",
        section="exclusion",
        if_missing="pass",
        expected={"p1": "unknown"},
    )
