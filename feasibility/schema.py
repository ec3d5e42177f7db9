"""The registry contract as data: tables, columns, types, vocabularies and unit conversions.

Everything here mirrors ``shared/contract.md`` section 1. The loader, the
generator, the validation suites and the screening engine all read these
constants, so a name lives in exactly one place. The measurement tests (units and
factors) and the assessment items are reviewed data files read by :mod:`feasibility.vocab`
(``vocab/lab_tests.yaml``, ``vocab/assessment_items.yaml``); ``TESTS``,
``ASSESSMENT_ITEMS`` and ``GRADED_ITEMS`` are views of them.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import yaml

from feasibility import vocab as _vocab

#: Column types per table, in contract order. Only ``patients`` is required.
TABLES: dict[str, dict[str, pl.DataType]] = {
    "patients": {
        "patient_id": pl.String(),
        "sex": pl.String(),
        "birth_date": pl.Date(),
        "race": pl.String(),
        "ethnicity": pl.String(),
        "site": pl.String(),
        "death_date": pl.Date(),
    },
    "diagnoses": {
        "patient_id": pl.String(),
        "code": pl.String(),
        "diagnosed_on": pl.Date(),
    },
    "measurements": {
        "patient_id": pl.String(),
        "test": pl.String(),
        "value": pl.Float64(),
        "unit": pl.String(),
        "measured_on": pl.Date(),
    },
    "assessments": {
        "patient_id": pl.String(),
        "item": pl.String(),
        "value": pl.String(),
        "assessed_on": pl.Date(),
    },
    "medications": {
        "patient_id": pl.String(),
        "drug": pl.String(),
        "route": pl.String(),
        "start_date": pl.Date(),
        "end_date": pl.Date(),
    },
    "procedures": {
        "patient_id": pl.String(),
        "category": pl.String(),
        "performed_on": pl.Date(),
    },
    "lesions": {
        "patient_id": pl.String(),
        "imaged_on": pl.Date(),
        "site": pl.String(),
        "longest_diameter_cm": pl.Float64(),
        "bone_contiguous": pl.Boolean(),
    },
    "therapies": {
        "patient_id": pl.String(),
        "line_number": pl.Int64(),
        "regimen": pl.String(),
        "start_date": pl.Date(),
        "end_date": pl.Date(),
        "investigational": pl.Boolean(),
    },
}

REQUIRED_TABLES: frozenset[str] = frozenset({"patients"})

#: Columns that may be null by contract; every other contract column must be present
#: in the file (it may still hold nulls, which data-quality validation reports).
NULLABLE: dict[str, frozenset[str]] = {
    "patients": frozenset({"race", "ethnicity", "site", "death_date"}),
    "medications": frozenset({"route", "end_date"}),
    "therapies": frozenset({"end_date"}),
}

#: The date column that places each event in time (used for windows and plausibility).
EVENT_DATE: dict[str, str] = {
    "diagnoses": "diagnosed_on",
    "measurements": "measured_on",
    "assessments": "assessed_on",
    "medications": "start_date",
    "procedures": "performed_on",
    "lesions": "imaged_on",
    "therapies": "start_date",
}

#: Tables with an interval: (start column, end column).
INTERVALS: dict[str, tuple[str, str]] = {
    "medications": ("start_date", "end_date"),
    "therapies": ("start_date", "end_date"),
}

SEX_CODES: frozenset[str] = frozenset({"F", "M", "U"})

#: Contract section 1's four categories, extended (never renamed) with `plasmapheresis`,
#: which ICARIA-MM names among the major procedures within 14 days (issue 11).
PROCEDURE_CATEGORIES: frozenset[str] = frozenset(
    {"major_surgery", "radiotherapy", "bone_marrow_biopsy", "other", "plasmapheresis"}
)

NON_SYSTEMIC_ROUTES: frozenset[str] = frozenset({"topical", "ophthalmic", "otic"})


@dataclass(frozen=True)
class Test:
    """A measurement test: its canonical unit and the factor from each accepted unit."""

    name: str
    canonical_unit: str
    factors: dict[str, float]  # accepted unit -> multiply by this to get canonical


#: The measurement tests, from the reviewed ``feasibility/vocab/lab_tests.yaml`` (in file
#: order): a view of :data:`feasibility.vocab.LAB_TESTS` keeping the historical shape.
TESTS: dict[str, Test] = {
    name: Test(name, t.canonical_unit, dict(t.units)) for name, t in _vocab.LAB_TESTS.items()
}


def unit_factor_frame() -> pl.DataFrame:
    """One row per (test, accepted unit) with the factor to the canonical unit."""
    rows = [
        (t.name, unit, factor, t.canonical_unit)
        for t in TESTS.values()
        for unit, factor in t.factors.items()
    ]
    return pl.DataFrame(
        rows,
        schema={
            "test": pl.String,
            "unit": pl.String,
            "factor": pl.Float64,
            "canonical_unit": pl.String,
        },
        orient="row",
    )


#: Assessment items and their allowed values (lower case; values compared case-insensitively),
#: from the reviewed ``feasibility/vocab/assessment_items.yaml`` (in file order).
ASSESSMENT_ITEMS: dict[str, tuple[str, ...]] = {
    name: item.values for name, item in _vocab.ASSESSMENT_ITEMS.items()
}

#: Items whose values are ordered whole-number grades (compared with <, <=, >=, >).
GRADED_ITEMS: frozenset[str] = frozenset(
    name for name, item in _vocab.ASSESSMENT_ITEMS.items() if item.graded
)

#: The reviewed drug-name vocabulary (contract 5.3): salt/form words and, per ingredient,
#: synonyms, brands, salts and prodrugs. Decisions and sources are written in the file.
DRUG_VOCABULARY_FILE = Path(__file__).parent / "codelists" / "drug_names.yaml"

_PUNCTUATION = r"[^\w\s]"
_WHITESPACE = r"\s+"


@functools.lru_cache(maxsize=1)
def _drug_vocabulary() -> tuple[str, dict[str, str]]:
    """(regex of trailing salt/form words, normalised spelling -> canonical ingredient)."""
    data = yaml.safe_load(DRUG_VOCABULARY_FILE.read_text(encoding="utf-8")) or {}
    words = [_basic(str(w)) for w in data.get("salt_and_form_words") or []]
    trailing = r"(?:\s(?:" + "|".join(re.escape(w) for w in sorted(set(words))) + r"))+$"
    mapping: dict[str, str] = {}
    for ingredient, meta in (data.get("ingredients") or {}).items():
        canon = " ".join(str(ingredient).strip().lower().split())
        meta = meta or {}
        spellings = [str(ingredient)]
        for kind in ("synonyms", "brands", "salts", "prodrugs"):
            spellings += [str(x) for x in meta.get(kind) or []]
        for spelling in spellings:
            key = _strip_trailing(_basic(spelling), trailing)
            if mapping.get(key, canon) != canon:
                raise ValueError(
                    f"{DRUG_VOCABULARY_FILE.name}: {spelling!r} names both "
                    f"{mapping[key]!r} and {canon!r}"
                )
            mapping[key] = canon
    return trailing, mapping


def _basic(name: str) -> str:
    """Steps 1-3 of the normalisation: lower case, punctuation removed, whitespace collapsed."""
    text = re.sub(_PUNCTUATION, "", name.lower().strip())
    return re.sub(_WHITESPACE, " ", text).strip()


def _strip_trailing(text: str, trailing: str) -> str:
    out = re.sub(trailing, "", text)
    return out if out else text


def _drug_key(name: str) -> str:
    return _strip_trailing(_basic(name), _drug_vocabulary()[0])


#: Every known spelling (normalised) -> canonical ingredient, read from DRUG_VOCABULARY_FILE.
#: Kept under its historical name for importers; the keys are normalised spellings.
DRUG_SYNONYMS: dict[str, str] = dict(_drug_vocabulary()[1])


def canonical_drug(name: str) -> str:
    """The one drug-name normaliser (contract 5.3), used by the loader, the engine and data
    quality: lower case, trim, punctuation removed, inner whitespace collapsed, trailing salt
    or form words dropped, then synonyms, brands, salts and prodrugs mapped to the ingredient
    (``"Dilantin"``, ``"phenytoin sodium"``, ``"fosphenytoin"`` -> ``"phenytoin"``). A name
    not in the vocabulary comes back normalised, never guessed. Idempotent."""
    key = _drug_key(name)
    return DRUG_SYNONYMS.get(key, key)


@functools.lru_cache(maxsize=1)
def _regimen_vocabulary() -> dict[str, frozenset[str]]:
    data = yaml.safe_load(DRUG_VOCABULARY_FILE.read_text(encoding="utf-8")) or {}
    return {
        _basic(str(name)): frozenset(canonical_drug(str(d)) for d in drugs or [])
        for name, drugs in (data.get("regimens") or {}).items()
    }


def regimen_ingredients(regimen: str | None) -> frozenset[str]:
    """The ingredients of a ``therapies.regimen`` text: the reviewed regimen table of
    ``drug_names.yaml`` (``"Dara-VRd"`` -> daratumumab, bortezomib, lenalidomide,
    dexamethasone), else every word (and the whole text) that is a known ingredient name,
    brand or synonym. Unknown words add nothing (never guessed)."""
    if regimen is None:
        return frozenset()
    key = _basic(regimen)
    table = _regimen_vocabulary()
    if key in table:
        return table[key]
    words = re.split(r"[^\w]+", regimen.lower())
    candidates = [regimen, *words, *(" ".join(p) for p in zip(words, words[1:], strict=False))]
    found = {DRUG_SYNONYMS[_drug_key(c)] for c in candidates if _drug_key(c) in DRUG_SYNONYMS}
    return frozenset(found)


def canonical_drug_expr(expr: pl.Expr) -> pl.Expr:
    """:func:`canonical_drug` as a polars expression on a String column (same result for every
    value; null stays null). Vectorised: regex replacements and one dictionary lookup."""
    trailing, mapping = _drug_vocabulary()
    basic = (
        expr.str.to_lowercase()
        .str.strip_chars()
        .str.replace_all(_PUNCTUATION, "")
        .str.replace_all(_WHITESPACE, " ")
        .str.strip_chars()
    )
    stripped = basic.str.replace(trailing, "")
    key = pl.when(stripped.str.len_chars() > 0).then(stripped).otherwise(basic)
    return key.replace(mapping)


def normalize_icd10(code: str) -> str:
    """ICD-10 as the engine compares it: no dot, no spaces, upper case (``c90.0`` -> ``C900``)."""
    return code.replace(".", "").replace(" ", "").strip().upper()
