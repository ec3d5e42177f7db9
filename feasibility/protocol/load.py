"""Loading a protocol file: the items of ``eligibility`` (criteria and assumptions), the
funnel ``steps`` and the protocol's own fields, validated into a :class:`Protocol`."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from feasibility.errors import ProtocolError
from feasibility.protocol import domain as _domain  # noqa: F401 - registers the domain rules
from feasibility.protocol.assumptions import Assumption, _assumption
from feasibility.protocol.checks import (
    check_acyclic,
    check_references,
    check_steps,
    check_when_in_inclusion,
    reference_graph,
)
from feasibility.protocol.codelists import CODELIST_DIR, load_codelists
from feasibility.protocol.fields import as_lines
from feasibility.protocol.model import IF_MISSING, Criterion, Protocol
from feasibility.protocol.parse import RuleParser
from feasibility.protocol.safe_yaml import read_protocol_yaml

PROTOCOL_DIR = Path(__file__).parent.parent / "protocols"
#: Ids a criterion or assumption may not take: columns and steps the outputs already use.
RESERVED_IDS = frozenset(
    {"patient_id", "eligible", "index_date", "index_event", "registry", "step", "_row"}
)
#: Criterion and assumption ids: a letter, then letters, digits or underscores (they become
#: column names in patient_status.csv).
ID_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
#: A protocol's own id: also the file name users type.
PROTOCOL_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
#: Most patients a ``target_enrolment`` may name.
MAX_TARGET = 100_000


def _header(data: object) -> dict:
    if not isinstance(data, dict):
        raise ProtocolError(
            "a protocol file is a mapping with id, title, eligibility, steps", field="file"
        )
    for key in ("id", "title", "eligibility", "steps"):
        if key not in data:
            raise ProtocolError(f"protocol file lacks {key!r}", field=key)
    if not isinstance(data["id"], str) or not PROTOCOL_ID_PATTERN.match(data["id"]):
        raise ProtocolError(
            f"field 'id': {str(data['id'])[:40]!r} is not a valid protocol id (letters, digits, "
            "'.', '_' or '-'; at most 100 characters)",
            field="id",
        )
    if not isinstance(data["title"], str) or not data["title"].strip():
        raise ProtocolError("field 'title': expected a line of text", field="title")
    if len(data["title"]) > 1000:
        raise ProtocolError("field 'title': longer than 1000 characters", field="title")
    if not isinstance(data["eligibility"], list | None):
        raise ProtocolError("field 'eligibility': expected a list of items", field="eligibility")
    return data


def _item_id(item: object, n: int, seen: set[str]) -> str:
    if not isinstance(item, dict) or not isinstance(item.get("id"), str):
        raise ProtocolError(f"eligibility item #{n + 1} has no id", field="id")
    cid = item["id"]
    if not ID_PATTERN.match(cid):
        raise ProtocolError(
            f"eligibility item #{n + 1}, field 'id': {cid[:40]!r} is not a valid id (a "
            "letter, then letters, digits or _; at most 64 characters)",
            criterion=cid[:64],
            field="id",
        )
    if cid in RESERVED_IDS:
        raise ProtocolError(
            f"criterion {cid!r}, field 'id': {cid!r} is reserved (the outputs use it: "
            f"{', '.join(sorted(RESERVED_IDS))}); choose another id",
            criterion=cid,
            field="id",
        )
    if cid in seen:
        raise ProtocolError(f"duplicate id {cid!r}", criterion=cid, field="id")
    return cid


def _criterion(item: dict, cid: str, section: str, parser: RuleParser) -> Criterion:
    im = item.get("if_missing")
    if im not in IF_MISSING:
        raise ProtocolError(
            f"criterion {cid!r}, field 'if_missing': one of {list(IF_MISSING)}, got {im!r}",
            criterion=cid,
            field="if_missing",
        )
    label = item.get("label")
    if not isinstance(label, str) or not label:
        raise ProtocolError(
            f"criterion {cid!r}, field 'label': required", criterion=cid, field="label"
        )
    rule_obj = parser.rule(item["rule"], cid)
    check_when_in_inclusion(cid, section, rule_obj)
    return Criterion(
        cid,
        section,
        label,
        as_lines(item.get("source"), cid, "source"),
        rule_obj,
        im,
        item.get("notes"),
    )


def parse_protocol(
    data: dict,
    *,
    path: Path | None = None,
    fingerprint: str = "",
    codelist_dir: Path = CODELIST_DIR,
) -> Protocol:
    """Validate a protocol mapping (as read from YAML) and build a :class:`Protocol`."""
    data = _header(data)
    codes, drugs = load_codelists(codelist_dir)
    parser = RuleParser(codes, drugs)
    criteria: list[Criterion] = []
    assumptions: list[Assumption] = []
    seen: set[str] = set()
    items: list[str] = []
    for n, item in enumerate(data["eligibility"] or []):
        cid = _item_id(item, n, seen)
        seen.add(cid)
        items.append(cid)
        section = item.get("section")
        if section not in ("inclusion", "exclusion"):
            raise ProtocolError(
                f"criterion {cid!r}, field 'section': inclusion or exclusion, got {section!r}",
                criterion=cid,
                field="section",
            )
        if "rule" in item and "pass_rate" in item:
            raise ProtocolError(
                f"criterion {cid!r}: an item has either rule or pass_rate",
                criterion=cid,
                field="rule",
            )
        if "rule" in item:
            criteria.append(_criterion(item, cid, section, parser))
        elif "pass_rate" in item or "same_as" in item:
            assumptions.append(_assumption(item, cid, section, assumptions))
        else:
            raise ProtocolError(
                f"item {cid!r} has neither rule nor pass_rate", criterion=cid, field="rule"
            )
    # references must name criteria and must not form cycles
    graph = reference_graph(criteria)
    check_references(graph)
    check_acyclic(graph)
    steps = check_steps(data["steps"], graph)
    target = data.get("target_enrolment")
    if target is not None and (
        isinstance(target, bool) or not isinstance(target, int) or not 1 <= target <= MAX_TARGET
    ):
        raise ProtocolError(
            f"target_enrolment expects a whole number of patients from 1 to 100000, got {target!r}",
            field="target_enrolment",
        )
    return Protocol(
        id=str(data["id"]),
        title=str(data["title"]),
        path=path,
        fingerprint=fingerprint,
        criteria=tuple(criteria),
        steps=steps,
        assumptions=tuple(assumptions),
        registration=data.get("registration"),
        items=tuple(items),
        target_enrolment=target,
    )


def available_protocols() -> list[str]:
    """Ids of the protocol files shipped with the package."""
    return sorted(p.stem for p in PROTOCOL_DIR.glob("*.yaml"))


def load_protocol(ref: str | Path) -> Protocol:
    """Load a protocol by id (a file in ``feasibility/protocols``) or by path.

    The file is read by :func:`feasibility.protocol.safe_yaml.read_protocol_yaml`: a small UTF-8
    YAML file without aliases; anything else is a :class:`ProtocolError`."""
    path = Path(ref)
    if not (path.suffix in (".yaml", ".yml") and path.exists()):
        candidate = PROTOCOL_DIR / f"{ref}.yaml"
        if candidate.exists():
            path = candidate
        elif path.exists():
            pass
        else:
            raise ProtocolError(
                f"no protocol {str(ref)!r}: not a file and not one of {available_protocols()}",
                field="id",
            )
    data, raw = read_protocol_yaml(path)
    return parse_protocol(data, path=path, fingerprint=hashlib.sha256(raw).hexdigest())
