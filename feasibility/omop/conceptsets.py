"""OMOP concept sets as code lists.

A code list in ``feasibility/codelists/*.yaml`` may be a concept set instead of ICD-10
prefixes::

    anemia:
      label: Anaemia (SNOMED, with descendants)
      concepts:
        - {id: 439777, name: Anemia, descendants: true}
        - {id: 4220489, name: ..., descendants: false, exclude: true}

The protocol parser turns it into a code list matching one token, :func:`set_code`; the
OMOP reader resolves the set against the database's vocabulary (descendants through
``concept_ancestor``, or the ``'Is a'`` closure) and gives every condition in it an extra
diagnosis row carrying that token. So the engine's code matching is unchanged, and a
concept set never matches a native registry (its codes are ICD-10).

This module imports nothing from the package, so ``feasibility.protocol`` can use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

CODELIST_DIR = Path(__file__).resolve().parent.parent / "codelists"
TOKEN_PREFIX = "OMOPCONCEPTSET:"


def set_code(name: str) -> str:
    """The diagnosis code token of concept set ``name`` (normalised: upper case, no dot or
    space, ending in ``;`` so that no set's token is a prefix of another's)."""
    return TOKEN_PREFIX + name.replace(".", "").replace(" ", "").upper() + ";"


@dataclass(frozen=True)
class ConceptItem:
    """One concept of a set: include (or exclude) it, with or without its descendants."""

    id: int
    descendants: bool = True
    exclude: bool = False


@dataclass(frozen=True)
class ConceptSet:
    """A named concept set from a code-list file."""

    name: str
    label: str
    items: tuple[ConceptItem, ...]


def is_concept_set(spec: Any) -> bool:
    """True if a code-list entry is a concept set (it has ``concepts``)."""
    return isinstance(spec, dict) and "concepts" in spec


def parse_concept_set(name: str, spec: dict[str, Any]) -> ConceptSet:
    """Read one concept-set entry; raise ValueError on a malformed one."""
    items = []
    for raw in spec.get("concepts") or []:
        if not isinstance(raw, dict) or "id" not in raw:
            raise ValueError(f"concept set {name!r}: each concept needs an `id`")
        items.append(
            ConceptItem(
                int(raw["id"]), bool(raw.get("descendants", True)), bool(raw.get("exclude", False))
            )
        )
    if not any(not i.exclude for i in items):
        raise ValueError(f"concept set {name!r} includes no concept")
    return ConceptSet(name, str(spec.get("label", name)), tuple(items))


def load_concept_sets(directory: Path = CODELIST_DIR) -> list[ConceptSet]:
    """Every concept set in the code-list files of ``directory``."""
    sets = []
    for path in sorted(directory.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for name, spec in data.items():
            if is_concept_set(spec):
                sets.append(parse_concept_set(str(name), spec))
    return sets
