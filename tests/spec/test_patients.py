"""Rules on the patients table: ``alive``, ``age`` and ``sex``."""

PATIENTS = "patient_id | sex | birth_date | death_date\n"


def test_alive(spec):
    """Alive at index: death_date null or after index (contract 3). A death date before the
    birth date is impossible and decides nothing (contract 5.2): unknown."""
    spec(
        tables={
            "patients": PATIENTS
            + """
                no_death    | F | 1960-01-01 |
                dies_later  | F | 1960-01-01 | +1
                died_on_idx | M | 1960-01-01 | 0
                died_before | M | 1960-01-01 | -100
                impossible  | M | 1960-01-01 | 1959-12-31
            """
        },
        rule="alive: {}",
        if_missing="pass",
        expected={
            "no_death": "pass",
            "dies_later": "pass",
            "died_on_idx": "fail",
            "died_before": "fail",
            "impossible": "unknown",
        },
    )


def test_age_in_whole_years(spec):
    """Age >= 18: whole years between birth_date and index (contract 2); the 18th birthday
    on the index counts, the day after does not. A birth date after the index is impossible
    (contract 5.2): unknown."""
    spec(
        tables={
            "patients": PATIENTS
            + """
                birthday_on_idx | F | 2006-06-30 |
                birthday_after  | F | 2006-07-01 |
                old             | M | 1940-01-01 |
                born_after_idx  | M | 2024-07-01 |
            """
        },
        rule="age: {op: '>=', value: 18}",
        expected={
            "birthday_on_idx": "pass",
            "birthday_after": "fail",
            "old": "pass",
            "born_after_idx": "unknown",
        },
    )


def test_age_on_the_index_date_itself(spec):
    """Born on the index date: age 0 (known, not unknown)."""
    spec(
        tables={"patients": PATIENTS + "newborn | F | 2024-06-30 |"},
        rule="age: {op: '<', value: 1}",
        expected={"newborn": "pass"},
    )


def test_sex(spec):
    """Sex in [F]: F passes, M fails (values trimmed and upper-cased by the loader). Sex U,
    or a value outside F/M/U, is evaluated both ways (contract 5.1): as F it passes, as M
    it fails, so unknown."""
    spec(
        tables={
            "patients": PATIENTS
            + """
                woman   | F | 1960-01-01 |
                man     | M | 1960-01-01 |
                lower   | f | 1960-01-01 |
                unknown | U | 1960-01-01 |
                other   | X | 1960-01-01 |
            """
        },
        rule="sex: {in: [F]}",
        expected={
            "woman": "pass",
            "man": "fail",
            "lower": "pass",
            "unknown": "unknown",
            "other": "unknown",
        },
    )


def test_sex_u_passes_when_both_ways_pass(spec):
    """Contract 5.1: a criterion that reads sex passes if it passes as F and as M: sex in
    [F, M] passes for sex U."""
    spec(
        tables={"patients": PATIENTS + "u | U | 1960-01-01 |"},
        rule="sex: {in: [F, M]}",
        expected={"u": "pass"},
    )
