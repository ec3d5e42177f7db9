"""``medication``: an exposure to a listed drug with start_date <= index and end_date null
or >= index - overlap_days; only systemic routes (null = systemic; topical, ophthalmic and
otic are not). Drug names match after normalisation, synonyms and brands (contract 1,
5.3). An absent record means no exposure."""

MED = "patient_id | drug | route | start_date | end_date\n"
CYP = "medication: {drugs: cyp_interacting_drugs, overlap_days: 7, systemic_only: true}"


def test_overlap_with_the_seven_days_before_index(spec):
    """Exclusion cyp_interacting_drugs: fail on a listed drug started on or before index
    and not ended more than 7 days before it."""
    spec(
        tables={
            "medications": MED
            + """
                ongoing      | fluvoxamine  | oral |  -100 |
                ended_d7     | rifampin     | oral |  -100 | -7
                ended_d8     | rifampin     | oral |  -100 | -8
                starts_index | phenytoin    | oral |  0    |
                starts_after | phenytoin    | oral |  +1   |
                unlisted     | acetaminophen| oral |  -5   |
            """
        },
        rule=CYP,
        section="exclusion",
        if_missing="pass",
        expected={
            "ongoing": "fail",
            "ended_d7": "fail",
            "ended_d8": "pass",
            "starts_index": "fail",
            "starts_after": "pass",
            "unlisted": "pass",
            "none": "pass",
        },
    )


def test_routes(spec):
    """Only systemic exposure counts: a null route is systemic; topical, ophthalmic and
    otic (any case) are not."""
    spec(
        tables={
            "medications": MED
            + """
                no_route   | ketoconazole |            | -3 |
                topical    | ketoconazole | Topical    | -3 |
                ophthalmic | ciprofloxacin| ophthalmic | -3 |
                iv         | ciprofloxacin| IV         | -3 |
            """
        },
        rule=CYP,
        section="exclusion",
        if_missing="pass",
        expected={"no_route": "fail", "topical": "pass", "ophthalmic": "pass", "iv": "fail"},
    )


def test_drug_names_synonyms_and_brands(spec):
    """Contract 1 and 5.3: names match after case-folding, trimming and removing
    punctuation, with a trailing salt or form word dropped, synonyms and brands mapped to
    their ingredient, and fosphenytoin counted as phenytoin."""
    spec(
        tables={
            "medications": MED
            + """
                wort      | ST. JOHNS WORT          | oral | -3 |
                rifampicin| Rifampicin              | oral | -3 |
                salt      | ciprofloxacin hydrochloride | oral | -3 |
                brand     | Tegretol                | oral | -3 |
                prodrug   | fosphenytoin            | iv   | -3 |
                ginkgo    | Gingko Biloba           | oral | -3 |
            """
        },
        rule=CYP,
        section="exclusion",
        if_missing="pass",
        expected={
            "wort": "fail",
            "rifampicin": "fail",
            "salt": "fail",
            "brand": "fail",
            "prodrug": "fail",
            "ginkgo": "fail",
        },
    )


def test_prior_exposure_started_before_index(spec):
    """Prior lenalidomide: any systemic exposure started strictly before the index, ended or
    not (``overlap_days: ever``, ``started_before_index``); a start on the index day
    belongs to the new treatment."""
    spec(
        tables={
            "medications": MED
            + """
                long_ago   | Revlimid     | oral | -2000 | -1900
                on_index   | lenalidomide | oral | 0     |
                yesterday  | lenalidomide | oral | -1    |
            """
        },
        rule=(
            "medication: {drugs: lenalidomide, overlap_days: ever, systemic_only: true, "
            "started_before_index: true}"
        ),
        if_missing="fail",
        expected={"long_ago": "pass", "on_index": "fail", "yesterday": "pass", "none": "fail"},
    )


def test_any_route_when_not_systemic_only(spec):
    """With ``systemic_only: false`` a topical exposure counts too."""
    spec(
        tables={"medications": MED + "topical | ketoconazole | topical | -3 |"},
        rule="medication: {drugs: cyp_interacting_drugs, overlap_days: 7, systemic_only: false}",
        expected={"topical": "pass"},
    )
