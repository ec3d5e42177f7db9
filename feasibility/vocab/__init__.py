"""The registry's measurable vocabulary as reviewed data: lab tests and assessment items.

``lab_tests.yaml`` holds, per measurement test, its canonical unit, the accepted units
with their factors, the plausible range (with its source) and the LOINC codes;
``assessment_items.yaml`` holds, per assessment item, its allowed values, whether they are
ordered grades, and the LOINC codes. Adding a test or an item is one entry in one file.

:mod:`feasibility.schema` (``TESTS``, ``ASSESSMENT_ITEMS``, ``GRADED_ITEMS``) and
:mod:`feasibility.plausibility` (``PLAUSIBLE_RANGES``, ``FIELD_RANGES``) are views of
these files, so the loader, the protocol parser, the engine, data quality and the
generator keep reading the names they always read.

The files are validated when read; a problem is one line naming the file, the entry and
the field (``lab_tests.yaml: tests.creatinine.units.umol/L: factor must be ...``).

``FEASIBILITY_VOCAB_DIR``: a directory whose ``lab_tests.yaml`` and/or
``assessment_items.yaml`` replace the shipped ones (a site's reviewed copy with an extra
test, say). It is read once, when :mod:`feasibility.schema` is first imported.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

#: The shipped files.
VOCAB_DIR = Path(__file__).parent
LAB_TESTS_NAME = "lab_tests.yaml"
ASSESSMENT_ITEMS_NAME = "assessment_items.yaml"
#: Environment variable naming a directory of replacement files (see the module docstring).
ENV_DIR = "FEASIBILITY_VOCAB_DIR"

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_LOINC = re.compile(r"^[0-9]{1,7}-[0-9]$")
_RATIO = re.compile(r"^\s*([0-9.eE+-]+)\s*/\s*([0-9.eE+-]+)\s*$")


class VocabularyError(ValueError):
    """A vocabulary file is malformed; the message is one line naming file, entry and field."""


@dataclass(frozen=True)
class Loinc:
    """One LOINC code of a test or item; ``confirmed``: checked against an OMOP vocabulary."""

    code: str
    name: str
    confirmed: bool = False


@dataclass(frozen=True)
class LabTest:
    """One measurement test, as reviewed in ``lab_tests.yaml``."""

    name: str
    label: str
    canonical_unit: str
    #: accepted unit as written -> multiply by this to get the canonical unit (file order)
    units: dict[str, float] = field(hash=False, compare=False)
    low: float
    high: float
    range_source: str
    loinc: tuple[Loinc, ...] = ()


@dataclass(frozen=True)
class AssessmentItem:
    """One assessment item, as reviewed in ``assessment_items.yaml``."""

    name: str
    label: str
    values: tuple[str, ...]
    graded: bool = False
    loinc: tuple[Loinc, ...] = ()


def vocab_file(name: str) -> Path:
    """The file in use: ``$FEASIBILITY_VOCAB_DIR/name`` if that exists, else the shipped one."""
    override = os.environ.get(ENV_DIR)
    if override:
        candidate = Path(override) / name
        if candidate.is_file():
            return candidate
    return VOCAB_DIR / name


class _Reader:
    """Validation helpers that raise one-line :class:`VocabularyError` messages."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, where: str, message: str) -> VocabularyError:
        return VocabularyError(f"{self.path.name}: {where}: {message}")

    def load(self, section: str) -> dict[str, Any]:
        try:
            data = yaml.safe_load(self.path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            line = " ".join(str(exc).split())
            raise VocabularyError(f"{self.path.name}: not valid YAML: {line}") from None
        if not isinstance(data, dict):
            raise VocabularyError(f"{self.path.name}: expected a mapping with '{section}'")
        unknown = sorted(set(data) - {"version", section})
        if unknown:
            raise self.fail(str(unknown[0]), f"unknown key; expected 'version' and '{section}'")
        if data.get("version", 1) != 1:
            raise self.fail("version", f"unsupported version {data['version']!r} (expected 1)")
        entries = data.get(section)
        if not isinstance(entries, dict) or not entries:
            raise self.fail(section, "expected a non-empty mapping of entries")
        return entries

    def entry(self, where: str, spec: Any, required: set[str], optional: set[str]) -> dict:
        if not isinstance(spec, dict):
            raise self.fail(where, "expected a mapping of fields")
        missing = sorted(required - set(spec))
        if missing:
            raise self.fail(f"{where}.{missing[0]}", "missing")
        unknown = sorted(set(spec) - required - optional)
        if unknown:
            fields = ", ".join(sorted(required | optional))
            raise self.fail(f"{where}.{unknown[0]}", f"unknown field; expected {fields}")
        return spec

    def name(self, where: str, name: Any) -> str:
        if not isinstance(name, str) or not _NAME.match(name):
            raise self.fail(
                where, f"name {name!r} must be lower case letters, digits and '_' (a-z first)"
            )
        return name

    def text(self, where: str, value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(where, "expected non-empty text")
        if value != value.strip():
            raise self.fail(where, f"{value!r} has leading or trailing spaces")
        return value

    def number(self, where: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(where, f"expected a number, got {value!r}")
        if not math.isfinite(value):
            raise self.fail(where, f"expected a finite number, got {value!r}")
        return float(value)

    def factor(self, where: str, value: Any) -> float:
        """A positive number, or ``"a/b"`` (a divided by b, as Python computes ``a / b``)."""
        if isinstance(value, str) and (m := _RATIO.match(value)):
            try:
                num, den = float(m.group(1)), float(m.group(2))
            except ValueError:
                num, den = math.nan, math.nan
            result = num / den if den else math.nan
        elif isinstance(value, int | float) and not isinstance(value, bool):
            result = float(value)
        else:
            result = math.nan
        if not (math.isfinite(result) and result > 0):
            raise self.fail(
                where, f"factor must be a positive number or 'a/b' (like 1/88.4), got {value!r}"
            )
        return result

    def flag(self, where: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise self.fail(where, f"expected true or false, got {value!r}")
        return value

    def loinc(self, where: str, specs: Any, seen: dict[str, str], owner: str) -> tuple[Loinc, ...]:
        if specs is None:
            return ()
        if not isinstance(specs, list):
            raise self.fail(where, "expected a list of {code, name, confirmed}")
        out = []
        for i, spec in enumerate(specs):
            at = f"{where}[{i}]"
            spec = self.entry(at, spec, {"code", "name"}, {"confirmed"})
            code = str(spec["code"])
            if not _LOINC.match(code):
                raise self.fail(f"{at}.code", f"{code!r} is not a LOINC code (like 718-7)")
            if code in seen:
                raise self.fail(f"{at}.code", f"{code} is already a code of {seen[code]}")
            seen[code] = owner
            name = self.text(f"{at}.name", spec["name"])
            out.append(
                Loinc(code, name, self.flag(f"{at}.confirmed", spec.get("confirmed", False)))
            )
        return tuple(out)


def load_lab_tests(path: Path | None = None) -> dict[str, LabTest]:
    """Read and validate ``lab_tests.yaml`` (or ``path``): test name -> :class:`LabTest`,
    in file order. Raises :class:`VocabularyError` naming file, entry and field."""
    r = _Reader(path or vocab_file(LAB_TESTS_NAME))
    tests: dict[str, LabTest] = {}
    codes: dict[str, str] = {}
    for name, spec in r.load("tests").items():
        where = f"tests.{name}"
        r.name(where, name)
        spec = r.entry(where, spec, {"canonical_unit", "units", "plausible"}, {"label", "loinc"})
        canonical = r.text(f"{where}.canonical_unit", spec["canonical_unit"])
        raw_units = spec["units"]
        if not isinstance(raw_units, dict) or not raw_units:
            raise r.fail(f"{where}.units", "expected a mapping of accepted unit -> factor")
        units = {}
        for unit, factor in raw_units.items():
            unit = r.text(f"{where}.units", str(unit))
            units[unit] = r.factor(f"{where}.units.{unit}", factor)
        if units.get(canonical) != 1.0:
            raise r.fail(
                f"{where}.units", f"the canonical unit {canonical!r} must be listed with factor 1"
            )
        plausible = r.entry(
            f"{where}.plausible", spec["plausible"], {"low", "high", "source"}, set()
        )
        low = r.number(f"{where}.plausible.low", plausible["low"])
        high = r.number(f"{where}.plausible.high", plausible["high"])
        if low > high:
            raise r.fail(f"{where}.plausible", f"low {low:g} is above high {high:g}")
        source = r.text(f"{where}.plausible.source", plausible["source"])
        label = r.text(f"{where}.label", spec.get("label", name))
        loinc = r.loinc(f"{where}.loinc", spec.get("loinc"), codes, where)
        tests[name] = LabTest(name, label, canonical, units, low, high, source, loinc)
    return tests


def load_assessment_items(path: Path | None = None) -> dict[str, AssessmentItem]:
    """Read and validate ``assessment_items.yaml`` (or ``path``): item name ->
    :class:`AssessmentItem`, in file order. Raises :class:`VocabularyError`."""
    r = _Reader(path or vocab_file(ASSESSMENT_ITEMS_NAME))
    items: dict[str, AssessmentItem] = {}
    codes: dict[str, str] = {}
    for name, spec in r.load("items").items():
        where = f"items.{name}"
        r.name(where, name)
        spec = r.entry(where, spec, {"values"}, {"label", "graded", "loinc"})
        raw = spec["values"]
        if not isinstance(raw, list) or not raw:
            raise r.fail(f"{where}.values", "expected a non-empty list of values")
        values: list[str] = []
        for i, value in enumerate(raw):
            at = f"{where}.values[{i}]"
            if not isinstance(value, str):
                raise r.fail(at, f'{value!r} must be quoted text (write "{value}")')
            value = r.text(at, value)
            if value != value.lower():
                raise r.fail(at, f"{value!r} must be lower case")
            if value in values:
                raise r.fail(at, f"{value!r} is listed twice")
            values.append(value)
        graded = r.flag(f"{where}.graded", spec.get("graded", False))
        if graded and not all(v.isdigit() for v in values):
            raise r.fail(f"{where}.values", "a graded item's values must be whole numbers")
        label = r.text(f"{where}.label", spec.get("label", name))
        loinc = r.loinc(f"{where}.loinc", spec.get("loinc"), codes, where)
        items[name] = AssessmentItem(name, label, tuple(values), graded, loinc)
    return items


#: The vocabulary in use (shipped files, or $FEASIBILITY_VOCAB_DIR's), read once.
LAB_TESTS: dict[str, LabTest] = load_lab_tests()
ASSESSMENT_ITEMS: dict[str, AssessmentItem] = load_assessment_items()

__all__ = [
    "ASSESSMENT_ITEMS",
    "ASSESSMENT_ITEMS_NAME",
    "ENV_DIR",
    "LAB_TESTS",
    "LAB_TESTS_NAME",
    "VOCAB_DIR",
    "AssessmentItem",
    "LabTest",
    "Loinc",
    "VocabularyError",
    "load_assessment_items",
    "load_lab_tests",
    "vocab_file",
]
