"""Write the data-quality suites ``expectations/<table>.json`` from the contract constants.

Run ``python expectations/_build.py`` after changing ``feasibility/schema.py`` or
``feasibility/plausibility.py``; ``tests/test_quality_suites.py`` fails when the committed
JSON differs from what this script writes, so the suites, the loader's vocabularies and
the generator's plausible ranges cannot drift apart.

The suites are GX Core 1.x JSON (``gx.ExpectationSuite(**json.load(f))``). Every
expectation carries ``meta``:

* ``check``: a stable id (``table.field.rule[selector]``), the key of the summary row;
* ``category``: Kahn et al.'s harmonized data-quality category (``conformance``,
  ``completeness``, ``plausibility``; eGEMs 2016;4(1):1244);
* ``severity``: ``error`` (the data cannot be screened as it is), ``warning`` (rows are
  unusable or suspicious, the screen still runs), ``info`` (reported, no threshold);
* ``criteria``: ids of the criteria of protocol ``pomalidomide-ixazomib-dex`` that read
  the field (listed by hand below, contract section 3);
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

from feasibility.plausibility import AGE_RANGE, PLAUSIBLE_RANGES  # noqa: E402
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

PROTOCOL = "pomalidomide-ixazomib-dex"

# --------------------------------------------------------------------------- criteria
# Which criteria of pomalidomide-ixazomib-dex read which field (contract section 3).

ALL_CRITERIA = [
    "alive_at_index",
    "myeloma_diagnosis",
    "previously_treated",
    "measurable_disease",
    "extramedullary_disease",
    "plasma_cell_leukemia",
    "creatinine_clearance",
    "neutrophils",
    "platelets",
    "hemoglobin",
    "ecog",
    "pregnancy_test",
    "other_malignancy",
    "nursing",
    "concurrent_therapy",
    "peripheral_neuropathy",
    "major_surgery",
    "cyp_interacting_drugs",
    "cardiovascular",
    "qtc",
    "hiv",
    "hepatitis",
    "gi_absorption",
    "diarrhea",
]
PLASMA = ["measurable_disease", "plasma_cell_leukemia"]
TEST_CRITERIA: dict[str, list[str]] = {
    "creatinine": ["creatinine_clearance"],
    "weight": ["creatinine_clearance"],
    "anc": ["neutrophils"],
    "platelets": ["platelets"],
    "hemoglobin": ["hemoglobin"],
    "wbc": [],  # no criterion of this protocol reads wbc
    "plasma_cells_pct": PLASMA,
    "plasma_cells_abs": PLASMA,
    "plasma_cells_flow": PLASMA,
    "qtc": ["qtc"],
}
ITEM_CRITERIA: dict[str, list[str]] = {
    "ecog": ["ecog"],
    "neuropathy_grade": ["peripheral_neuropathy"],
    "neuropathy_pain": ["peripheral_neuropathy"],
    "diarrhea_grade": ["diarrhea"],
    "childbearing_potential": ["pregnancy_test"],
    "pregnancy_test": ["pregnancy_test"],
    "breastfeeding": ["nursing"],
}
TABLE_CRITERIA: dict[str, list[str]] = {
    "patients": ALL_CRITERIA,  # every criterion counts patients by patient_id
    "diagnoses": [
        "myeloma_diagnosis",
        "other_malignancy",
        "cardiovascular",
        "hiv",
        "hepatitis",
        "gi_absorption",
    ],
    "measurements": sorted({c for cs in TEST_CRITERIA.values() for c in cs}),
    "assessments": sorted({c for cs in ITEM_CRITERIA.values() for c in cs}),
    "medications": ["cyp_interacting_drugs"],
    "procedures": ["major_surgery"],
    "lesions": ["measurable_disease", "extramedullary_disease"],
    "therapies": ["previously_treated", "concurrent_therapy"],
}
PATIENT_FIELD_CRITERIA: dict[str, list[str]] = {
    "patient_id": ALL_CRITERIA,
    "sex": ["creatinine_clearance", "pregnancy_test"],
    "birth_date": ["creatinine_clearance"],
    "death_date": ["alive_at_index"],
    "race": [],
    "ethnicity": [],
    "site": [],
}
FIELD_CRITERIA: dict[tuple[str, str], list[str]] = {
    ("therapies", "investigational"): ["concurrent_therapy"],
    ("therapies", "line_number"): ["previously_treated"],
    ("therapies", "regimen"): [],
    ("therapies", "end_date"): ["concurrent_therapy"],
    ("medications", "end_date"): ["cyp_interacting_drugs"],
    ("medications", "route"): ["cyp_interacting_drugs"],
    ("lesions", "site"): [],
}

#: Default look-back windows (days before index) of the criteria that read each test or
#: item, contract section 3; None means "on or before index".
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

#: Missing-value tolerance of required fields before the check fails (the rows still count).
MOSTLY_REQUIRED = 0.99
MISSING_NOTE = "project default: up to 1% missing tolerated before the check fails"

ICD10_PATTERN = r"^[A-Z][0-9][0-9A-Z][0-9A-Z]{0,4}$"

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
    criteria: list[str],
    rationale: str,
    frame: str = "rows",
    condition: tuple[str, str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One expectation in GX JSON form with the project's meta."""
    kw = dict(kwargs)
    if condition is not None:
        kw["row_condition"] = _condition(*condition)
    meta = {
        "category": category,
        "check": check,
        "criteria": sorted(set(criteria)),
        "field": field,
        "frame": frame,
        "rationale": rationale,
        "severity": severity,
        **extra,
    }
    gx_severity = {"error": "critical", "warning": "warning", "info": "info"}[severity]
    return {"type": type_, "kwargs": kw, "meta": meta, "severity": gx_severity}


def _criteria(table: str, column: str) -> list[str]:
    if table == "patients":
        return PATIENT_FIELD_CRITERIA[column]
    return FIELD_CRITERIA.get((table, column), TABLE_CRITERIA[table])


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
            criteria=TABLE_CRITERIA[table],
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
                criteria=_criteria(table, column),
                rationale=f"contract section 1: {column} is {type(dtype).__name__.lower()}",
                frame="schema",
            )
        )
    return out


def null_checks(table: str) -> list[dict[str, Any]]:
    """Null rate per field: required fields fail above 1% missing, optional ones report."""
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
                    criteria=TABLE_CRITERIA[table],
                    rationale="a row without patient_id belongs to nobody; no tolerance",
                )
            )
        elif column not in nullable:
            out.append(
                expectation(
                    "expect_column_values_to_not_be_null",
                    {"column": column, "mostly": MOSTLY_REQUIRED},
                    check=f"{table}.{column}.not_null",
                    field=column,
                    category="completeness",
                    severity="warning",
                    criteria=_criteria(table, column),
                    rationale=f"contract: {column} is required; {MISSING_NOTE}",
                )
            )
        elif column in {"race", "ethnicity", "site"}:
            out.append(
                expectation(
                    "expect_column_values_to_not_be_null",
                    {"column": column, "mostly": 0.0},
                    check=f"{table}.{column}.not_null",
                    field=column,
                    category="completeness",
                    severity="info",
                    criteria=_criteria(table, column),
                    rationale="contract allows null; the null rate is reported, no threshold",
                )
            )
        # death_date, route and end_date: null carries meaning (alive, systemic, ongoing).
    return out


def event_checks(table: str) -> list[dict[str, Any]]:
    """Orphans, exact duplicates, event dates against birth, death and today, intervals."""
    ev = EVENT_DATE[table]
    crit = TABLE_CRITERIA[table]
    out = [
        expectation(
            "expect_column_values_to_be_in_set",
            {"column": "patient_known", "value_set": [True]},
            check=f"{table}.patient_id.in_patients",
            field="patient_id",
            category="plausibility",
            severity="warning",
            criteria=crit,
            rationale="every patient_id must exist in patients (Kahn: relational conformance); orphan rows screen nobody",
        ),
        expectation(
            "expect_column_values_to_be_null",
            {"column": "duplicate_of_row"},
            check=f"{table}.row.not_duplicate",
            field="*",
            category="plausibility",
            severity="warning",
            criteria=crit,
            rationale="contract section 2: exact duplicate rows count once; each copy is reported (Kahn: uniqueness plausibility)",
        ),
        expectation(
            "expect_column_values_to_be_between",
            {"column": f"{ev}_days_after_birth", "min_value": 0},
            check=f"{table}.{ev}.not_before_birth",
            field=ev,
            category="plausibility",
            severity="warning",
            criteria=crit,
            rationale="an event cannot precede the patient's birth_date (Kahn: temporal plausibility)",
        ),
        expectation(
            "expect_column_values_to_be_between",
            {"column": f"{ev}_days_before_death", "min_value": 0},
            check=f"{table}.{ev}.not_after_death",
            field=ev,
            category="plausibility",
            severity="warning",
            criteria=crit,
            rationale="an event cannot follow the patient's death_date (Kahn: temporal plausibility)",
        ),
        expectation(
            "expect_column_values_to_be_between",
            {"column": f"{ev}_days_before_today", "min_value": 0},
            check=f"{table}.{ev}.not_in_future",
            field=ev,
            category="plausibility",
            severity="warning",
            criteria=crit,
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
                criteria=_criteria(table, end),
                rationale=f"{start} <= {end}; an interval cannot end before it starts",
            )
        )
    return out


# --------------------------------------------------------------------------- per table


def patients() -> list[dict[str, Any]]:
    crit = PATIENT_FIELD_CRITERIA
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
            criteria=crit["patient_id"],
            rationale="contract section 1: patient_id is unique in patients (every occurrence of a repeated id counts)",
        ),
        expectation(
            "expect_column_values_to_be_in_set",
            {"column": "sex_key", "value_set": sorted(SEX_CODES)},
            check="patients.sex.vocabulary",
            field="sex",
            category="conformance",
            severity="warning",
            criteria=crit["sex"],
            rationale="contract: sex is F, M or U (compared trimmed, upper-cased, as the loader does)",
        ),
        expectation(
            "expect_column_values_to_be_between",
            {"column": "age_years", "min_value": low, "max_value": high},
            check="patients.birth_date.age_range",
            field="birth_date",
            category="plausibility",
            severity="warning",
            criteria=crit["birth_date"],
            rationale=f"age {low}-{high} years at the index date (else at death or today): feasibility.plausibility.AGE_RANGE",
        ),
        expectation(
            "expect_column_values_to_be_between",
            {"column": "birth_date_days_before_today", "min_value": 0},
            check="patients.birth_date.not_in_future",
            field="birth_date",
            category="plausibility",
            severity="warning",
            criteria=crit["birth_date"],
            rationale="a birth_date cannot lie after the day of validation",
        ),
        expectation(
            "expect_column_values_to_be_between",
            {"column": "death_date_days_after_birth", "min_value": 0},
            check="patients.death_date.not_before_birth",
            field="death_date",
            category="plausibility",
            severity="warning",
            criteria=crit["death_date"],
            rationale="death_date cannot precede birth_date (Kahn: temporal plausibility)",
        ),
        expectation(
            "expect_column_values_to_be_between",
            {"column": "death_date_days_before_today", "min_value": 0},
            check="patients.death_date.not_in_future",
            field="death_date",
            category="plausibility",
            severity="warning",
            criteria=crit["death_date"],
            rationale="a death_date cannot lie after the day of validation",
        ),
    ]


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
            criteria=TABLE_CRITERIA["diagnoses"],
            rationale="ICD-10-CM shape: letter, digit, alphanumeric, up to 4 more (after removing dot and spaces, upper case)",
        ),
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
            criteria=TABLE_CRITERIA["measurements"],
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
                criteria=TEST_CRITERIA[name],
                rationale=f"contract unit table: {name} accepts {', '.join(test.factors)}; other units make the value unusable",
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
                criteria=TEST_CRITERIA[name],
                rationale=f"{low:g}-{high:g} {unit} after unit conversion: feasibility.plausibility.PLAUSIBLE_RANGES",
            )
        )
    out += event_checks("measurements")
    for name in TESTS:
        if not TEST_CRITERIA[name]:
            continue
        days = TEST_WINDOWS[name]
        out.append(
            expectation(
                "expect_column_values_to_be_in_set",
                {"column": f"has_{name}", "value_set": [True], "mostly": 0.0},
                check=f"measurements.value.in_window[{name}]",
                field="value",
                category="completeness",
                severity="info",
                criteria=TEST_CRITERIA[name],
                rationale=f"share of patients with a usable {name} within {days} days before index (contract section 3); reported, no threshold",
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
            criteria=TABLE_CRITERIA["assessments"],
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
                criteria=ITEM_CRITERIA[item],
                rationale=f"contract: {item} takes {', '.join(values)} (case-insensitive)",
            )
        )
    out += event_checks("assessments")
    for item in ASSESSMENT_ITEMS:
        days = ITEM_WINDOWS[item]
        span = "on or before index" if days is None else f"within {days} days before index"
        out.append(
            expectation(
                "expect_column_values_to_be_in_set",
                {"column": f"has_{item}", "value_set": [True], "mostly": 0.0},
                check=f"assessments.value.in_window[{item}]",
                field="value",
                category="completeness",
                severity="info",
                criteria=ITEM_CRITERIA[item],
                rationale=f"share of patients with a usable {item} {span} (contract section 3); reported, no threshold",
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
            criteria=_criteria("medications", "route"),
            rationale="common routes (FDA route of administration list, subset) plus the contract's topical/ophthalmic/otic; others are read as systemic",
        ),
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
            criteria=TABLE_CRITERIA["procedures"],
            rationale="contract section 1 procedure categories (trimmed, lower-cased, as the loader does)",
        ),
        *event_checks("procedures"),
    ]


def lesions() -> list[dict[str, Any]]:
    return [
        *schema_checks("lesions"),
        *null_checks("lesions"),
        expectation(
            "expect_column_values_to_be_between",
            {"column": "longest_diameter_cm", "min_value": 0, "strict_min": True},
            check="lesions.longest_diameter_cm.positive",
            field="longest_diameter_cm",
            category="plausibility",
            severity="warning",
            criteria=TABLE_CRITERIA["lesions"],
            rationale="a measured lesion has a positive diameter (definition, no external threshold)",
        ),
        *event_checks("lesions"),
    ]


def therapies() -> list[dict[str, Any]]:
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
            criteria=_criteria("therapies", "line_number"),
            rationale="lines of therapy are numbered from 1 (definition, no external threshold)",
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
                criteria=TABLE_CRITERIA[table],
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


def suite_dict(name: str) -> dict[str, Any]:
    """The suite ``name`` as GX JSON (plain dict)."""
    return {
        "name": name,
        "expectations": SUITES[name](),
        "meta": {
            "protocol": PROTOCOL,
            "generated_by": "expectations/_build.py",
        },
        "notes": f"Data-quality checks for the {name} {'inventory' if name == 'registry' else 'table'} (contract section 1).",
    }


def render(name: str) -> str:
    """Pretty-printed, key-sorted JSON text of one suite (what is committed)."""
    return json.dumps(suite_dict(name), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> None:
    for name in SUITES:
        (HERE / f"{name}.json").write_text(render(name), encoding="utf-8")
        print(f"wrote expectations/{name}.json")


if __name__ == "__main__":
    main()
