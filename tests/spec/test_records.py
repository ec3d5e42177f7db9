"""``records`` (a rule written from the general pieces): the rows of one table that pass
the ``where`` filters, dated in the window (records after the index are never used),
reduced by the pick -- ``any`` (a row exists; none is false), ``count`` (how many; none is
0), ``max`` (the largest value; no value is unknown), ``latest`` (the value on the most
recent day; no value is unknown) -- and compared. ``if_missing`` is the status when no
row might qualify (the tests below give the one the words imply, so that it agrees with
"none is false / 0"). A row without a date, or with a null
filtered field, might qualify: the answer is unknown exactly when it could change it
(contract 5.1). Exact duplicate rows count once (contract 2)."""

import datetime as dt

from feasibility.engine.index import IndexEvents

INDEX = dt.date(2024, 6, 30)  # the spec tables' day 0 (tests/spec/conftest.py)
EVENTS = IndexEvents("therapies", "line_number >= 2", INDEX - dt.timedelta(days=400), INDEX)
LINES = """
    patient_id | line_number | regimen | start_date | end_date | investigational
    two_lines  | 1 | VRd | -600 | -300 | false
    two_lines  | 2 | Kd  | -300 | -100 | false
    two_lines  | 3 | Pd  | -50  |      | false
"""

PROC = "patient_id | category | performed_on\n"
MEAS = "patient_id | test | value | unit | measured_on\n"
LES = "patient_id | imaged_on | longest_diameter_cm | bone_contiguous\n"

RADIOTHERAPY_TWICE = (
    "records: {table: procedures, where: {category: radiotherapy}, window: 365d, "
    "pick: count, op: '>=', value: 2}"
)
CREATININE_MAX = (
    "records: {table: measurements, where: {test: creatinine}, window: 90d, pick: max, "
    "op: '>', value: 2.0, unit: mg/dL}"
)


def test_count_of_procedures_in_the_window(spec):
    """At least two radiotherapies within 365 days before index: rows of other categories,
    older than the window or after the index do not count; an exact duplicate row counts
    once; no procedure is a count of 0 (fail)."""
    spec(
        tables={
            "procedures": PROC
            + """
                two        | radiotherapy  | -10
                two        | radiotherapy  | -365
                one        | radiotherapy  | -10
                one_old    | radiotherapy  | -10
                one_old    | radiotherapy  | -366
                one_later  | radiotherapy  | -10
                one_later  | radiotherapy  | +1
                duplicate  | radiotherapy  | -10
                duplicate  | radiotherapy  | -10
                other      | radiotherapy  | -10
                other      | major_surgery | -20
            """
        },
        rule=RADIOTHERAPY_TWICE,
        if_missing="fail",
        expected={
            "two": "pass",
            "one": "fail",
            "one_old": "fail",
            "one_later": "fail",
            "duplicate": "fail",
            "other": "fail",
            "none": "fail",
        },
    )


def test_count_with_an_undated_row(spec):
    """An undated radiotherapy might fall in the window: with one dated it could make two
    (unknown); with two dated the count is reached whatever its date (pass); alone it
    makes at most one (fail)."""
    spec(
        tables={
            "procedures": PROC
            + """
                one_plus   | radiotherapy | -10
                one_plus   | radiotherapy |
                two_plus   | radiotherapy | -10
                two_plus   | radiotherapy | -20
                two_plus   | radiotherapy |
                only       | radiotherapy |
            """
        },
        rule=RADIOTHERAPY_TWICE,
        if_missing="fail",
        expected={"one_plus": "unknown", "two_plus": "pass", "only": "fail"},
    )


def test_count_at_most(spec):
    """At most one radiotherapy in the window: none (a count of 0) passes, two fail; an
    undated second one could make two (unknown)."""
    spec(
        tables={
            "procedures": PROC
            + """
                one        | radiotherapy | -10
                two        | radiotherapy | -10
                two        | radiotherapy | -11
                one_plus   | radiotherapy | -10
                one_plus   | radiotherapy |
            """
        },
        rule=(
            "records: {table: procedures, where: {category: radiotherapy}, window: 365d, "
            "pick: count, op: '<=', value: 1}"
        ),
        if_missing="pass",
        expected={"one": "pass", "two": "fail", "one_plus": "unknown", "none": "pass"},
    )


def test_largest_value_in_the_window(spec):
    """Creatinine above 2.0 mg/dL at any time within 90 days before index (the largest
    value decides, not the most recent): values older than the window or after the index
    are not used; a value in another unit is compared in mg/dL (221 umol/L is 2.5 mg/dL);
    no measurement is unknown."""
    spec(
        tables={
            "measurements": MEAS
            + """
                high_earlier | creatinine | 2.5 | mg/dL  | -60
                high_earlier | creatinine | 1.0 | mg/dL  | -5
                all_low      | creatinine | 1.0 | mg/dL  | -60
                all_low      | creatinine | 2.0 | mg/dL  | -5
                high_old     | creatinine | 3.0 | mg/dL  | -91
                high_old     | creatinine | 1.0 | mg/dL  | -5
                high_later   | creatinine | 3.0 | mg/dL  | +1
                high_later   | creatinine | 1.0 | mg/dL  | -5
                in_umol      | creatinine | 221 | umol/L | -5
            """
        },
        rule=CREATININE_MAX,
        expected={
            "high_earlier": "pass",
            "all_low": "fail",
            "high_old": "fail",
            "high_later": "fail",
            "in_umol": "pass",
            "none": "unknown",
        },
    )


def test_largest_value_with_an_undated_row(spec):
    """An undated creatinine might be in the window: above the largest dated value and
    above the threshold it could change the answer (unknown); below it, it cannot (the
    dated answer stands); alone it leaves the largest value unknown."""
    spec(
        tables={
            "measurements": MEAS
            + """
                higher_undated | creatinine | 1.0 | mg/dL | -5
                higher_undated | creatinine | 3.0 | mg/dL |
                lower_undated  | creatinine | 2.5 | mg/dL | -5
                lower_undated  | creatinine | 1.0 | mg/dL |
                low_undated    | creatinine | 1.0 | mg/dL | -5
                low_undated    | creatinine | 1.5 | mg/dL |
                only_undated   | creatinine | 3.0 | mg/dL |
            """
        },
        rule=CREATININE_MAX,
        expected={
            "higher_undated": "unknown",
            "lower_undated": "pass",
            "low_undated": "fail",
            "only_undated": "unknown",
        },
    )


def test_latest_value(spec):
    """``pick: latest`` is the most recent value in the window (as ``latest:``): an older
    high value does not count."""
    spec(
        tables={
            "measurements": MEAS
            + """
                now_low    | creatinine | 2.5 | mg/dL | -60
                now_low    | creatinine | 1.0 | mg/dL | -5
                now_high   | creatinine | 1.0 | mg/dL | -60
                now_high   | creatinine | 2.5 | mg/dL | -5
            """
        },
        rule=(
            "records: {table: measurements, where: {test: creatinine}, window: 90d, "
            "pick: latest, op: '>', value: 2.0}"
        ),
        expected={"now_low": "fail", "now_high": "pass", "none": "unknown"},
    )


def test_any_lesion_with_a_bound_and_a_flag(spec):
    """Any lesion within 90 days of at least 2 cm that is not bone-contiguous: a lesion
    that is too small or bone-contiguous does not qualify; a large lesion whose contiguity
    is not recorded might (unknown); no lesion is false."""
    spec(
        tables={
            "lesions": LES
            + """
                big        | -10 | 3.0 | false
                small      | -10 | 1.0 | false
                bony       | -10 | 3.0 | true
                not_known  | -10 | 3.0 |
                old        | -91 | 3.0 | false
            """
        },
        rule=(
            "records: {table: lesions, where: {min: {longest_diameter_cm: 2.0}, "
            "flag: {bone_contiguous: false}}, window: 90d}"
        ),
        if_missing="fail",
        expected={
            "big": "pass",
            "small": "fail",
            "bony": "fail",
            "not_known": "unknown",
            "old": "fail",
            "none": "fail",
        },
    )


def test_any_as_an_exclusion_with_if_missing(spec):
    """Exclusion: any diagnosis of C90 ever. No diagnosis at all is the ``if_missing``
    status (pass); a C90.0 diagnosis (the dot removed, a prefix match) fails; one after the
    index is never used."""
    spec(
        tables={
            "diagnoses": "patient_id | code | diagnosed_on\n"
            + """
                myeloma    | C90.0 | -100
                later      | C90.0 | +1
                other      | E11   | -100
            """
        },
        rule="records: {table: diagnoses, where: {codes: [C90]}, window: ever}",
        section="exclusion",
        if_missing="pass",
        expected={"myeloma": "fail", "later": "pass", "other": "pass", "none": "pass"},
    )


def test_an_absent_table_is_unknown(spec):
    """Without a procedures file the count is not known: unknown for everyone."""
    spec(
        tables={},
        rule=RADIOTHERAPY_TWICE,
        absent=("procedures",),
        expected={"someone": "unknown"},
    )


def test_count_at_each_index_in_event_mode(spec):
    """Event mode: each line numbered >= 2 starting in the calendar window is an index,
    and the lines started within 400 days before each index (on it included) are counted
    there. At line 2's index (day -300): lines 1 (day -600) and 2: two, fewer than 3. At
    line 3's (day -50): lines 2 and 3 (line 1 is 550 days earlier): two, fewer than 3.
    With at least 2 both pass."""
    spec(
        tables={"therapies": LINES},
        criteria={
            "three": {
                "rule": "records: {table: therapies, window: 400d, pick: count, op: '>=', value: 3}"
            },
            "two": {
                "rule": "records: {table: therapies, window: 400d, pick: count, op: '>=', value: 2}"
            },
        },
        index=EVENTS,
        expected={
            ("two_lines", -300): {"three": "fail", "two": "pass"},
            ("two_lines", -50): {"three": "fail", "two": "pass"},
        },
    )


def test_largest_line_number_at_each_index(spec):
    """Event mode, ``max`` of therapies (their line_number): at line 2's index the largest
    line started on or before it is 2; at line 3's it is 3."""
    spec(
        tables={"therapies": LINES},
        rule="records: {table: therapies, window: ever, pick: max, op: '>=', value: 3}",
        index=EVENTS,
        expected={("two_lines", -300): "fail", ("two_lines", -50): "pass"},
    )


def test_undated_line_that_ended_before_the_index(spec):
    """Contract 5.1 (previously_treated): a line without a start date that ended before
    the index started before it, so it counts among the lines on or before the index; an
    undated line that has not ended might have started after the index (unknown)."""
    spec(
        tables={
            "therapies": """
                patient_id | line_number | regimen | start_date | end_date | investigational
                ended      | 1 | VRd | | -100 | false
                ended      | 2 | Kd  | -50 | | false
                open       | 1 | VRd | -100 | -60 | false
                open       | 2 | Kd  | | | false
            """
        },
        rule="records: {table: therapies, window: ever, pick: count, op: '>=', value: 2}",
        if_missing="fail",
        expected={"ended": "pass", "open": "unknown"},
    )
