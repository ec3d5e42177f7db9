"""Reviewed vocabularies as data (issue 11 points 2 and 3): the one drug-name normaliser,
the regimen table, and the plausible-range table every criterion's numeric field uses."""

from __future__ import annotations

import math
from pathlib import Path

import polars as pl
import pytest
import yaml

from feasibility import plausibility, vocab
from feasibility.plausibility import (
    AGE_RANGE,
    FIELD_RANGES,
    LESION_DIAMETER_RANGE,
    PLAUSIBLE_RANGES,
    is_plausible,
)
from feasibility.protocol import (
    Age,
    CockcroftGault,
    Latest,
    Lesion,
    available_protocols,
    leaves,
    load_codelists,
    load_protocol,
)
from feasibility.schema import (
    DRUG_SYNONYMS,
    DRUG_VOCABULARY_FILE,
    TESTS,
    canonical_drug,
    canonical_drug_expr,
    regimen_ingredients,
)

NAMES = [
    "St John's Wort",
    "ST. JOHNS WORT",
    "st johns wort",
    "  st.\tjohn's   wort ",
    "ciprofloxacin hydrochloride",
    "Ciprofloxacin HCl ER",
    "phenytoin sodium",
    "clarithromycin ER",
    "Tegretol XR",
    "fosphenytoin",
    "primidone",
    "Mysoline",
    "Dilantin",
    "ixazomib citrate",
    "dexamethasone sodium phosphate",
    "metformin",
    "Metformin Hydrochloride",
    "sodium",
    "sodium chloride",
    "x-ray contrast",
    "",
    "ÄÖÜ Tablets",
]


@pytest.mark.parametrize("name", NAMES)
def test_one_normaliser_python_and_polars_agree(name):
    # contract 5.3 names one matching rule; the loader, engine and data quality share it
    expr = pl.DataFrame({"d": [name]}).select(canonical_drug_expr(pl.col("d")))["d"][0]
    assert expr == canonical_drug(name)
    assert canonical_drug(canonical_drug(name)) == canonical_drug(name)  # idempotent


def test_normalisation_steps():
    # contract 5.3: "case-folding, trimming, collapsing inner whitespace and removing
    # punctuation ... dropping a trailing salt or form word"
    assert canonical_drug("  Metformin   HYDROCHLORIDE ") == "metformin"
    assert canonical_drug("sodium") == "sodium"  # a salt word alone is kept
    assert canonical_drug("sodium valproate") == "sodium valproate"  # only trailing words go
    assert canonical_drug("oxcarbazepine") == "oxcarbazepine"  # not carbamazepine
    assert canonical_drug("rifaximin") == "rifaximin"  # not rifampin
    assert canonical_drug("Luminal") == "phenobarbital"
    assert canonical_drug("Rimactane") == "rifampin"


def test_vocabulary_spellings_are_unambiguous_and_lists_use_known_ingredients():
    data = yaml.safe_load(DRUG_VOCABULARY_FILE.read_text(encoding="utf-8"))
    ingredients = set(data["ingredients"])
    _, drugs = load_codelists()
    for dl in drugs.values():
        assert set(dl.drugs) <= ingredients, dl.name
    # every spelling maps to one ingredient, and the mapping is what canonical_drug gives
    for spelling, canon in DRUG_SYNONYMS.items():
        assert canonical_drug(spelling) == canon
    for name, parts in data["regimens"].items():
        assert {canonical_drug(p) for p in parts} <= ingredients, name


@pytest.mark.parametrize(
    ("regimen", "expected"),
    [
        ("VRd", {"bortezomib", "lenalidomide", "dexamethasone"}),
        ("Dara-Pd", {"daratumumab", "pomalidomide", "dexamethasone"}),
        ("VMP", {"bortezomib", "melphalan"}),
        ("lenalidomide maintenance", {"lenalidomide"}),
        ("Iberdomide-dex (trial)", {"dexamethasone"}),
        ("Investigational agent", set()),
        (None, set()),
    ],
)
def test_regimen_ingredients(regimen, expected):
    assert regimen_ingredients(regimen) == expected


def test_loader_uses_the_normaliser(tmp_path: Path):
    from feasibility.registry import load_registry

    reg = tmp_path / "reg"
    reg.mkdir()
    pl.DataFrame({"patient_id": ["p1"], "sex": ["M"], "birth_date": ["1960-01-01"]}).write_csv(
        reg / "patients.csv"
    )
    pl.DataFrame(
        {
            "patient_id": ["p1"] * len(NAMES[:12]),
            "drug": NAMES[:12],
            "route": ["oral"] * 12,
            "start_date": ["2024-01-01"] * 12,
            "end_date": [None] * 12,
        }
    ).write_csv(reg / "medications.csv")
    got = load_registry(reg).tables["medications"].collect()["drug"].to_list()
    assert got == [canonical_drug(n) for n in NAMES[:12]]


# ---------------------------------------------------------------- plausible ranges


def test_every_numeric_field_a_criterion_reads_has_a_sourced_range():
    for pid in available_protocols():
        for crit in load_protocol(pid).criteria:
            for leaf in leaves(crit.rule_obj):
                if isinstance(leaf, Latest) and leaf.table == "measurements":
                    assert ("measurements", leaf.name) in FIELD_RANGES, (pid, crit.id)
                if isinstance(leaf, CockcroftGault):
                    assert {"creatinine", "weight"} <= set(PLAUSIBLE_RANGES)
                if isinstance(leaf, Age | CockcroftGault):
                    assert ("patients", "age") in FIELD_RANGES
                if isinstance(leaf, Lesion):
                    assert ("lesions", "longest_diameter_cm") in FIELD_RANGES
    assert set(PLAUSIBLE_RANGES) == set(TESTS)  # every test of the vocabulary
    for (table, field), (low, high, unit, source) in FIELD_RANGES.items():
        assert low <= high and unit and len(source) > 20, (table, field)


def test_ranges_follow_contract_5_2():
    # contract 5.2: "hemoglobin > 25 g/dL, QTc > 800 ms" impossible; "a lesion diameter
    # above 50 cm"; "negative, zero where impossible, NaN, +-inf"
    assert PLAUSIBLE_RANGES["hemoglobin"][1] == 25.0
    assert PLAUSIBLE_RANGES["qtc"][1] == 800.0
    assert LESION_DIAMETER_RANGE == (0.0, 50.0)
    assert PLAUSIBLE_RANGES["creatinine"][0] > 0
    assert all(low >= 0 for low, _ in PLAUSIBLE_RANGES.values())
    assert AGE_RANGE == (18, 110)
    assert not is_plausible("hemoglobin", math.nan)
    assert not is_plausible("hemoglobin", math.inf)
    assert is_plausible("hemoglobin", 25.0) and not is_plausible("hemoglobin", 25.01)


def test_ranges_are_read_from_the_reviewed_file():
    data = yaml.safe_load(plausibility.RANGES_FILE.read_text(encoding="utf-8"))
    tests = yaml.safe_load(vocab.vocab_file(vocab.LAB_TESTS_NAME).read_text(encoding="utf-8"))
    assert tests["tests"]["qtc"]["plausible"]["high"] == PLAUSIBLE_RANGES["qtc"][1]
    assert data["lesions"]["longest_diameter_cm"]["high"] == LESION_DIAMETER_RANGE[1]
