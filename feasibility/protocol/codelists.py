"""Code lists and drug lists a rule filters rows by, read from ``feasibility/codelists/*.yaml``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from feasibility.errors import ProtocolError
from feasibility.schema import DRUG_VOCABULARY_FILE, canonical_drug

CODELIST_DIR = Path(__file__).parent.parent / "codelists"


@dataclass(frozen=True)
class CodeList:
    """ICD-10 prefixes (normalised: no dot, upper case), 3-character ranges and exclusions."""

    name: str
    label: str
    prefixes: tuple[str, ...]
    ranges: tuple[tuple[str, str], ...] = ()
    exclude: tuple[str, ...] = ()

    def matches(self, code: str) -> bool:
        """Pure-Python twin of the engine's matcher (used in docs and tests)."""
        c = code.replace(".", "").strip().upper()
        if any(c.startswith(e) for e in self.exclude):
            return False
        return any(c.startswith(p) for p in self.prefixes) or any(
            lo <= c[:3] <= hi for lo, hi in self.ranges
        )


@dataclass(frozen=True)
class DrugList:
    """Canonical drug names and every accepted spelling (lower case) mapped to its canonical name."""

    name: str
    label: str
    drugs: tuple[str, ...]
    spellings: dict[str, str] = field(hash=False, compare=False, default_factory=dict)


def _norm_code(c: Any) -> str:
    return str(c).replace(".", "").replace(" ", "").strip().upper()


def load_codelists(
    directory: Path = CODELIST_DIR,
) -> tuple[dict[str, CodeList], dict[str, DrugList]]:
    """Read ``icd10.yaml`` and ``drugs.yaml`` (and any other ``*.yaml``) from ``directory``;
    the drug-name vocabulary (``schema.DRUG_VOCABULARY_FILE``) is not a list and is skipped.
    A list's spellings are keyed both as written (lower case) and through
    ``canonical_drug``, the normaliser the engine applies to the registry's names."""
    codes: dict[str, CodeList] = {}
    drugs: dict[str, DrugList] = {}
    for path in sorted(directory.glob("*.yaml")):
        if path.name in (DRUG_VOCABULARY_FILE.name, "plausible_ranges.yaml"):
            continue  # reviewed vocabularies beside the lists, not lists
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for name, spec in data.items():
            if not isinstance(spec, dict):
                raise ProtocolError(
                    f"codelist {name!r} in {path.name} is not a mapping", field="codelist"
                )
            if "concepts" in spec:  # an OMOP concept set: see feasibility/omop/conceptsets.py
                from feasibility.omop.conceptsets import parse_concept_set, set_code

                try:
                    parse_concept_set(str(name), spec)
                except ValueError as exc:
                    raise ProtocolError(str(exc), field="codelist") from None
                codes[name] = CodeList(name, str(spec.get("label", name)), (set_code(str(name)),))
            elif "drugs" in spec:
                spellings: dict[str, str] = {}
                canon: list[str] = []
                for drug, meta in (spec["drugs"] or {}).items():
                    c = canonical_drug(str(drug))
                    canon.append(c)
                    spellings[str(drug).strip().lower()] = c
                    spellings[c] = c
                    for syn in (meta or {}).get("synonyms", []) or []:
                        spellings[str(syn).strip().lower()] = c
                        spellings[canonical_drug(str(syn))] = c
                drugs[name] = DrugList(name, str(spec.get("label", name)), tuple(canon), spellings)
            else:
                codes[name] = CodeList(
                    name,
                    str(spec.get("label", name)),
                    tuple(_norm_code(p) for p in spec.get("prefixes", []) or []),
                    tuple((_norm_code(a), _norm_code(b)) for a, b in spec.get("ranges", []) or []),
                    tuple(_norm_code(e) for e in spec.get("exclude", []) or []),
                )
    return codes, drugs
