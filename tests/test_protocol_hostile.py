"""Hostile protocol files (issue 10, point 2): strict types, bounds, reserved ids, aliases,
encoding and paths all end in one ProtocolError naming the field, never a traceback."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from feasibility.cli import main
from feasibility.errors import ProtocolError
from feasibility.protocol import PROTOCOL_DIR, load_protocol, parse_protocol
from feasibility.protocol.safe_yaml import MAX_BYTES, MAX_DEPTH

POM = PROTOCOL_DIR / "pomalidomide-ixazomib-dex.yaml"


def _data() -> dict:
    return yaml.safe_load(POM.read_text(encoding="utf-8"))


def _item(data: dict, cid: str) -> dict:
    return next(i for i in data["eligibility"] if i["id"] == cid)


def _write(tmp_path: Path, text: str, name: str = "p.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _pom_text_with(old: str, new: str) -> str:
    text = POM.read_text(encoding="utf-8")
    assert old in text, old
    return text.replace(old, new, 1)


@pytest.mark.parametrize(
    ("cid", "key", "value"),
    [
        ("concurrent_therapy", "investigational", "false"),
        ("concurrent_therapy", "ongoing", "yes"),
        ("cyp_interacting_drugs", "systemic_only", "false"),
        ("cyp_interacting_drugs", "systemic_only", 0),
    ],
)
def test_booleans_must_be_yaml_booleans(cid, key, value):
    data = _data()
    ((kind, body),) = _item(data, cid)["rule"].items()
    body[key] = value
    with pytest.raises(ProtocolError) as exc:
        parse_protocol(data)
    assert exc.value.criterion == cid
    assert exc.value.field == f"rule.{kind}.{key}"
    assert "true or false" in str(exc.value)


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf", "1e999"])
def test_non_finite_thresholds_are_refused(tmp_path, value):
    text = _pom_text_with("value: 8.0", f"value: {value}")
    with pytest.raises(ProtocolError) as exc:
        load_protocol(_write(tmp_path, text))
    assert exc.value.criterion == "hemoglobin"
    assert exc.value.field == "rule.latest.value"
    assert "finite" in str(exc.value)


def test_exponent_without_dot_is_a_number(tmp_path):
    # YAML 1.1 reads 1e308 as text; a protocol reads it as the number it looks like
    text = _pom_text_with("value: 8.0", "value: 8e0")
    p = load_protocol(_write(tmp_path, text))
    assert p.criterion("hemoglobin").threshold[2] == 8.0
    big = load_protocol(_write(tmp_path, _pom_text_with("value: 8.0", "value: 1e308"), "b.yaml"))
    assert big.criterion("hemoglobin").threshold[2] == 1e308


def test_threshold_overflowing_in_canonical_unit_is_refused():
    data = _data()
    _item(data, "platelets")["rule"]["latest"].update(value=1e308, unit="10^9/L")
    with pytest.raises(ProtocolError) as exc:
        parse_protocol(data)
    assert exc.value.field == "rule.latest.value"


@pytest.mark.parametrize(
    ("cid", "path", "value", "field"),
    [
        ("ecog", ("latest", "window"), "99999999999d", "rule.latest.window"),
        ("ecog", ("latest", "window"), 36526, "rule.latest.window"),
        ("cyp_interacting_drugs", ("medication", "overlap_days"), 10**12, None),
        ("extramedullary_disease", ("lesion", "min_diameter_cm"), 51.0, None),
        ("previously_treated", ("therapy", "min_line"), 10**9, None),
    ],
)
def test_windows_and_amounts_are_bounded(cid, path, value, field):
    data = _data()
    rule = _item(data, cid)["rule"]
    kind, key = path
    rule[kind][key] = value
    with pytest.raises(ProtocolError) as exc:
        parse_protocol(data)
    assert exc.value.criterion == cid
    assert exc.value.field == (field or f"rule.{kind}.{key}")


def test_age_bounded_to_a_human_lifetime():
    data = _data()
    item = _item(data, "nursing")
    item["rule"] = {"age": {"op": ">=", "value": 1000}}
    with pytest.raises(ProtocolError) as exc:
        parse_protocol(data)
    assert exc.value.field == "rule.age.value"


def test_window_of_100_years_is_accepted():
    data = _data()
    _item(data, "ecog")["rule"]["latest"]["window"] = "36525d"
    parse_protocol(data)


@pytest.mark.parametrize(
    "reserved", ["patient_id", "eligible", "index_date", "index_event", "registry"]
)
def test_reserved_ids_are_refused(reserved):
    data = _data()
    old = _item(data, "hiv")
    old["id"] = reserved
    data["steps"] = [reserved if s == "hiv" else s for s in data["steps"]]
    with pytest.raises(ProtocolError) as exc:
        parse_protocol(data)
    assert exc.value.criterion == reserved and exc.value.field == "id"
    assert "reserved" in str(exc.value)


@pytest.mark.parametrize("bad", ["has space", "1starts_with_digit", "x" * 65, "semi;colon"])
def test_criterion_ids_are_identifiers(bad):
    data = _data()
    _item(data, "hiv")["id"] = bad
    with pytest.raises(ProtocolError) as exc:
        parse_protocol(data)
    assert exc.value.field == "id"


@pytest.mark.parametrize(
    ("field", "value"), [("id", ["a"]), ("id", "../etc"), ("title", {"a": 1}), ("title", "")]
)
def test_protocol_id_and_title_are_text(field, value):
    data = _data()
    data[field] = value
    with pytest.raises(ProtocolError) as exc:
        parse_protocol(data)
    assert exc.value.field == field


@pytest.mark.parametrize(
    ("cid", "rule", "field"),
    [
        ("hiv", {"diagnosis": {"codes": {"a": 1}, "window": "ever"}}, "rule.diagnosis.codes"),
        ("hiv", {"diagnosis": {"codes": [""], "window": "ever"}}, "rule.diagnosis.codes"),
        ("hiv", {"diagnosis": {"codes": [["B20"]], "window": "ever"}}, "rule.diagnosis.codes"),
        ("major_surgery", {"procedure": {"category": ["x"], "window": "1d"}}, None),
        ("neutrophils", {"latest": {"test": ["anc"], "window": "1d", "op": ">", "value": 1}}, None),
        ("nursing", {"sex": {"in": [["F"]]}}, "rule.sex.in"),
        ("nursing", {"age": {"op": ">=", "value": 18, 1: 2}}, "rule.age"),
    ],
)
def test_unhashable_or_odd_values_name_the_field(cid, rule, field):
    data = _data()
    _item(data, cid)["rule"] = rule
    with pytest.raises(ProtocolError) as exc:
        parse_protocol(data)
    assert exc.value.criterion == cid
    if field:
        assert exc.value.field == field


def test_unhashable_step_is_refused():
    data = _data()
    data["steps"] = [["hiv"], *data["steps"]]
    with pytest.raises(ProtocolError) as exc:
        parse_protocol(data)
    assert exc.value.field == "steps"


BOMB = """\
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
id: *g
title: *g
"""


def test_yaml_alias_bomb_is_refused_at_once(tmp_path):
    with pytest.raises(ProtocolError) as exc:
        load_protocol(_write(tmp_path, BOMB))
    assert exc.value.field == "file"
    assert "anchor" in str(exc.value) or "alias" in str(exc.value)


def test_a_single_alias_is_refused_too(tmp_path):
    text = _pom_text_with("value: 8.0", "value: &eight 8.0")
    with pytest.raises(ProtocolError, match="anchors"):
        load_protocol(_write(tmp_path, text))


def test_deep_nesting_and_huge_files_are_refused(tmp_path):
    deep = "id: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5) + "\n"
    with pytest.raises(ProtocolError, match="nested"):
        load_protocol(_write(tmp_path, deep, "deep.yaml"))
    huge = tmp_path / "huge.yaml"
    huge.write_bytes(b"# " + b"x" * MAX_BYTES + b"\n")
    with pytest.raises(ProtocolError, match="too large"):
        load_protocol(huge)


def test_non_utf8_file_is_named(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(
        POM.read_text(encoding="utf-8")
        .replace("Pomalidomide", "Pomalidomidé")
        .encode("latin-1", "replace")
    )
    with pytest.raises(ProtocolError, match="not UTF-8") as exc:
        load_protocol(path)
    assert exc.value.field == "file"


def test_directory_is_not_a_protocol(tmp_path):
    folder = tmp_path / "dir.yaml"
    folder.mkdir()
    with pytest.raises(ProtocolError, match="directory"):
        load_protocol(folder)


def test_invalid_timestamp_is_a_yaml_error(tmp_path):
    text = _pom_text_with("value: 8.0", "value: 2024-13-45")
    with pytest.raises(ProtocolError, match="not valid YAML"):
        load_protocol(_write(tmp_path, text))


def test_cli_names_the_protocol_problem_in_one_line(tmp_path, capsys):
    data = copy.deepcopy(_data())
    _item(data, "concurrent_therapy")["rule"]["therapy"]["investigational"] = "false"
    path = _write(tmp_path, yaml.safe_dump(data, sort_keys=False))
    code = main(
        ["screen", "--data", str(tmp_path / "nodata"), "--protocol", str(path),
         "--index-date", "2024-06-30", "--out", str(tmp_path / "out"), "--quiet"]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert "concurrent_therapy" in err and "investigational" in err
    assert not (tmp_path / "out").exists()
