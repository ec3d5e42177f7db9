"""``procedure`` (a procedure of a category in the window; absent is false) and
``lesion`` (a lesion imaged in the window, large enough, bone-contiguous or not as asked;
no lesion is false, a lesion with the deciding field null is unknown unless another
lesion qualifies)."""

PROC = "patient_id | category | performed_on\n"
LES = "patient_id | imaged_on | longest_diameter_cm | bone_contiguous\n"
EMD = "lesion: {window: 90d, min_diameter_cm: 2.0, bone_contiguous: false}"


def test_major_surgery_within_14_days(spec):
    """Exclusion major_surgery: fail on a major_surgery within 14 days before index (day
    14 included); other categories, older or later surgery pass. Categories are
    case-insensitive."""
    spec(
        tables={
            "procedures": PROC
            + """
                recent    | major_surgery      | -14
                upper     | Major_Surgery      | -1
                old       | major_surgery      | -15
                later     | major_surgery      | +1
                biopsy    | bone_marrow_biopsy | -1
            """
        },
        rule="procedure: {category: major_surgery, window: 14d}",
        section="exclusion",
        if_missing="pass",
        expected={
            "recent": "fail",
            "upper": "fail",
            "old": "pass",
            "later": "pass",
            "biopsy": "pass",
            "none": "pass",
        },
    )


def test_extramedullary_lesion(spec):
    """Extramedullary disease: a lesion imaged within 90 days with longest diameter >= 2.0
    cm and not bone-contiguous; no lesion record fails (contract 3)."""
    spec(
        tables={
            "lesions": LES
            + """
                big        | -10 | 2.0  | false
                small      | -10 | 1.99 | false
                contiguous | -10 | 5.0  | true
                old        | -91 | 5.0  | false
                edge       | -90 | 5.0  | false
            """
        },
        rule=EMD,
        if_missing="fail",
        expected={
            "big": "pass",
            "small": "fail",
            "contiguous": "fail",
            "old": "fail",
            "edge": "pass",
            "none": "fail",
        },
    )


def test_lesion_with_a_null_deciding_field(spec):
    """A lesion whose diameter or bone_contiguous is null could qualify: unknown, unless
    another lesion qualifies; a null field that cannot matter (the lesion is too small)
    decides nothing. A diameter above 50 cm is set aside as null (contract 5.2)."""
    spec(
        tables={
            "lesions": LES
            + """
                no_size    | -10 |      | false
                no_bc      | -10 | 3.0  |
                small_no_bc| -10 | 1.0  |
                other_ok   | -10 |      | false
                other_ok   | -20 | 2.5  | false
                huge       | -10 | 60.0 | false
            """
        },
        rule=EMD,
        if_missing="fail",
        expected={
            "no_size": "unknown",
            "no_bc": "unknown",
            "small_no_bc": "fail",
            "other_ok": "pass",
            "huge": "unknown",
        },
    )
