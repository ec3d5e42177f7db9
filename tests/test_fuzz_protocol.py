"""Fuzz protocol files (issue 10 points 2 and 6): whatever the file holds, loading it gives a
Protocol or one ProtocolError naming a field -- never another exception -- and the CLI
ends with exit 0 or exit 2 and one line."""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

import pytest
import yaml
from _registry_helpers import write_registry
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from feasibility.cli import UNEXPECTED, main
from feasibility.errors import ProtocolError
from feasibility.protocol import PROTOCOL_DIR, Protocol, load_protocol, parse_protocol

POM = PROTOCOL_DIR / "pomalidomide-ixazomib-dex.yaml"
TOKENS = [
    ".nan", ".inf", "-.inf", "1e308", "1e999", "-1", "0", "99999999999d", "99999999999",
    '"false"', '"true"', "false", "yes", "null", "~", "[]", "{}", "[[F]]", "{a: 1}",
    "*nothing", "&a x", "patient_id", "eligible", "index_event", "2024-13-45", "'30d'",
    "!!python/object:os.system", "\"\\x00\"", "ever", "30d", "-3d", "x" * 300,
]  # fmt: skip


def fuzz(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )


def _mutate_text(text: str, seed: int, n: int) -> str:
    """Replace ``n`` scalar values of the protocol text with hostile tokens."""
    rng = random.Random(seed)
    lines = text.splitlines()
    candidates = [
        i for i, line in enumerate(lines) if ": " in line and not line.lstrip().startswith("#")
    ]
    for i in rng.sample(candidates, min(n, len(candidates))):
        line = lines[i]
        if "{" in line:  # a flow mapping such as rule: {latest: {..., value: 8.0}}
            parts = line.split(": ")
            j = rng.randrange(1, len(parts))
            tail = parts[j]
            cut = min([k for k in (tail.find(","), tail.find("}")) if k >= 0], default=len(tail))
            parts[j] = rng.choice(TOKENS) + tail[cut:]
            lines[i] = ": ".join(parts)
        else:
            key = line.split(": ", 1)[0]
            lines[i] = f"{key}: {rng.choice(TOKENS)}"
    return "\n".join(lines) + "\n"


def _load_or_refuse(path: Path) -> Protocol | ProtocolError:
    try:
        return load_protocol(path)
    except ProtocolError as exc:
        assert "\n" not in str(exc).strip() or exc.field == "file", str(exc)
        return exc


@fuzz(80)
@given(seed=st.integers(0, 2**31), n=st.integers(1, 4))
def test_mutated_protocol_files_load_or_fail_cleanly(seed, n):
    text = _mutate_text(POM.read_text(encoding="utf-8"), seed, n)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "p.yaml"
        path.write_text(text, encoding="utf-8")
        outcome = _load_or_refuse(path)
    if isinstance(outcome, Protocol):
        for c in outcome.criteria:
            threshold = c.threshold
            if threshold is not None:
                assert threshold[2] == threshold[2], "a NaN threshold was accepted"


yaml_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(["patient_id", "eligible", "30d", "ever", "hemoglobin", "F"]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "id",
                    "rule",
                    "value",
                    "op",
                    "in",
                    "latest",
                    "all",
                    "not",
                    "window",
                    "test",
                    "section",
                    "label",
                ]
            ),
            children,
            max_size=4,
        )
    ),  # fmt: skip
    max_leaves=20,
)


@fuzz(80)
@given(criterion=st.sampled_from(["hemoglobin", "ecog", "hiv", "concurrent_therapy"]),
       field=st.sampled_from(["rule", "id", "section", "if_missing", "label", "source"]),
       value=yaml_values)  # fmt: skip
def test_any_value_in_any_field_is_parsed_or_refused(criterion, field, value):
    data = yaml.safe_load(POM.read_text(encoding="utf-8"))
    item = next(i for i in data["eligibility"] if i["id"] == criterion)
    item[field] = value
    try:
        parse_protocol(data)
    except ProtocolError as exc:
        assert exc.field is not None


@fuzz(40)
@given(top=st.sampled_from(["id", "title", "eligibility", "steps"]), value=yaml_values)
def test_any_top_level_value_is_parsed_or_refused(top, value):
    data = yaml.safe_load(POM.read_text(encoding="utf-8"))
    data[top] = value
    try:
        parse_protocol(data)
    except ProtocolError:
        pass


@pytest.fixture(scope="module")
def tiny_registry(tmp_path_factory) -> Path:
    return write_registry(tmp_path_factory.mktemp("reg") / "r", {})


@fuzz(25)
@given(seed=st.integers(0, 2**31), n=st.integers(1, 3))
def test_cli_with_mutated_protocol_ends_cleanly(tiny_registry, capsys, seed, n):
    text = _mutate_text(POM.read_text(encoding="utf-8"), seed, n)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "p.yaml"
        path.write_text(text, encoding="utf-8")
        out = Path(tmp) / "out"
        code = main(["screen", "--data", str(tiny_registry), "--protocol", str(path),
                     "--index-date", "2024-06-30", "--out", str(out), "--quiet"])  # fmt: skip
        lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
        assert code in (0, 2), lines
        assert not any(UNEXPECTED in line for line in lines)
        if code == 2:
            assert len(lines) == 1, lines
            assert lines[0].startswith("feasibility screen: error: "), lines
            assert not out.exists()
        else:
            assert (out / "patient_status.csv").exists()
