"""Contract section 5.1, "unknown only when the missing fact could change the answer":
undated event rows, sex U, conflicting and blank patient rows, absent tables."""

HB_8 = "latest: {test: hemoglobin, window: 30d, op: '>=', value: 8.0}"
MEAS = "patient_id | test | value | unit | measured_on\n"
PATIENTS = "patient_id | sex | birth_date | death_date\n"


def test_undated_measurement(spec):
    """An undated hemoglobin would be the most recent if its date fell late in the window,
    so it makes the criterion unknown when its value decides otherwise than the dated most
    recent value; with no dated value the criterion is unknown anyway."""
    spec(
        tables={
            "measurements": MEAS
            + """
                disagrees    | hemoglobin | 10.0 | g/dL | -5
                disagrees    | hemoglobin | 7.0  | g/dL |
                agrees       | hemoglobin | 10.0 | g/dL | -5
                agrees       | hemoglobin | 9.0  | g/dL |
                both_low     | hemoglobin | 7.0  | g/dL | -5
                both_low     | hemoglobin | 6.0  | g/dL |
                only_undated | hemoglobin | 9.0  | g/dL |
            """
        },
        rule=HB_8,
        expected={
            "disagrees": "unknown",
            "agrees": "pass",
            "both_low": "fail",
            "only_undated": "unknown",
        },
    )


def test_undated_assessment_and_if_missing(spec):
    """Exclusion diarrhea (no record passes): an undated grade 3 would decide (fail) if
    dated in the window, so unknown; an undated grade 0 passes wherever it falls."""
    spec(
        tables={
            "assessments": """
                patient_id | item           | value | assessed_on
                grade3     | diarrhea_grade | 3     |
                grade0     | diarrhea_grade | 0     |
            """
        },
        rule="latest: {item: diarrhea_grade, window: 30d, op: '>=', value: 2}",
        section="exclusion",
        if_missing="pass",
        expected={"grade3": "unknown", "grade0": "pass"},
    )


def test_undated_diagnosis(spec):
    """An undated B20 is unknown for the hiv exclusion (it would decide if dated before
    the index); an undated code outside the list decides nothing."""
    spec(
        tables={
            "diagnoses": """
                patient_id | code  | diagnosed_on
                hiv        | B20   |
                other      | J45.9 |
            """
        },
        rule="diagnosis: {codes: hiv, window: ever}",
        section="exclusion",
        if_missing="pass",
        expected={"hiv": "unknown", "other": "pass"},
    )


def test_undated_lesion(spec):
    """An undated lesion >= 2.0 cm, not bone-contiguous, makes extramedullary disease
    unknown when no dated lesion passes (contract 5.1); a dated passing lesion still
    passes; an undated bone-contiguous lesion decides nothing."""
    spec(
        tables={
            "lesions": """
                patient_id | imaged_on | longest_diameter_cm | bone_contiguous
                undated    |           | 3.0 | false
                plus_dated |           | 3.0 | false
                plus_dated | -10       | 2.5 | false
                contiguous |           | 3.0 | true
            """
        },
        rule="lesion: {window: 90d, min_diameter_cm: 2.0, bone_contiguous: false}",
        if_missing="fail",
        expected={"undated": "unknown", "plus_dated": "pass", "contiguous": "fail"},
    )


def test_undated_medication_start(spec):
    """A listed drug without a start date and without an end date may overlap the 7 days
    before index: unknown. An exposure that ended 8 days before the index cannot overlap
    them, wherever it started: pass."""
    spec(
        tables={
            "medications": """
                patient_id | drug        | route | start_date | end_date
                no_end     | fluvoxamine | oral  |            |
                ended_d8   | fluvoxamine | oral  |            | -8
            """
        },
        rule="medication: {drugs: cyp_interacting_drugs, overlap_days: 7}",
        section="exclusion",
        if_missing="pass",
        expected={"no_end": "unknown", "ended_d8": "pass"},
    )


def test_undated_medication_that_ended_inside_the_overlap(spec):
    """An exposure without a start date that ended 7 days before the index started on or
    before its end, so on or before the index, and its end lies in the 7 days: it
    overlaps wherever it started. The missing date cannot change the answer (the heading of
    contract 5.1; the same reasoning as previously_treated's "start_date missing but
    end_date before index"): fail."""
    spec(
        tables={
            "medications": """
                patient_id | drug        | route | start_date | end_date
                ended_d7   | fluvoxamine | oral  |            | -7
            """
        },
        rule="medication: {drugs: cyp_interacting_drugs, overlap_days: 7}",
        section="exclusion",
        if_missing="pass",
        expected={"ended_d7": "fail"},
    )


def test_previously_treated_from_the_end_date(spec):
    """previously_treated passes on a line whose start_date is missing but whose end_date
    is before index (contract 5.1); ended on the index or not ended: it may have started
    on the index, so unknown."""
    spec(
        tables={
            "therapies": """
                patient_id | line_number | regimen | start_date | end_date | investigational
                ended      | 1 | VRd |  | -1 | false
                ends_index | 1 | VRd |  | 0  | false
                no_end     | 1 | VRd |  |    | false
            """
        },
        rule="therapy: {started_before_index: true}",
        if_missing="fail",
        expected={"ended": "pass", "ends_index": "unknown", "no_end": "unknown"},
    )


PREGNANCY = """
when:
  condition:
    all:
      - sex: {in: [F]}
      - latest: {item: childbearing_potential, window: ever, in: ["yes"]}
  then: {latest: {item: pregnancy_test, window: 7d, in: [negative]}}
"""


def test_pregnancy_test_with_sex_u(spec):
    """pregnancy_test (contract 3 and 5.1): not applicable (pass) unless sex F and the most
    recent childbearing_potential is yes (F with none: unknown); then a negative test within
    7 days passes. Sex U passes when it would pass for a woman, else unknown."""
    spec(
        tables={
            "patients": PATIENTS
            + """
                man          | M | 1990-01-01 |
                f_none       | F | 1990-01-01 |
                f_no         | F | 1990-01-01 |
                f_neg        | F | 1990-01-01 |
                f_pos        | F | 1990-01-01 |
                f_no_test    | F | 1990-01-01 |
                u_no         | U | 1990-01-01 |
                u_neg        | U | 1990-01-01 |
                u_none       | U | 1990-01-01 |
                u_no_test    | U | 1990-01-01 |
            """,
            "assessments": """
                patient_id | item                   | value    | assessed_on
                f_no       | childbearing_potential | no       | -100
                f_neg      | childbearing_potential | yes      | -100
                f_neg      | pregnancy_test         | negative | -7
                f_pos      | childbearing_potential | yes      | -100
                f_pos      | pregnancy_test         | positive | -2
                f_no_test  | childbearing_potential | yes      | -100
                f_no_test  | pregnancy_test         | negative | -8
                u_no       | childbearing_potential | no       | -100
                u_neg      | childbearing_potential | yes      | -100
                u_neg      | pregnancy_test         | negative | -1
                u_no_test  | childbearing_potential | yes      | -100
            """,
        },
        rule=PREGNANCY,
        expected={
            "man": "pass",
            "f_none": "unknown",
            "f_no": "pass",
            "f_neg": "pass",
            "f_pos": "fail",
            "f_no_test": "unknown",
            "u_no": "pass",
            "u_neg": "pass",
            "u_none": "unknown",
            "u_no_test": "unknown",
        },
    )


def test_conflicting_patient_rows_make_the_field_missing(spec):
    """Two patients rows with the same id and different values in a field: that field is
    missing for the patient (contract 5.1). Different birth dates: age unknown; different
    sexes: screened both ways."""
    spec(
        tables={
            "patients": PATIENTS
            + """
                two_births | F | 1950-01-01 |
                two_births | F | 1951-01-01 |
                two_sexes  | F | 1950-01-01 |
                two_sexes  | M | 1950-01-01 |
                same_twice | M | 1950-01-01 |
                same_twice | M | 1950-01-01 |
            """
        },
        criteria={
            "adult": {"rule": "age: {op: '>=', value: 18}"},
            "woman": {"rule": "sex: {in: [F]}"},
        },
        expected={
            "two_births": {"adult": "unknown", "woman": "pass"},
            "two_sexes": {"adult": "pass", "woman": "unknown"},
            "same_twice": {"adult": "pass", "woman": "fail"},
        },
        exactly=True,
    )


def test_blank_patient_id_is_never_a_patient(spec):
    """A patients row with a blank patient_id is set aside: it is nobody's row."""
    spec(
        tables={"patients": PATIENTS + "p1 | F | 1950-01-01 |\n   | M | 1950-01-01 |"},
        rule="age: {op: '>=', value: 18}",
        expected={"p1": "pass"},
        exactly=True,
    )


def test_an_absent_table_only_makes_its_own_facts_unknown(spec):
    """Prior lenalidomide from medications OR a regimen: with no medications table the
    medication part is unknown (contract 1), but a lenalidomide regimen still makes the OR
    pass (contract 2: OR passes if any part passes); without one it is unknown."""
    spec(
        tables={
            "therapies": """
                patient_id | line_number | regimen | start_date | end_date | investigational
                vrd        | 1 | VRd | -400 | -200 | false
                pd         | 1 | Pd  | -400 | -200 | false
            """
        },
        absent=("medications",),
        rule="""
            any:
              - medication: {drugs: lenalidomide, overlap_days: ever, started_before_index: true}
              - therapy: {started_before_index: true, drugs: lenalidomide}
        """,
        if_missing="fail",
        expected={"vrd": "pass", "pd": "unknown"},
    )


def test_undated_row_in_any_present(spec):
    """Plasma cell leukemia (any_present of the percentage and the absolute count): a
    dated percentage of 2 % fails its part, but an undated absolute count of 0.9 x 10^9/L
    would pass the criterion if its date fell in the window, so unknown (contract 5.1)."""
    spec(
        tables={
            "measurements": """
                patient_id | test             | value | unit   | measured_on
                p          | plasma_cells_pct | 2     | %      | -2
                p          | plasma_cells_abs | 0.9   | 10^9/L |
                q          | plasma_cells_pct | 2     | %      | -2
                q          | plasma_cells_abs | 0.1   | 10^9/L |
            """
        },
        rule="""
            any_present:
              - latest: {test: plasma_cells_pct, window: 30d, op: '>', value: 5}
              - latest: {test: plasma_cells_abs, window: 30d, op: '>', value: 0.5}
        """,
        expected={"p": "unknown", "q": "fail"},
    )


def test_undated_row_read_by_two_parts_is_one_row(spec):
    """Hemoglobin in 8.0-11.9 g/dL (``all`` of >= 8 and < 12 on the most recent value):
    the dated most recent value 6.7 fails; an undated 12.0, if it were the most recent,
    fails too (not < 12). Wherever its date falls the criterion fails, so fail -- the
    undated row is one row in both parts, not "maybe most recent" in each independently."""
    spec(
        tables={
            "measurements": """
                patient_id | test       | value | unit | measured_on
                p          | hemoglobin | 6.7   | g/dL | -24
                p          | hemoglobin | 12.0  | g/dL |
                q          | hemoglobin | 6.7   | g/dL | -24
                q          | hemoglobin | 10.0  | g/dL |
            """
        },
        rule="""
            all:
              - latest: {test: hemoglobin, window: 365d, op: '>=', value: 8.0}
              - latest: {test: hemoglobin, window: 365d, op: '<', value: 12.0}
        """,
        expected={"p": "fail", "q": "unknown"},
    )


def test_undated_rows_of_one_test_that_disagree_in_any_present(spec):
    """Two undated percentages, 3.7 % and 8.9 %, beside a dated absolute count of 0.1 x
    10^9/L that fails: with the 8.9 % as the most recent the criterion would pass, with the
    3.7 % it would fail, so unknown (contract 5.1; each undated row is placed on its own,
    not only all of them on one day)."""
    spec(
        tables={
            "measurements": """
                patient_id | test             | value | unit   | measured_on
                p          | plasma_cells_abs | 0.1   | 10^9/L | -2
                p          | plasma_cells_pct | 3.7   | %      |
                p          | plasma_cells_pct | 8.9   | %      |
                q          | plasma_cells_abs | 0.1   | 10^9/L | -2
                q          | plasma_cells_pct | 3.7   | %      |
                q          | plasma_cells_pct | 4.9   | %      |
            """
        },
        rule="""
            any_present:
              - latest: {test: plasma_cells_pct, window: 30d, op: '>', value: 5}
              - latest: {test: plasma_cells_abs, window: 30d, op: '>', value: 0.5}
        """,
        expected={"p": "unknown", "q": "fail"},
    )


def test_undated_row_on_the_day_of_the_latest_dated_one(spec):
    """Ruling 1 when the undated row may share the latest day of a dated one: hemoglobin
    in 8.0-11.9 g/dL, a dated 6.7 the day before the index, an undated 12.0. Placed after
    the index it is not read (6.7: fails >= 8); placed before that day it is not the
    latest; placed on that day, the two records have no order, and whichever came last the
    criterion fails (6.7 fails >= 8, 12.0 fails < 12). Every placement fails: fail. (Seen
    on anemia-oral-iron, /work/reg30k, 2 pairs at 2024-06-30 and 12 in event mode.)"""
    spec(
        tables={
            "measurements": """
                patient_id | test       | value | unit | measured_on
                p          | hemoglobin | 6.7   | g/dL | -1
                p          | hemoglobin | 12.0  | g/dL |
            """
        },
        rule="""
            all:
              - latest: {test: hemoglobin, window: 365d, op: '>=', value: 8.0}
              - latest: {test: hemoglobin, window: 365d, op: '<', value: 12.0}
        """,
        expected={"p": "fail"},
    )
