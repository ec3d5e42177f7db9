"""Read a protocol file's YAML safely: a protocol is a small, hand-written file.

A hostile or broken file must end in one :class:`~feasibility.errors.ProtocolError`
line, never in exhausted memory, a recursion error or a decoding traceback:

* the path must be a regular file of at most :data:`MAX_BYTES`;
* the text must be UTF-8 (the error names the byte offset);
* anchors and aliases (``&a`` / ``*a``) are refused: they are how a "billion laughs"
  file expands a few lines into gigabytes, and no protocol needs them;
* at most :data:`MAX_NODES` nodes, nested at most :data:`MAX_DEPTH` deep;
* numbers follow YAML 1.2: ``1e308`` is a number (PyYAML's YAML 1.1 would read it as
  text), while ``.nan`` and ``.inf`` still parse and are refused later as not finite.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from feasibility.errors import ProtocolError

#: Largest protocol file accepted (the shipped ones are under 20 KB).
MAX_BYTES = 1 << 20
#: Most YAML nodes (scalars, lists, mappings) in one protocol file.
MAX_NODES = 50_000
#: Deepest nesting of lists and mappings.
MAX_DEPTH = 40

#: Exponent floats without a dot (``1e308``), which YAML 1.1 leaves as text.
_FLOAT_12 = re.compile(r"^[-+]?(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)[eE][-+]?\d+$")


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader without aliases, with node and depth limits and YAML 1.2 floats."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._nodes = 0
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:  # noqa: D102 - PyYAML hook
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise ProtocolError(
                f"line {event.start_mark.line + 1}: YAML aliases (*{event.anchor}) are not "
                "allowed in a protocol file; write the value out",
                field="file",
            )
        event = self.peek_event()
        if getattr(event, "anchor", None):
            raise ProtocolError(
                f"line {event.start_mark.line + 1}: YAML anchors (&{event.anchor}) are not "
                "allowed in a protocol file; write the value out",
                field="file",
            )
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise ProtocolError(
                f"more than {MAX_NODES:,} YAML nodes: too large for a protocol file",
                field="file",
            )
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise ProtocolError(
                    f"line {event.start_mark.line + 1}: nested more than {MAX_DEPTH} levels "
                    "deep: too deep for a protocol file",
                    field="file",
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


_StrictLoader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_12, list("-+0123456789."))


def read_protocol_yaml(path: Path) -> tuple[Any, bytes]:
    """The parsed YAML of the protocol file at ``path`` and its bytes (for the fingerprint).

    Raises :class:`ProtocolError` (``field="file"``) for anything that is not a small
    UTF-8 YAML file without aliases.
    """
    if path.is_dir():
        raise ProtocolError(
            f"protocol {str(path)!r} is a directory; give a YAML file", field="file"
        )
    if not path.is_file():
        raise ProtocolError(
            f"protocol {str(path)!r} is not a regular file; give a YAML file", field="file"
        )
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise ProtocolError(
            f"{path}: {size:,} bytes is too large for a protocol file (at most {MAX_BYTES:,})",
            field="file",
        )
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ProtocolError(f"{path}: cannot read: {exc.strerror or exc}", field="file") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProtocolError(
            f"{path}: not UTF-8 text (byte {exc.start}); save the protocol file as UTF-8",
            field="file",
        ) from None
    try:
        loader = _StrictLoader(text)
        try:
            data = loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        detail = " ".join(str(exc).split())
        raise ProtocolError(f"{path}: not valid YAML: {detail}", field="file") from None
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. a timestamp 2024-13-45
        raise ProtocolError(f"{path}: not valid YAML: {exc}", field="file") from None
    except RecursionError:
        raise ProtocolError(f"{path}: nested too deep for a protocol file", field="file") from None
    return data, raw


__all__ = ["MAX_BYTES", "MAX_DEPTH", "MAX_NODES", "read_protocol_yaml"]
