"""The reviewed OMOP mapping (``mapping.yaml``) as typed Python data.

Concepts are named by ``(vocabulary, code)`` and, optionally, a known ``concept_id``;
:mod:`feasibility.omop.vocab` resolves them against a database's ``concept`` table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from feasibility import vocab
from feasibility.schema import ASSESSMENT_ITEMS, PROCEDURE_CATEGORIES, TESTS

MAPPING_FILE = Path(__file__).with_name("mapping.yaml")


@dataclass(frozen=True)
class ConceptRef:
    """One concept by vocabulary and code, with its concept_id where known."""

    vocabulary: str
    code: str
    id: int | None = None

    @classmethod
    def parse(cls, spec: dict[str, Any]) -> ConceptRef:
        cid = spec.get("id")
        return cls(str(spec["vocabulary"]), str(spec["code"]), int(cid) if cid else None)


@dataclass(frozen=True)
class TestMap:
    """A contract test: its concepts and the UCUM unit -> (contract unit, factor) table."""

    test: str
    concepts: tuple[ConceptRef, ...]
    units: dict[str, tuple[str, float]] = field(hash=False, compare=False)


@dataclass(frozen=True)
class ItemMap:
    """A contract assessment item and its concepts; ``numeric``: value from value_as_number."""

    item: str
    concepts: tuple[ConceptRef, ...]
    numeric: bool = False


@dataclass(frozen=True)
class Mapping:
    """Everything the reader and writer need, from ``mapping.yaml``."""

    gender: dict[int, str]
    tests: tuple[TestMap, ...]
    items: tuple[ItemMap, ...]
    values: tuple[tuple[ConceptRef, str], ...]
    routes: tuple[tuple[ConceptRef, str], ...]
    procedures: dict[str, tuple[ConceptRef, ...]]
    lesion_concepts: tuple[ConceptRef, ...]
    lesion_units: dict[str, float]
    bone_contiguous: tuple[tuple[ConceptRef, bool], ...]
    therapy_episodes: tuple[ConceptRef, ...]
    investigational: tuple[ConceptRef, ...]
    investigational_unknown: tuple[ConceptRef, ...] = ()

    def local_concepts(self) -> list[ConceptRef]:
        """Every concept the mapping names (for the writer's vocabulary rows)."""
        refs: list[ConceptRef] = []
        for t in self.tests:
            refs += t.concepts
        for i in self.items:
            refs += i.concepts
        refs += [r for r, _ in self.values] + [r for r, _ in self.routes]
        for concepts in self.procedures.values():
            refs += concepts
        refs += self.lesion_concepts + tuple(r for r, _ in self.bone_contiguous)
        refs += self.therapy_episodes + self.investigational + self.investigational_unknown
        return refs


def _refs(specs: list[dict[str, Any]] | None) -> tuple[ConceptRef, ...]:
    return tuple(ConceptRef.parse(s) for s in specs or [])


def _with_loinc(
    name: str, spec: dict[str, Any], codes: tuple[vocab.Loinc, ...]
) -> tuple[ConceptRef, ...]:
    """The LOINC codes of ``name`` from the reviewed vocabulary (concept_ids from the mapping's
    ``loinc_ids``), then the mapping's own (non-LOINC) ``concepts``."""
    ids = {str(k): int(v) for k, v in (spec.get("loinc_ids") or {}).items()}
    known = {c.code for c in codes}
    for code in ids:
        if code not in known:
            raise ValueError(
                f"mapping.yaml: {name}.loinc_ids: {code} is not a LOINC code of {name!r} "
                f"in feasibility/vocab (add it there)"
            )
    own = _refs(spec.get("concepts"))
    for ref in own:
        if ref.vocabulary == "LOINC":
            raise ValueError(
                f"mapping.yaml: {name}.concepts: LOINC {ref.code} belongs in feasibility/vocab "
                f"(this file keeps its concept_id under loinc_ids)"
            )
    return tuple(ConceptRef("LOINC", c.code, ids.get(c.code)) for c in codes) + own


def parse_mapping(data: dict[str, Any]) -> Mapping:
    """Build a :class:`Mapping`; every test, item and category must be the contract's.

    Tests and items take their LOINC codes from :mod:`feasibility.vocab`; one of the
    vocabulary that the mapping does not list is read by its LOINC codes alone (its
    accepted units as UCUM codes of the same spelling; numeric when graded)."""
    tests = []
    measurements = data.get("measurements") or {}
    for test, spec in measurements.items():
        if test not in TESTS:
            raise ValueError(f"mapping.yaml: {test!r} is not a contract test")
        units = {}
        for ucum, (unit, factor) in (spec.get("units") or {}).items():
            if unit not in TESTS[test].factors:
                raise ValueError(f"mapping.yaml: {test}: {unit!r} is not an accepted unit")
            units[str(ucum)] = (str(unit), float(factor))
        tests.append(TestMap(test, _with_loinc(test, spec, vocab.LAB_TESTS[test].loinc), units))
    for test, lab in vocab.LAB_TESTS.items():
        if test not in measurements and lab.loinc:
            same = {unit: (unit, 1.0) for unit in lab.units}
            tests.append(TestMap(test, _with_loinc(test, {}, lab.loinc), same))
    items = []
    assessments = data.get("assessments") or {}
    for item, spec in assessments.items():
        if item not in ASSESSMENT_ITEMS:
            raise ValueError(f"mapping.yaml: {item!r} is not a contract assessment item")
        refs = _with_loinc(item, spec, vocab.ASSESSMENT_ITEMS[item].loinc)
        items.append(ItemMap(item, refs, bool(spec.get("numeric"))))
    for item, entry in vocab.ASSESSMENT_ITEMS.items():
        if item not in assessments and entry.loinc:
            items.append(ItemMap(item, _with_loinc(item, {}, entry.loinc), entry.graded))
    procedures = {}
    for category, specs in (data.get("procedures") or {}).items():
        if category not in PROCEDURE_CATEGORIES:
            raise ValueError(f"mapping.yaml: {category!r} is not a procedure category")
        procedures[category] = _refs(specs)
    lesions = data.get("lesions") or {}
    therapies = data.get("therapies") or {}
    return Mapping(
        gender={int(k): str(v) for k, v in (data.get("gender") or {}).items()},
        tests=tuple(tests),
        items=tuple(items),
        values=tuple((ConceptRef.parse(v), str(v["value"])) for v in data.get("values") or []),
        routes=tuple((ConceptRef.parse(v), str(v["route"])) for v in data.get("routes") or []),
        procedures=procedures,
        lesion_concepts=_refs(lesions.get("concepts")),
        lesion_units={str(k): float(v) for k, v in (lesions.get("units") or {}).items()},
        bone_contiguous=tuple(
            (ConceptRef.parse(v), bool(v["value"])) for v in lesions.get("bone_contiguous") or []
        ),
        therapy_episodes=_refs(therapies.get("episode_concepts")),
        investigational=_refs(therapies.get("investigational")),
        investigational_unknown=_refs(therapies.get("investigational_unknown")),
    )


@cache
def load_mapping(path: Path = MAPPING_FILE) -> Mapping:
    """The reviewed mapping shipped with the package (or another file)."""
    return parse_mapping(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
