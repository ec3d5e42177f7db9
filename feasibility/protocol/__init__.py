"""Protocols as data: load a reviewed YAML protocol file into typed, validated rules.

A protocol file (``feasibility/protocols/<id>.yaml``) lists every sentence of a trial's
eligibility text in order under ``eligibility``. Each item is either a computable
*criterion* (it has a ``rule``) or an *assumption* (it has a ``pass_rate``): something no
registry can decide, applied by the report to expected counts only. ``steps`` gives the
funnel order. Rules use a small declarative vocabulary (see :func:`parse_rule`); code
lists live in ``feasibility/codelists/*.yaml``. Every problem is raised at load time as a
:class:`~feasibility.errors.ProtocolError` naming the criterion and the field, so a bad
file never reaches the engine.

The package, one job per module:

- :mod:`~feasibility.protocol.model` -- the rule nodes (frozen dataclasses answering one
  node interface), :class:`Criterion`, :class:`Protocol`, walking a rule tree;
- :mod:`~feasibility.protocol.domain` -- the domain rules (Cockcroft-Gault, lesion,
  therapy line): node and parser entry together;
- :mod:`~feasibility.protocol.pieces` -- the general pieces a row-reading leaf is built
  from (rows, filters, window, pick, test) and :class:`Query`, their composition;
- :mod:`~feasibility.protocol.compare` -- the operator table and the unit-aware
  :class:`Comparison` (threshold in the canonical unit and as stated);
- :mod:`~feasibility.protocol.windows` -- :class:`Window` and ``30d`` / ``ever``;
- :mod:`~feasibility.protocol.codelists` -- ICD-10 code lists and drug lists;
- :mod:`~feasibility.protocol.parse` -- one parser entry per rule type (a registry keyed
  by the YAML key), :func:`parse_rule`;
- :mod:`~feasibility.protocol.fields` -- reading one field with an error naming it;
- :mod:`~feasibility.protocol.assumptions` -- sentences no registry decides;
- :mod:`~feasibility.protocol.checks` -- references, cycles, steps;
- :mod:`~feasibility.protocol.safe_yaml` -- reading a protocol file's YAML safely;
- :mod:`~feasibility.protocol.load` -- :func:`parse_protocol`, :func:`load_protocol`;
- :mod:`~feasibility.protocol.ops` -- relaxing a threshold or window, the deciding measure.

A new rule type is one node class, one parser entry (:func:`rule_parser`) and one
translation per engine.
"""

from __future__ import annotations

from feasibility.errors import ProtocolError
from feasibility.protocol import assumptions, checks, codelists, fields, model, windows
from feasibility.protocol.assumptions import AppliesTo, Assumption, ExpectedRange
from feasibility.protocol.codelists import (
    CODELIST_DIR,
    CodeList,
    DrugList,
    load_codelists,
)
from feasibility.protocol.compare import OPS, Comparison, UnitError, compare, to_canonical
from feasibility.protocol.domain import MAX_LINE, CockcroftGault, Lesion, Therapy
from feasibility.protocol.load import (
    ID_PATTERN,
    PROTOCOL_DIR,
    PROTOCOL_ID_PATTERN,
    RESERVED_IDS,
    available_protocols,
    load_protocol,
    parse_protocol,
)
from feasibility.protocol.model import (
    IF_MISSING,
    Age,
    Alive,
    And,
    AnyPresent,
    Criterion,
    Diagnosis,
    Latest,
    Medication,
    Not,
    Or,
    Procedure,
    Protocol,
    Records,
    Ref,
    Rule,
    Sex,
    Undecidable,
    When,
    columns_needed,
    leaves,
    numeric_leaves,
    thresholded_leaves,
    whole_years,
)
from feasibility.protocol.ops import deciding_measure, relax_rule
from feasibility.protocol.parse import (
    AGE_BOUNDS,
    GRADED_ITEMS,
    RULE_PARSERS,
    RuleParser,
    parse_rule,
    rule_parser,
)
from feasibility.protocol.pieces import (
    CategoryFilter,
    CodeFilter,
    DrugFilter,
    EndsAfter,
    Filter,
    FlagFilter,
    ItemFilter,
    MinValue,
    Pick,
    Query,
    Rows,
    StartedBy,
    TestFilter,
    ValueSet,
)
from feasibility.protocol.safe_yaml import read_protocol_yaml
from feasibility.protocol.windows import MAX_DAYS, Window, parse_window

__all__ = [
    "AGE_BOUNDS",
    "CODELIST_DIR",
    "GRADED_ITEMS",
    "ID_PATTERN",
    "IF_MISSING",
    "MAX_DAYS",
    "MAX_LINE",
    "OPS",
    "PROTOCOL_DIR",
    "PROTOCOL_ID_PATTERN",
    "RESERVED_IDS",
    "RULE_PARSERS",
    "Age",
    "Alive",
    "And",
    "AnyPresent",
    "AppliesTo",
    "Assumption",
    "CockcroftGault",
    "CodeList",
    "Comparison",
    "Criterion",
    "Diagnosis",
    "DrugList",
    "ExpectedRange",
    "Latest",
    "Lesion",
    "Medication",
    "Not",
    "Or",
    "Procedure",
    "Protocol",
    "Query",
    "Records",
    "Rows",
    "Pick",
    "CategoryFilter",
    "CodeFilter",
    "DrugFilter",
    "EndsAfter",
    "Filter",
    "FlagFilter",
    "ItemFilter",
    "MinValue",
    "StartedBy",
    "TestFilter",
    "ValueSet",
    "ProtocolError",
    "Ref",
    "Rule",
    "RuleParser",
    "Sex",
    "Therapy",
    "Undecidable",
    "UnitError",
    "When",
    "Window",
    "available_protocols",
    "columns_needed",
    "compare",
    "deciding_measure",
    "leaves",
    "load_codelists",
    "load_protocol",
    "numeric_leaves",
    "parse_protocol",
    "parse_rule",
    "parse_window",
    "read_protocol_yaml",
    "relax_rule",
    "rule_parser",
    "thresholded_leaves",
    "to_canonical",
    "whole_years",
]

# the private helpers of the former module ``protocol.py``, still importable from here
_ASSUMPTION_KEYS = assumptions._ASSUMPTION_KEYS
_assumption = assumptions._assumption
_rate = assumptions._rate
_check_acyclic = checks.check_acyclic
_norm_code = codelists._norm_code
_as_lines = fields.as_lines
_walk = model._walk
_Parser = RuleParser
_WINDOW_RE = windows._WINDOW_RE
_bounded_window = windows._bounded_window
