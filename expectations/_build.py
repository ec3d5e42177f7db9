"""Write the data-quality suites ``expectations/<table>.json`` from the contract constants.

Run ``python expectations/_build.py`` after changing ``feasibility/vocab/*.yaml`` (a lab
test or an assessment item), ``feasibility/schema.py`` or ``feasibility/plausibility.py``; it also writes the package's copy
(``feasibility/quality/suites/``, what an installed ``feasibility`` reads).
``tests/test_quality_suites.py`` fails when the committed JSON (either copy) differs from what this script writes, so the suites, the loader's vocabularies and
the generator's plausible ranges cannot drift apart.

The suites are GX Core 1.x JSON (``gx.ExpectationSuite(**json.load(f))``). Every
expectation carries ``meta``:

* ``check``: a stable id (``table.field.rule[selector]``), the key of the summary row;
* ``category``: Kahn et al.'s harmonized data-quality category (``conformance``,
  ``completeness``, ``plausibility``; eGEMs 2016;4(1):1244);
* ``severity``: ``error`` (the data cannot be screened as it is), ``warning`` (rows are
  unusable or suspicious, the screen still runs), ``info`` (reported, no threshold);
* ``affects``: the fields (``[table, column, selector]``) its failing rows make unusable;
  the criteria reading them are found at run time from any protocol's rules
  (``feasibility/quality/links.py``), never listed here;
* ``title``: the readable name of a finding ("measurements dated after death");
* ``tolerance_pct``/``tolerance_source``: the share of failing rows tolerated before the
  check fails (GX ``mostly``) and where that number comes from (OHDSI DQD default, or a
  stated team decision); ``severity_source`` likewise;
* ``rationale``: one line, with the source of any threshold;
* ``field``: the registry column the check is about (some checks run on a column derived
  on the polars side, see ``feasibility/quality/prep.py``);
* ``frame``: ``rows`` (the raw table plus derived columns), ``schema`` (column names and
  types only), ``inventory`` (one row per contract table) or ``patient_window`` (one row
  per patient at the index date; only evaluated when an index date is given);
* ``window_days`` for ``patient_window`` checks (null: any date on or before index).

Row conditions use GX's ``Column(...) == value`` conditions; the runner evaluates them
on the polars side (one filtered batch per condition) instead of asking pandas to
filter tens of millions of rows once per expectation.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from feasibility.plausibility import (  # noqa: E402
    AGE_RANGE,
    LESION_DIAMETER_RANGE,
    PLAUSIBLE_RANGES,
)
from feasibility.quality.prep import FEMALE_ITEMS  # noqa: E402
from feasibility.schema import (  # noqa: E402
    ASSESSMENT_ITEMS,
    EVENT_DATE,
    INTERVALS,
    NON_SYSTEMIC_ROUTES,
    NULLABLE,
    PROCEDURE_CATEGORIES,
    SEX_CODES,
    TABLES,
    TESTS,
)

# --------------------------------------------------------------------------- fields
# A check names the registry fields its failing rows make unusable (``meta.affects``:
# ``[table, column, selector]``, ``*`` = any table or column, selector null = every test,
# item, code or drug). Which criteria read those fields is decided at run time from the
# protocol's own rules (feasibility/quality/links.py), for any protocol file.

ANY_PATIENT = [["*", "*", None]]


def _field(table: str, column: str = "*", selector: str | None = None) -> list[list[Any]]:
    return [[table, column, selector]]


def _affects(table: str, column: str) -> list[list[Any]]:
    """The fields a failing row of ``table.column`` makes unusable."""
    if column == "patient_id":
        return ANY_PATIENT if table == "patients" else _field(table)
    if table == "patients":
        return _field(table, column)
    if column == EVENT_DATE.get(table):
        return _field(table)  # an undatable row is unusable whatever it holds
    return _field(table, column)


# --------------------------------------------------------------------------- sources
# Tolerances and severities, each with its source (recorded in the check's meta).
DQD = (
    "OHDSI DataQualityDashboard inst/csv/OMOP_CDMv5.4_{level}.csv "
    "(github.com/OHDSI/DataQualityDashboard, commit 2f81ca9), {name} = {value}"
)
DQD_FIELD_1 = DQD.format(level="Field_Level", name="{check}Threshold", value="1 (%)")
DQD_CONCEPT_5 = DQD.format(level="Concept_Level", name="{check}Threshold", value="5 (%)")
DQD_ZERO = DQD.format(level="Field_Level", name="{check}Threshold", value="0 (%)")
TEAM = "team decision: {why}"

SEVERITY_SOURCE = {
    "error": TEAM.format(why="the data cannot be screened as it is (DQD: fatal)"),
    "warning": TEAM.format(why="rows are unusable or suspicious; the screen still runs"),
    "info": TEAM.format(why="a profile to read, no pass/fail threshold (DQD: characterization)"),
}


def tolerance(pct: float, source: str) -> dict[str, Any]:
    """``mostly`` kwarg and meta for a check tolerating ``pct`` percent of failing rows."""
    return {"mostly": None if pct == 0 else round(1 - pct / 100, 6), "pct": pct, "source": source}


#: Look-back windows (days before index) of the per-patient coverage profiles: the contract's
#: default for each test or item (section 3); None means "on or before index". They are
#: profiles only: criterion readiness uses each protocol's own windows.
TEST_WINDOWS: dict[str, int] = {t: 30 for t in TESTS} | {"weight": 90}
ITEM_WINDOWS: dict[str, int | None] = {
    "ecog": 30,
    "neuropathy_grade": 30,
    "neuropathy_pain": 30,
    "diarrhea_grade": 30,
    "childbearing_potential": None,
    "pregnancy_test": 7,
    "breastfeeding": 90,
}

#: Routes of administration recognised (FDA Route of Administration list, common subset,
#: plus the contract's non-systemic three). Others are read as systemic by the engine.
ROUTES = sorted(
    {
        "oral",
        "intravenous",
        "subcutaneous",
        "intramuscular",
        "sublingual",
        "transdermal",
        "inhalation",
        "nasal",
        "rectal",
        "vaginal",
        "intrathecal",
        "enteral",
    }
    | set(NON_SYSTEMIC_ROUTES)
)

#: Column types as GX's pandas engine reports them for Arrow-backed columns.
GX_TYPE = {"String": "str", "Date": "date", "Float64": "float", "Int64": "int", "Boolean": "bool"}

ICD10_PATTERN = r"^[A-Z][0-9][0-9A-Z][0-9A-Z]{0,4}$"

#: Fields whose null carries a meaning (contract section 1): profiled, never a defect.
NULL_MEANS = {
    ("patients", "death_date"): "alive",
    ("medications", "end_date"): "ongoing",
    ("medications", "route"): "systemic",
    ("therapies", "end_date"): "ongoing",
}

# --------------------------------------------------------------------------- helpers


def _condition(column: str, value: str) -> dict[str, Any]:
    return {"type": "comparison", "column": {"name": column}, "operator": "==", "parameter": value}


def expectation(
    type_: str,
    kwargs: dict[str, Any],
    *,
    check: str,
    field: str,
    category: str,
    severity: str,
    affects: list[list[Any]],
    rationale: str,
    title: str,
    tol: dict[str, Any] | None = None,
    frame: str = "rows",
    condition: tuple[str, str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One expectation in GX JSON form with the project's meta.

    ``title`` is the readable name a PI sees ("measurements dated after death");
    ``tol`` (from :func:`tolerance`) the share of failing rows tolerated and its source.
    """
    kw = dict(kwargs)
    tol = tol or tolerance(0, TEAM.format(why="no failing row is tolerated"))
    if tol["mostly"] is not None and "mostly" not in kw:
        kw["mostly"] = tol["mostly"]
    if condition is not None:
        kw["row_condition"] = _condition(*condition)
    meta = {
        "affects": affects,
        "category": category,
        "check": check,
        "field": field,
        "frame": frame,
        "rationale": rationale,
        "severity": severity,
        "severity_source": SEVERITY_SOURCE[severity],
        "title": title,
        "tolerance_pct": tol["pct"],
        "tolerance_source": tol["source"],
        **extra,
    }
    gx_severity = {"error": "critical", "warning": "warning", "info": "info"}[severity]
    return {"type": type_, "kwargs": kw, "meta": meta, "severity": gx_severity}


def _profile(pct: float = 100.0) -> dict[str, Any]:
    return tolerance(pct, TEAM.format(why="a profile: the share is reported, no threshold"))


# --------------------------------------------------------------------------- common checks


def schema_checks(table: str) -> list[dict[str, Any]]:
    """Contract columns present, each with the contract type (conformance)."""
    columns = list(TABLES[table])
    out = [
        expectation(
            "expect_table_columns_to_match_set",
            {"column_set": columns, "exact_match": False},
            check=f"{table}.columns",
            field="*",
            category="conformance",
            severity="error",
            affects=ANY_PATIENT if table == "patients" else _field(table),
            title=f"{table}: contract columns present",
            rationale="contract section 1: every contract column is present (extra columns are kept and ignored)",
            frame="schema",
        )
    ]
    for column, dtype in TABLES[table].items():
        out.append(
            expectation(
                "expect_column_values_to_be_of_type",
                {"column": column, "type_": GX_TYPE[type(dtype).__name__]},
                check=f"{table}.{column}.type",
                field=column,
                category="conformance",
                severity="error",
                affects=_affects(table, column),
                title=f"{table}.{column} has the contract type",
                rationale=f"contract section 1: {column} is {type(dtype).__name__.lower()}",
                frame="schema",
            )
        )
    return out


def null_checks(table: str) -> list[dict[str, Any]]:
    """Null rate per field: required fields fail above 1% missing, optional ones report,
    and fields whose null means something are profiled with that meaning."""
    out = []
    nullable = NULLABLE.get(table, frozenset())
    for column in TABLES[table]:
        if column == "patient_id":
            out.append(
                expectation(
                    "expect_column_values_to_not_be_null",
                    {"column": column},
                    check=f"{table}.patient_id.not_null",
                    field=column,
                    category="completeness",
                    severity="error",
                    affects=_affects(table, column),
                    title=f"{table} rows without a patient_id",
                    tol=tolerance(0, DQD_ZERO.format(check="isRequired")),
                    rationale="a row without patient_id belongs to nobody",
                )
            )
        elif column not in nullable:
            out.append(
                expectation(
                    "expect_column_values_to_not_be_null",
                    {"column": column},
                    check=f"{table}.{column}.not_null",
                    field=column,
                    category="completeness",
                    severity="warning",
                    affects=_affects(table, column),
                    title=f"{table} rows with {column} missing",
                    tol=tolerance(
                        1,
                        TEAM.format(
                            why="1% missing tolerated in a required field (DQD isRequired "
                            "tolerates 0%; registries are not CDM-conformant extracts)"
                        ),
                    ),
                    rationale=f"contract: {column} is required; the row cannot be used without it",
                )
            )
        elif (table, column) in NULL_MEANS:
            means = NULL_MEANS[(table, column)]
            out.append(
                expectation(
                    "expect_column_values_to_not_be_null",
                    {"column": column},
                    check=f"{table}.{column}.null_means_{means}",
                    field=column,
                    category="completeness",
                    severity="info",
                    affects=_affects(table, column),
                    title=f"{table}.{column} empty, read as {means}",
                    tol=_profile(),
                    rationale=f"contract section 1: {column} null means {means}; the share read that way is profiled (DQD measureValueCompleteness, characterization)",
                    null_means=means,
                )
            )
        else:
            out.append(
                expectation(
                    "expect_column_values_to_not_be_null",
                    {"column": column},
                    check=f"{table}.{column}.not_null",
                    field=column,
                    category="completeness",
                    severity="info",
                    affects=_affects(table, column),
                    title=f"{table}.{column} empty",
                    tol=_profile(),
                    rationale="contract allows null; the null rate is reported, no threshold",
                )
            )
    return out


def event_checks(table: str) -> list[dict[str, Any]]:
    """Orphans, exact duplicates, event dates against birth, death and today, intervals."""
    ev = EVENT_DATE[table]
    whole = _field(table)
    out = [
        expectation(
            "expect_column_values_to_be_in_set",
            {"column": "patient_known", "value_set": [True]},
            check=f"{table}.patient_id.in_patients",
            field="patient_id",
            category="plausibility",
            severity="warning",
            affects=whole,
            title=f"{table} rows of patients not in patients",
            tol=tolerance(0, DQD_ZERO.format(check="isForeignKey")),
            rationale="every patient_id must exist in patients (Kahn: relational conformance); orphan rows screen nobody",
        ),
        expectation(
            "expect_column_values_to_be_null",
            {"column": "duplicate_of_row"},
            check=f"{table}.row.not_duplicate",
            field="*",
            category="plausibility",
            severity="warning",
            affects=whole,
            title=f"{table} rows repeated exactly",
            tol=tolerance(0, DQD_ZERO.format(check="isPrimaryKey")),
            rationale="contract section 2: exact duplicate rows count once; each copy is reported (Kahn: uniqueness plausibility)",
        ),
        expectation(
            "expect_column_values_to_be_between",
            {"column": f"{ev}_days_after_birth", "min_value": 0},
            check=f"{table}.{ev}.not_before_birth",
            field=ev,
            category="plausibility",
            severity="warning",
            affects=whole,
            title=f"{table} dated before birth",
            tol=tolerance(1, DQD_FIELD_1.format(check="plausibleAfterBirth")),
            rationale="an event cannot precede the patient's birth_date (Kahn: temporal plausibility)",
        ),
        expectation(
            "expect_column_values_to_be_between",
            {"column": f"{ev}_days_before_death", "min_value": 0},
            check=f"{table}.{ev}.not_after_death",
            field=ev,
            category="plausibility",
            severity="warning",
            affects=whole,
            title=f"{table} dated after death",
            tol=tolerance(1, DQD_FIELD_1.format(check="plausibleBeforeDeath")),
            rationale="an event cannot follow the patient's death_date (Kahn: temporal plausibility)",
        ),
        expectation(
            "expect_column_values_to_be_between",
            {"column": f"{ev}_days_before_today", "min_value": 0},
            check=f"{table}.{ev}.not_in_future",
            field=ev,
            category="plausibility",
            severity="warning",
            affects=whole,
            title=f"{table} dated in the future",
            tol=tolerance(1, DQD_FIELD_1.format(check="plausibleDuringLife")),
            rationale="a recorded event cannot lie after the day of validation",
        ),
    ]
    if table in INTERVALS:
        start, end = INTERVALS[table]
        out.append(
            expectation(
                "expect_column_values_to_be_between",
                {"column": "days_start_to_end", "min_value": 0},
                check=f"{table}.{end}.not_before_start",
                field=end,
                category="plausibility",
                severity="warning",
                affects=_field(table, end) + _field(table, start),
                title=f"{table} ending before they start",
                tol=tolerance(1, DQD_FIELD_1.format(check="plausibleStartBeforeEnd")),
                rationale=f"{start} <= {end}; an interval cannot end before it starts",
            )
        )
    return out


# --------------------------------------------------------------------------- per table


def patients() -> list[dict[str, Any]]:
    low, high = AGE_RANGE
    return [
        *schema_checks("patients"),
        *null_checks("patients"),
        expectation(
            "expect_column_values_to_be_unique",
            {"column": "patient_id"},
            check="patients.patient_id.unique",
            field="patient_id",
            category="plausibility",
            severity="error",
            affects=ANY_PATIENT,
            title="patient_id repeated in patients",
            tol=tolerance(0, DQD_ZERO.format(check="isPrimaryKey")),
            rationale="contract section 1: patient_id is unique in patients (every occurrence of a repeated id counts)",
        ),
        expectation(
            "expect_column_values_to_be_in_set",
            {"column": "sex_key", "value_set": sorted(SEX_CODES)},
            check="patients.sex.vocabulary",
            field="sex",
            category="conformance",
            severity="warning",
            affects=_affects("patients", "sex"),
            title="sex outside F/M/U",
            rationale="contract: sex is F, M or U (compared trimmed, upper-cased, as the loader does)",
        ),
        expectation(
            "expect_column_values_to_be_between",
            {"column": "age_years", "min_value": low, "max_value": high},
            check="patients.birth_date.age_range",
            field="birth_date",
            category="plausibility",
            severity="warning",
            affects=_affects("patients", "birth_date"),
            title=f"age outside {low}-{high} years",
            tol=tolerance(1, DQD_FIELD_1.format(check="plausibleValueLow")),
            rationale=f"age {low}-{high} years at the index date (else at death or today): feasibility.plausibility.AGE_RANGE",
        ),
        expectation(
            "expect_column_values_to_be_between",
            {"column": "birth_date_days_before_today", "min_value": 0},
            check="patients.birth_date.not_in_future",
            field="birth_date",
            category="plausibility",
            severity="warning",
            affects=_affects("patients", "birth_date"),
            title="birth dates in the future",
            rationale="a birth_date cannot lie after the day of validation",
        ),
        expectation(
            "expect_column_values_to_be_between",
            {"column": "death_date_days_after_birth", "min_value": 0},
            check="patients.death_date.not_before_birth",
            field="death_date",
            category="plausibility",
            severity="warning",
            affects=_affects("patients", "death_date"),
            title="death dated before birth",
            tol=tolerance(1, DQD_FIELD_1.format(check="plausibleAfterBirth")),
            rationale="death_date cannot precede birth_date (Kahn: temporal plausibility)",
        ),
        expectation(
            "expect_column_values_to_be_between",
            {"column": "death_date_days_before_today", "min_value": 0},
            check="patients.death_date.not_in_future",
            field="death_date",
            category="plausibility",
            severity="warning",
            affects=_affects("patients", "death_date"),
            title="death dates in the future",
            rationale="a death_date cannot lie after the day of validation",
        ),
    ]


def _near_miss(table: str, column: str, what: str) -> dict[str, Any]:
    return expectation(
        "expect_column_values_to_be_null",
        {"column": f"{column}_near_miss"},
        check=f"{table}.{column}.near_miss",
        field=column,
        category="conformance",
        severity="warning",
        affects=_field(table, column),
        title=f"{what} nearly matching a listed one (misspelt?)",
        rationale=(
            f"a {what} within a small edit distance of one on a code/drug list but matching none "
            "is likely a misspelling the screen silently misses (feasibility.quality.nearmiss; "
            "the near value is named in the examples)"
        ),
        tol=tolerance(
            0,
            TEAM.format(
                why="no near miss tolerated: a listed value read as absent flips an exclusion "
                "to pass; DQD's sourceValueCompleteness tolerates 10% of unmapped source "
                "values, too lax for listed values"
            )
            + "; cf. "
            + DQD.format(
                level="Field_Level", name="sourceValueCompletenessThreshold", value="10 (%)"
            ),
        ),
    )


def _sex_plausible(table: str, what: str) -> dict[str, Any]:
    return expectation(
        "expect_column_values_to_be_in_set",
        {"column": "sex_plausible", "value_set": [True]},
        check=f"{table}.sex.plausible",
        field="patient_id",
        category="plausibility",
        severity="warning",
        affects=(
            [["assessments", "value", i] for i in FEMALE_ITEMS]
            if table == "assessments"
            else _field(table, "code")
        )
        + _field("patients", "sex"),
        title=f"{what} recorded for men",
        tol=tolerance(5, DQD_CONCEPT_5.format(check="plausibleGender")),
        rationale="female-only records (pregnancy, childbearing potential, breastfeeding; ICD-10 O00-O9A, Z32-Z36, Z3A) for a patient of sex M (DQD plausibleGender)",
    )


def diagnoses() -> list[dict[str, Any]]:
    return [
        *schema_checks("diagnoses"),
        *null_checks("diagnoses"),
        expectation(
            "expect_column_values_to_match_regex",
            {"column": "code_key", "regex": ICD10_PATTERN},
            check="diagnoses.code.icd10_pattern",
            field="code",
            category="conformance",
            severity="warning",
            affects=_affects("diagnoses", "code"),
            title="diagnosis codes not shaped like ICD-10-CM",
            rationale="ICD-10-CM shape: letter, digit, alphanumeric, up to 4 more (after removing dot and spaces, upper case)",
        ),
        _near_miss("diagnoses", "code", "diagnosis code"),
        _sex_plausible("diagnoses", "pregnancy diagnoses"),
        *event_checks("diagnoses"),
    ]


def measurements() -> list[dict[str, Any]]:
    out = [
        *schema_checks("measurements"),
        *null_checks("measurements"),
        expectation(
            "expect_column_values_to_be_in_set",
            {"column": "test_key", "value_set": sorted(TESTS)},
            check="measurements.test.vocabulary",
            field="test",
            category="conformance",
            severity="warning",
            affects=_field("measurements", "value"),
            title="measurements of a test outside the vocabulary",
            rationale="contract section 1 test vocabulary (trimmed, lower-cased, as the loader does)",
        ),
    ]
    for name, test in TESTS.items():
        out.append(
            expectation(
                "expect_column_values_to_be_in_set",
                {"column": "unit_key", "value_set": sorted(test.factors)},
                check=f"measurements.unit.accepted[{name}]",
                field="unit",
                condition=("test_key", name),
                category="conformance",
                severity="warning",
                affects=_field("measurements", "value", name),
                title=f"{name} in a unit that cannot be converted",
                tol=tolerance(5, DQD_CONCEPT_5.format(check="plausibleUnitConceptIds")),
                rationale=f"contract unit table: {name} accepts {', '.join(test.factors)}; other units make the value unusable",
                selector=name,
            )
        )
    for name in TESTS:
        low, high = PLAUSIBLE_RANGES[name]
        unit = TESTS[name].canonical_unit
        out.append(
            expectation(
                "expect_column_values_to_be_between",
                {"column": "value_canonical", "min_value": low, "max_value": high},
                check=f"measurements.value.plausible[{name}]",
                field="value",
                condition=("test_key", name),
                category="plausibility",
                severity="warning",
                affects=_field("measurements", "value", name),
                title=f"{name} outside {low:g}-{high:g} {unit}",
                tol=tolerance(5, DQD_CONCEPT_5.format(check="plausibleValueLow")),
                rationale=f"{low:g}-{high:g} {unit} after unit conversion: feasibility.plausibility.PLAUSIBLE_RANGES",
                selector=name,
            )
        )
    out += event_checks("measurements")
    for name in TESTS:
        days = TEST_WINDOWS[name]
        out.append(
            expectation(
                "expect_column_values_to_be_in_set",
                {"column": f"has_{name}", "value_set": [True]},
                check=f"measurements.value.in_window[{name}]",
                field="value",
                category="completeness",
                severity="info",
                affects=_field("measurements", "value", name),
                title=f"patients without a usable {name} in the {days} days before index",
                tol=_profile(),
                rationale=f"share of patients with a usable {name} within {days} days before index (contract default window; criterion readiness uses each protocol's own)",
                frame="patient_window",
                selector=name,
                window_days=days,
            )
        )
    return out


def assessments() -> list[dict[str, Any]]:
    out = [
        *schema_checks("assessments"),
        *null_checks("assessments"),
        expectation(
            "expect_column_values_to_be_in_set",
            {"column": "item_key", "value_set": sorted(ASSESSMENT_ITEMS)},
            check="assessments.item.vocabulary",
            field="item",
            category="conformance",
            severity="warning",
            affects=_field("assessments", "value"),
            title="assessments of an item outside the vocabulary",
            rationale="contract section 1 assessment items (trimmed, lower-cased, as the loader does)",
        ),
    ]
    for item, values in ASSESSMENT_ITEMS.items():
        out.append(
            expectation(
                "expect_column_values_to_be_in_set",
                {"column": "value_key", "value_set": list(values)},
                check=f"assessments.value.vocabulary[{item}]",
                field="value",
                condition=("item_key", item),
                category="conformance",
                severity="warning",
                affects=_field("assessments", "value", item),
                title=f"{item} with a value outside {', '.join(values)}",
                rationale=f"contract: {item} takes {', '.join(values)} (case-insensitive)",
                selector=item,
            )
        )
    out.append(_sex_plausible("assessments", "pregnancy, childbearing or breastfeeding records"))
    out += event_checks("assessments")
    for item in ASSESSMENT_ITEMS:
        days = ITEM_WINDOWS[item]
        span = "on or before index" if days is None else f"in the {days} days before index"
        out.append(
            expectation(
                "expect_column_values_to_be_in_set",
                {"column": f"has_{item}", "value_set": [True]},
                check=f"assessments.value.in_window[{item}]",
                field="value",
                category="completeness",
                severity="info",
                affects=_field("assessments", "value", item),
                title=f"patients without a usable {item} {span}",
                tol=_profile(),
                rationale=f"share of patients with a usable {item} {span} (contract default window; criterion readiness uses each protocol's own)",
                frame="patient_window",
                selector=item,
                window_days=days,
            )
        )
    return out


def medications() -> list[dict[str, Any]]:
    return [
        *schema_checks("medications"),
        *null_checks("medications"),
        expectation(
            "expect_column_values_to_be_in_set",
            {"column": "route_key", "value_set": ROUTES},
            check="medications.route.vocabulary",
            field="route",
            category="conformance",
            severity="info",
            affects=_affects("medications", "route"),
            title="routes outside the known list (read as systemic)",
            tol=_profile(),
            rationale="common routes (FDA route of administration list, subset) plus the contract's topical/ophthalmic/otic; others are read as systemic",
        ),
        _near_miss("medications", "drug", "drug name"),
        *event_checks("medications"),
    ]


def procedures() -> list[dict[str, Any]]:
    return [
        *schema_checks("procedures"),
        *null_checks("procedures"),
        expectation(
            "expect_column_values_to_be_in_set",
            {"column": "category_key", "value_set": sorted(PROCEDURE_CATEGORIES)},
            check="procedures.category.vocabulary",
            field="category",
            category="conformance",
            severity="warning",
            affects=_affects("procedures", "category"),
            title="procedure categories outside the vocabulary",
            rationale="contract section 1 procedure categories (trimmed, lower-cased, as the loader does)",
        ),
        *event_checks("procedures"),
    ]


def lesions() -> list[dict[str, Any]]:
    low, high = LESION_DIAMETER_RANGE
    return [
        *schema_checks("lesions"),
        *null_checks("lesions"),
        expectation(
            "expect_column_values_to_be_between",
            {
                "column": "longest_diameter_cm",
                "min_value": low,
                "max_value": high,
                "strict_min": True,
            },
            check="lesions.longest_diameter_cm.plausible",
            field="longest_diameter_cm",
            category="plausibility",
            severity="warning",
            affects=_affects("lesions", "longest_diameter_cm"),
            title=f"lesion diameters outside ({low:g}, {high:g}] cm",
            tol=tolerance(1, DQD_FIELD_1.format(check="plausibleValueHigh")),
            rationale="a measured lesion has a positive diameter up to 50 cm (contract 5.2; feasibility.plausibility.LESION_DIAMETER_RANGE)",
        ),
        *event_checks("lesions"),
    ]


def therapies() -> list[dict[str, Any]]:
    seq_tol = tolerance(
        5,
        TEAM.format(
            why="5% of lines tolerated, as DQD's concept-level default; registries often miss "
            "a line given elsewhere"
        ),
    )
    return [
        *schema_checks("therapies"),
        *null_checks("therapies"),
        expectation(
            "expect_column_values_to_be_between",
            {"column": "line_number", "min_value": 1},
            check="therapies.line_number.positive",
            field="line_number",
            category="plausibility",
            severity="warning",
            affects=_affects("therapies", "line_number"),
            title="therapy lines numbered below 1",
            rationale="lines of therapy are numbered from 1 (definition, no external threshold)",
        ),
        expectation(
            "expect_column_values_to_be_null",
            {"column": "line_gap"},
            check="therapies.line_number.sequence_gap",
            field="line_number",
            category="plausibility",
            severity="warning",
            affects=_field("therapies", "line_number") + _field("therapies", "start_date"),
            title="therapy lines skipping a number (e.g. line 1 then line 3)",
            tol=seq_tol,
            rationale="a patient's lines run 1, 2, 3...; a skipped number means a line is missing (the row of the line after the gap is flagged; its previous line in the examples)",
        ),
        expectation(
            "expect_column_values_to_be_null",
            {"column": "line_overlap"},
            check="therapies.start_date.line_overlap",
            field="start_date",
            category="plausibility",
            severity="warning",
            affects=_field("therapies", "start_date") + _field("therapies", "end_date"),
            title="therapy lines starting before the previous line ended",
            tol=seq_tol,
            rationale="line n+1 starts after line n ends; an overlap suggests a mis-dated or mis-numbered line (the later line's row is flagged)",
        ),
        *event_checks("therapies"),
    ]


def registry() -> list[dict[str, Any]]:
    """One check per contract table on the inventory frame: is the table present?"""
    out = []
    for table in TABLES:
        required = table == "patients"
        out.append(
            expectation(
                "expect_column_values_to_be_in_set",
                {"column": "present", "value_set": [True]},
                check=f"registry.{table}.present",
                field=table,
                condition=("table", table),
                category="completeness",
                severity="error" if required else "warning",
                affects=ANY_PATIENT if required else _field(table),
                title=f"{table} table supplied",
                rationale=(
                    "contract section 1: patients is required"
                    if required
                    else "contract section 1: an absent table means its facts are unknown for everyone"
                ),
                frame="inventory",
            )
        )
    return out


SUITES = {
    "registry": registry,
    "patients": patients,
    "diagnoses": diagnoses,
    "measurements": measurements,
    "assessments": assessments,
    "medications": medications,
    "procedures": procedures,
    "lesions": lesions,
    "therapies": therapies,
}

#: The installed copy: the package ships the suites (``feasibility/quality/suites/``).
PACKAGE_COPY = HERE.parent / "feasibility" / "quality" / "suites"


def suite_dict(name: str) -> dict[str, Any]:
    """The suite ``name`` as GX JSON (plain dict)."""
    return {
        "name": name,
        "expectations": SUITES[name](),
        "meta": {"generated_by": "expectations/_build.py"},
        "notes": f"Data-quality checks for the {name} {'inventory' if name == 'registry' else 'table'} (contract section 1).",
    }


def render(name: str) -> str:
    """Pretty-printed, key-sorted JSON text of one suite (what is committed)."""
    return json.dumps(suite_dict(name), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> None:
    PACKAGE_COPY.mkdir(parents=True, exist_ok=True)
    for name in SUITES:
        text = render(name)
        (HERE / f"{name}.json").write_text(text, encoding="utf-8")
        (PACKAGE_COPY / f"{name}.json").write_text(text, encoding="utf-8")
        print(f"wrote expectations/{name}.json and its package copy")


if __name__ == "__main__":
    main()
